package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestNewFromRev builds a repository whose main branch has a leak, then a
// branch that adds a leak to the same file and one in a new package. Only
// the two new leaks are reported and fixed, with --new-from-rev and with
// --new-from-patch on the branch's diff.
func TestNewFromRev(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	leak := func(typ string) string {
		return `
type ` + typ + ` struct{ n int }

func New` + typ + `() *` + typ + ` {
	x := &` + typ + `{}
	go func() {
		for range time.Tick(time.Second) {
			x.n++
		}
	}()
	return x
}
`
	}
	old := "package a\n\nimport \"time\"\n" + leak("Old")
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "a/a.go"), old)
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "old leak")
	git("checkout", "-q", "-b", "feature")
	golden.WriteFile(t, filepath.Join(dir, "a/a.go"), old+leak("Same"))
	golden.WriteFile(t, filepath.Join(dir, "b/b.go"), "package b\n\nimport \"time\"\n"+leak("Other"))
	git("add", ".")
	git("commit", "-q", "-m", "new leaks")
	patch := filepath.Join(t.TempDir(), "pr.patch")
	golden.WriteFile(t, patch, git("diff", "main"))

	all, code := leakfix(t, dir, "check")
	if code != exitFindings || strings.Count(all, "\n") != 3 {
		t.Fatalf("check without a filter: exit %d\n%s", code, all)
	}
	want := "a/a.go:21:2: unstoppable-loop: goroutine started in NewSame ticks forever with no way to stop it\n" +
		"b/b.go:9:2: unstoppable-loop: goroutine started in NewOther ticks forever with no way to stop it\n"
	// main moves on after the branch: --new-from-merge-base still speaks of
	// the branch's own leaks only.
	git("checkout", "-q", "main")
	golden.WriteFile(t, filepath.Join(dir, "a/a.go"), strings.Replace(old, "x.n++", "x.n += 1", 1))
	git("commit", "-q", "-am", "main moves on")
	git("checkout", "-q", "feature")
	for _, flag := range []string{"--new-from-merge-base=main", "--new-from-patch=" + patch} {
		got, code := leakfix(t, dir, "check", flag)
		if got != want || code != exitFindings {
			t.Errorf("check %s: exit %d\n%s\nwant:\n%s", flag, code, got, want)
		}
	}
	// Against main itself, the line main changed in the old leak reads as
	// changed by the branch.
	if got, _ := leakfix(t, dir, "check", "--new-from-rev=main"); !strings.Contains(got, "NewOld") {
		t.Errorf("check --new-from-rev=main after main moved on: the old leak's line differs from main, so it should count:\n%s", got)
	}
	if got, code := leakfix(t, dir, "check", "--new-from-rev=HEAD"); got != "" || code != exitOK {
		t.Errorf("check --new-from-rev=HEAD on a clean tree: exit %d\n%s", code, got)
	}

	// fix fixes the branch's leaks only: the old one is still reported after.
	leakfix(t, dir, "fix", "--new-from-merge-base=main")
	got, _ := leakfix(t, dir, "check")
	// The import block grew by three lines.
	if want := "a/a.go:12:2: unstoppable-loop: goroutine started in NewOld ticks forever with no way to stop it\n"; got != want {
		t.Errorf("check after fix --new-from-merge-base:\n%s\nwant:\n%s", got, want)
	}

	var stdout, stderr bytes.Buffer
	if code := Main([]string{"check", "-C", dir, "--new-from-rev=nope"}, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "nope") {
		t.Errorf("bad revision: exit %d, stderr %q", code, stderr.String())
	}

	// A patch that holds no diff hides every finding: it is an error.
	for content, want := range map[string]string{
		"":                      "empty.patch: the patch is empty; for a change that may be empty, use --new-from-rev",
		"fatal: bad revision\n": "empty.patch: line 1: not a unified diff",
	} {
		bad := filepath.Join(t.TempDir(), "empty.patch")
		golden.WriteFile(t, bad, content)
		stdout.Reset()
		stderr.Reset()
		if code := Main([]string{"check", "-C", dir, "--new-from-patch=" + bad}, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), want) {
			t.Errorf("--new-from-patch with %q: exit %d, stderr %q, want exit 2 and %q", content, code, stderr.String(), want)
		}
	}
}
