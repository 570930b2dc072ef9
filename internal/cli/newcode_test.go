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
	for _, flag := range []string{"--new-from-rev=main", "--new-from-patch=" + patch} {
		got, code := leakfix(t, dir, "check", flag)
		if got != want || code != exitFindings {
			t.Errorf("check %s: exit %d\n%s\nwant:\n%s", flag, code, got, want)
		}
	}
	if got, code := leakfix(t, dir, "check", "--new-from-rev=HEAD"); got != "" || code != exitOK {
		t.Errorf("check --new-from-rev=HEAD on a clean tree: exit %d\n%s", code, got)
	}

	// fix fixes the new leaks only: the old one is still reported after.
	leakfix(t, dir, "fix", "--new-from-rev=main")
	got, _ := leakfix(t, dir, "check")
	// The import block grew by three lines.
	if want := "a/a.go:12:2: unstoppable-loop: goroutine started in NewOld ticks forever with no way to stop it\n"; got != want {
		t.Errorf("check after fix --new-from-rev:\n%s\nwant:\n%s", got, want)
	}

	var stdout, stderr bytes.Buffer
	if code := Main([]string{"check", "-C", dir, "--new-from-rev=nope"}, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "nope") {
		t.Errorf("bad revision: exit %d, stderr %q", code, stderr.String())
	}
}
