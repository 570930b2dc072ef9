package golangci

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/internal/golden"
)

// golangciVersion is the golangci-lint the README's .custom-gcl.yml names.
const golangciVersion = "v2.15.0"

// The custom binary's sources, as golangci-lint custom writes them: its own
// cmd/golangci-lint/main.go (reduced to what it needs) and a plugins.go
// holding a blank import of each plugin.
const (
	customMain = `package main

import (
	"fmt"
	"os"

	"github.com/golangci/golangci-lint/v2/pkg/commands"
	"github.com/golangci/golangci-lint/v2/pkg/exitcodes"
)

func main() {
	if err := commands.Execute(commands.BuildInfo{Version: "custom"}); err != nil {
		fmt.Fprintf(os.Stderr, "The command is terminated due to an error: %v\n", err)
		os.Exit(exitcodes.Failure)
	}
}
`
	customPlugins = `package main

import _ "github.com/leakfix/leakfix/analyzer/golangci"
`
)

// TestCustomBinary builds golangci-lint with the plugin through the module
// proxy, as golangci-lint custom does with a plugin given by path (a
// replace directive for the module, go mod tidy, go build), and runs it on
// testdata/fixture: one issue per finding, none for related locations or
// for a finding //nolint hides, the bad ignore comment told on its
// finding's line; run --fix writes the golden file and leaves no issue it
// fixed, and a run after it reports only the ignore comment.
//
// The build takes minutes (a cold module cache downloads golangci-lint's
// dependencies); .ci/run warms the caches first.
func TestCustomBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds golangci-lint")
	}
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOLANGCI_LINT_CACHE="+t.TempDir())
	// The proxy (or a module cache that already holds golangci-lint).
	probe, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dl := exec.CommandContext(probe, "go", "mod", "download", "-json", "github.com/golangci/golangci-lint/v2@"+golangciVersion)
	dl.Env, dl.Dir = env, t.TempDir()
	if out, err := dl.CombinedOutput(); err != nil {
		t.Skipf("golangci-lint %s cannot be downloaded (no module proxy?): %v\n%s", golangciVersion, err, out)
	}

	build := t.TempDir()
	golden.WriteFile(t, filepath.Join(build, "main.go"), customMain)
	golden.WriteFile(t, filepath.Join(build, "plugins.go"), customPlugins)
	golden.WriteFile(t, filepath.Join(build, "go.mod"), "module example.com/custom-gcl\n\ngo 1.26.0\n\nrequire github.com/golangci/golangci-lint/v2 "+golangciVersion+"\n")
	bin := filepath.Join(build, "custom-gcl")
	for _, args := range [][]string{
		{"mod", "edit", "-replace", "github.com/leakfix/leakfix=" + root},
		{"mod", "tidy"},
		{"build", "-o", bin, "."},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Env, cmd.Dir = env, build
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	dir := t.TempDir()
	src := golden.ReadFile(t, "testdata/fixture/cache.go")
	golden.WriteFile(t, filepath.Join(dir, "cache.go"), src)
	golden.WriteFile(t, filepath.Join(dir, ".golangci.yml"), golden.ReadFile(t, "testdata/fixture/golangci.yml"))
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), "module example.com/fixture\n\ngo 1.26\n")
	lint := func(args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, bin, append(args, "./...")...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("golangci-lint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("golangci-lint %s (exit %d):\n%s", strings.Join(args, " "), code, out)
		return string(out), code
	}
	issues := func(out string) []string {
		return regexp.MustCompile(`(?m)^cache\.go:\d+:\d+: .*\(leakfix\)$`).FindAllString(out, -1)
	}

	out, code := lint("run")
	want := []string{
		"cache.go:22:2: goroutine started in New ticks forever with no way to stop it (leakfix)",
		"cache.go:28:2: goroutine started in New sleeps and wakes forever with no way to stop it (leakfix)",
		"cache.go:70:2: goroutine started in NewFlusher ticks forever with no way to stop it; invalid-ignore: //leakfix:ignore needs a reason saying why the work may run forever; it suppresses nothing (leakfix)",
	}
	if got := issues(out); code != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("run: exit %d, issues:\n%s\nwant exit 1 and:\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	out, code = lint("run", "--fix")
	if got := issues(out); code != 0 || len(got) > 0 {
		t.Errorf("run --fix: exit %d, issues:\n%s\nwant exit 0 and none", code, strings.Join(got, "\n"))
	}
	fixed := golden.ReadFile(t, filepath.Join(dir, "cache.go"))
	if *golden.Update {
		golden.WriteFile(t, "testdata/fixture/cache.go.golden", fixed)
	} else if want := golden.ReadFile(t, "testdata/fixture/cache.go.golden"); fixed != want {
		t.Errorf("run --fix wrote:\n%s", udiff.Unified("cache.go.golden", "cache.go", want, fixed))
	}

	out, code = lint("run")
	want = []string{"cache.go:103:17: //leakfix:ignore needs a reason saying why the work may run forever; it suppresses nothing (leakfix)"}
	if got := issues(out); code != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("run after --fix: exit %d, issues:\n%s\nwant exit 1 and:\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
