// Package scripts holds the test of leakfix-review.sh, the script the
// GitHub Action runs.
package scripts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewScript runs leakfix-review.sh with reviewdog's local reporter
// on a branch that adds a ticking goroutine to an existing constructor,
// in a repository whose base already has an older leak. It checks what
// reviewdog prints: with -filter-mode=added, the fix's edits on lines the
// branch added, each as a diagnostic on its own lines with one suggestion;
// with nofilter, every edit; never the old leak. It also runs reviewdog
// -f=diff on leakfix diff, the other way to feed it.
func TestReviewScript(t *testing.T) {
	reviewdog := lookReviewdog(t)
	for _, tool := range []string{"git", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	bin := t.TempDir()
	leakfix := filepath.Join(bin, "leakfix")
	if out, err := exec.Command("go", "build", "-o", leakfix, "../cmd/leakfix").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script, err := filepath.Abs("leakfix-review.sh")
	if err != nil {
		t.Fatal(err)
	}

	dir := repo(t)
	run := func(name string, env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, stderr)
		}
		return string(out)
	}
	env := []string{"LEAKFIX=" + leakfix, "REVIEWDOG=" + reviewdog, "LEAKFIX_BASE=main", "REVIEWDOG_REPORTER=local", "GITHUB_STEP_SUMMARY="}

	// The lines the branch added: the comment and the go statement, 28-33.
	added := func(line int) bool { return line >= 28 && line <= 33 }

	kept := diagnostics(t, run(script, append(env, "REVIEWDOG_FILTER_MODE=added")))
	if len(kept) != 2 {
		t.Fatalf("reviewdog kept %d diagnostics in added mode, want 2 (the edits of the added lines)", len(kept))
	}
	for _, d := range kept {
		s := d.Suggestions[0]
		if d.Location.Path != "voice/server.go" || !added(s.Range.Start.Line) || d.Location.Range.Start.Line != s.Range.Start.Line {
			t.Errorf("diagnostic %q at %s:%d, suggestion at line %d", d.Message, d.Location.Path, d.Location.Range.Start.Line, s.Range.Start.Line)
		}
	}
	if !strings.Contains(kept[0].Suggestions[0].Text, "ctx, cancel := context.WithCancel(context.Background())") ||
		!strings.Contains(kept[1].Suggestions[0].Text, "case <-ctx.Done():") {
		t.Errorf("suggestions:\n%s\n%s", kept[0].Suggestions[0].Text, kept[1].Suggestions[0].Text)
	}

	all := diagnostics(t, run(script, append(env, "REVIEWDOG_FILTER_MODE=nofilter")))
	if len(all) != 5 {
		t.Errorf("reviewdog printed %d diagnostics in nofilter mode, want 5: the import, the struct, two in NewServer, Shutdown", len(all))
	}
	for _, d := range all {
		if d.Location.Path != "voice/server.go" || !strings.Contains(d.Message, "NewServer") {
			t.Errorf("unexpected diagnostic %q at %s", d.Message, d.Location.Path)
		}
	}

	// reviewdog -f=diff reads leakfix diff's unified diff and, with the
	// local reporter, prints the patch lines that fall on added lines.
	patch := filepath.Join(t.TempDir(), "fix.diff")
	cmd := exec.Command(leakfix, "diff", "--new-from-rev", "main")
	cmd.Dir = dir
	out, _ := cmd.Output() // exit 1: the diff is not empty
	if err := os.WriteFile(patch, out, 0o644); err != nil {
		t.Fatal(err)
	}
	got := run("bash", nil, "-c", reviewdog+` -f=diff -f.diff.strip=1 -name=leakfix -reporter=local -filter-mode=added -diff="git diff main" < `+patch)
	if !strings.Contains(got, "voice/server.go:31:+\tctx, cancel := context.WithCancel(context.Background())\n") ||
		strings.Contains(got, "bridge.go") || strings.Contains(got, "Shutdown") {
		t.Errorf("reviewdog -f=diff printed:\n%s", got)
	}
}

type diagnostic struct {
	Message  string
	Location struct {
		Path  string
		Range struct{ Start struct{ Line int } }
	}
	Suggestions []struct {
		Range struct{ Start struct{ Line int } }
		Text  string
	}
}

// diagnostics parses what reviewdog's local reporter printed: the rdjsonl
// lines it kept.
func diagnostics(t *testing.T, out string) []diagnostic {
	t.Helper()
	var ds []diagnostic
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var d diagnostic
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		if len(d.Suggestions) != 1 {
			t.Errorf("diagnostic with %d suggestions: %s", len(d.Suggestions), line)
		}
		ds = append(ds, d)
	}
	return ds
}

// lookReviewdog finds reviewdog on PATH or in GOPATH/bin, or skips.
func lookReviewdog(t *testing.T) string {
	if p, err := exec.LookPath("reviewdog"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "reviewdog")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("reviewdog not installed (go install github.com/reviewdog/reviewdog/cmd/reviewdog@v0.21.0)")
	return ""
}

// repo makes a git repository whose main branch holds the voice example
// with NewServer starting nothing (and bridge.go's older leak), and a
// checked-out branch that adds the ticking goroutine to NewServer.
func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name string, content []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "examples", "voice", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	server := read("server.go")
	goroutine := "\t// Sweep idle sessions for as long as the server lives.\n\tgo func() {\n\t\tfor range time.Tick(time.Minute) {\n\t\t\ts.cleanupInactiveSessions()\n\t\t}\n\t}()\n"
	if !strings.Contains(string(server), goroutine) {
		t.Fatal("examples/voice/server.go no longer has the goroutine this test removes")
	}
	write("go.mod", []byte("module example.com/review\n\ngo 1.26\n"))
	write("voice/bridge.go", read("bridge.go"))
	write("voice/server.go", []byte(strings.Replace(string(server), goroutine, "", 1)))
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "voice server")
	git("checkout", "-q", "-b", "sweep")
	write("voice/server.go", server)
	git("commit", "-q", "-am", "sweep idle sessions")
	return dir
}
