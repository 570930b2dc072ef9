package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/internal/version"
)

// TestFlags checks that flags reach the engine options, without loading
// any package.
func TestFlags(t *testing.T) {
	tests := []struct {
		args      []string
		patterns  []string
		tests     bool
		rules     []string
		dir       string
		build     []string
		fix, wrt  bool   // ModeDiff, ModeFix
		format    string // "" = text
		edits     bool
		platforms []string
		untrusted bool
		report    string
		wantError string
	}{
		{args: []string{"check"}},
		{args: []string{"check", "./a/...", "b"}, patterns: []string{"./a/...", "b"}},
		{args: []string{"check", "--tests", "--rules=unstoppable-loop", "-C", "x"}, tests: true, rules: []string{"unstoppable-loop"}, dir: "x"},
		{args: []string{"diff", "--tags", "integration,linux"}, build: []string{"-tags=integration,linux"}, fix: true},
		{args: []string{"fix"}, wrt: true},
		{args: []string{"fix", "--report", "r.md", "--untrusted", "--platforms", "linux/amd64,windows/amd64"}, wrt: true,
			report: "r.md", untrusted: true, platforms: []string{"linux/amd64", "windows/amd64"}},
		{args: []string{"check", "--report", "r.md"}, wantError: "unknown flag: --report"},
		{args: []string{"check", "--frobnicate"}, wantError: "unknown flag: --frobnicate"},
		{args: []string{"check", "--format=sarif"}, format: "sarif", fix: true, edits: true},
		{args: []string{"diff", "--format", "rdjsonl"}, format: "rdjsonl", fix: true, edits: true},
		{args: []string{"check", "--format=xml"}, wantError: `unknown format "xml"`},
		{args: []string{"check", "--new-from-rev=main", "--new-from-patch=p"}, wantError: "none of the others can be"},
		{args: []string{"fix", "--format=json"}, wantError: "unknown flag: --format"},
		{args: []string{"check", "-f", "json"}, format: "json", fix: true, edits: true},
		{args: []string{"diff", "-fgithub"}, format: "github", fix: true, edits: true},
		{args: []string{"check", "--rules=-global-hook,-unstopped-ticker"}, rules: []string{"-global-hook", "-unstopped-ticker"}},
		{args: []string{"check", "--new-from-merge-base=main", "--new-from-rev=main"}, wantError: "none of the others can be"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *Options
			capture := func(o *Options) error { got = o; return nil }
			var stdout, stderr bytes.Buffer
			root := NewRoot(&stdout, &stderr, &Runners{Check: capture, Fix: capture, Diff: capture})
			root.SetArgs(tt.args)
			err := root.Execute()
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := got.Engine
			if !reflect.DeepEqual(got.Patterns, tt.patterns) && !(len(got.Patterns) == 0 && len(tt.patterns) == 0) {
				t.Errorf("patterns %q, want %q", got.Patterns, tt.patterns)
			}
			if tt.format == "" && got.Format != "text" && got.Format != "" || tt.format != "" && got.Format != tt.format {
				t.Errorf("format %q, want %q", got.Format, tt.format)
			}
			mode := engine.ModeCheck
			if tt.fix {
				mode = engine.ModeDiff
			}
			if tt.wrt {
				mode = engine.ModeFix
			}
			if e.Tests != tt.tests || e.Dir != tt.dir || e.Mode != mode || e.Edits != tt.edits ||
				!reflect.DeepEqual(e.Rules, tt.rules) || !reflect.DeepEqual(e.BuildFlags, tt.build) ||
				!reflect.DeepEqual(e.Platforms, tt.platforms) || e.Untrusted != tt.untrusted || got.Report != tt.report {
				t.Errorf("engine options %+v", e)
			}
		})
	}
}

// TestExitStatus runs the real commands on small modules and checks what a
// script relies on: the exit status, and where findings and errors go.
//
// The cases from "type error" on are bad input: each gets a positioned
// message on standard error, exit status 2, and the rest of the run goes
// on (the leaky package beside it is still reported or fixed).
func TestExitStatus(t *testing.T) {
	leaky := golden.Leaky("leaky")
	tests := []struct {
		name         string
		files        map[string]string
		args         []string
		code         int
		stdout       string                         // a substring of standard output ("" = must be empty)
		notStdout    string                         // not a substring of standard output
		notStderr    string                         // not a substring of standard error
		noMod        bool                           // write no go.mod
		stderr       string                         // a substring of standard error
		changed      []string                       // files fix must have rewritten
		setup        func(t *testing.T, dir string) // e.g. take permissions away
		unprivileged bool                           // run without the power to ignore file permissions
		sub          string                         // the directory to run in, below the module's
	}{
		{name: "clean", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check"}, code: 0},
		{name: "findings", files: map[string]string{"leaky/l.go": leaky}, args: []string{"check"}, code: 1,
			stdout: "leaky/l.go:9:2: unstoppable-loop: goroutine started in New ticks forever"},
		{name: "diff", files: map[string]string{"leaky/l.go": leaky}, args: []string{"diff"}, code: 1,
			stdout: "--- a/leaky/l.go\n+++ b/leaky/l.go\n"},
		{name: "json", files: map[string]string{"leaky/l.go": leaky}, args: []string{"check", "--format=json"}, code: 1,
			stdout: `"file": "leaky/l.go",`},
		{name: "diff as rdjsonl", files: map[string]string{"leaky/l.go": leaky}, args: []string{"diff", "--format=rdjsonl"}, code: 1,
			stdout: `"suggestions":[{"range":`},
		{name: "clean sarif", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "--format=sarif"}, code: 0,
			stdout: `"results": []`},
		{name: "config excludes", files: map[string]string{"leaky/l.go": leaky, "other/l.go": strings.Replace(leaky, "package leaky", "package other", 1),
			".leakfix.yaml": "exclude: [leaky]\n"}, args: []string{"check"}, code: 1, stdout: "other/l.go:9:2: unstoppable-loop"},
		{name: "config found above", files: map[string]string{"leaky/l.go": leaky, ".leakfix.yaml": "exclude: ['**/l.go']\n"},
			args: []string{"check"}, sub: "leaky", code: 0},
		{name: "bad config", files: map[string]string{"leaky/l.go": leaky, ".leakfix.yaml": "rulez: [x]\n"}, args: []string{"check"}, code: 2,
			stderr: "leakfix: .leakfix.yaml:1: unknown key rulez (the keys are rules and exclude)\n"},
		{name: "unknown rule", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "--rules=nope"}, code: 2,
			stderr: `unknown rule "nope"`},
		{name: "all rules but one", files: map[string]string{"leaky/l.go": leaky}, args: []string{"check", "--rules=-unstoppable-loop"}, code: 0},
		{name: "negative rule selection keeps the others", files: map[string]string{"leaky/l.go": leaky}, args: []string{"check", "--rules=-global-hook"}, code: 1,
			stdout: "leaky/l.go:9:2: unstoppable-loop"},
		{name: "only invalid-ignore", files: map[string]string{"leaky/l.go": strings.Replace(leaky, "\tgo func", "\t//leakfix:ignore\n\tgo func", 1)},
			args: []string{"check", "--rules=invalid-ignore"}, code: 1, stdout: "leaky/l.go:9:2: invalid-ignore: //leakfix:ignore needs a reason"},
		{name: "invalid-ignore cannot be removed", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "--rules=-invalid-ignore"}, code: 2,
			stderr: "invalid-ignore is always on and cannot be removed"},
		{name: "unused ignore", files: map[string]string{"leaky/l.go": leaky, "a/a.go": "package a\n\n//leakfix:ignore nothing to excuse here\nvar x = 1\n"},
			args: []string{"check"}, code: 1, stdout: "a/a.go:3:1: invalid-ignore: //leakfix:ignore matches no finding on its line or the next; remove it"},
		{name: "ignore with a space", files: map[string]string{"leaky/l.go": strings.Replace(leaky, "\tgo func", "\t// leakfix:ignore unstoppable-loop lives forever\n\tgo func", 1)},
			args: []string{"check"}, code: 1, stdout: "leaky/l.go:9:2: invalid-ignore: write //leakfix:ignore without a space after //"},
		{name: "hyphenated reason", files: map[string]string{"leaky/l.go": strings.Replace(leaky, "\tgo func", "\t//leakfix:ignore long-lived: one per process\n\tgo func", 1)},
			args: []string{"check"}, code: 0},
		{name: "explain unknown", args: []string{"explain", "nope"}, code: 2, stderr: `unknown rule "nope"`},
		{name: "bad platform", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "--platforms=linux"}, code: 2,
			stderr: `platform "linux": want GOOS/GOARCH`},
		{name: "bad report name", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"fix", "--report=r.txt"}, code: 2,
			stderr: "--report r.txt: the file must end in .md or .json"},
		{
			// A package with a syntax error is reported with its position;
			// the other package is still checked and its finding reported.
			name:   "syntax error",
			files:  map[string]string{"broken/b.go": "package broken\n\nfunc f( {\n", "leaky/l.go": leaky},
			args:   []string{"check"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "broken/b.go:3:9: ",
		},
		{
			name:   "type error",
			files:  map[string]string{"typeerr/t.go": "package typeerr\n\nvar x int = \"s\"\n", "leaky/l.go": leaky},
			args:   []string{"check"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: `typeerr/t.go:3:13: cannot use "s" (untyped string constant) as int value`,
		},
		{
			name:   "missing dependency",
			files:  map[string]string{"missing/m.go": "package missing\n\nimport _ \"example.org/nowhere/nothing\"\n", "leaky/l.go": leaky},
			args:   []string{"check"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "missing/m.go:3:10: cannot import example.org/nowhere/nothing: no required module provides package example.org/nowhere/nothing",
		},
		{
			// The root module cannot load; the module nested below it can.
			name: "go.mod does not parse",
			files: map[string]string{
				"go.mod":           "module example.com/golden\n\ngo 1.26\nfrobnicate x\n",
				"a/a.go":           "package a\n",
				"other/go.mod":     "module example.com/other\n\ngo 1.26\n",
				"other/leaky/l.go": leaky,
			},
			args:   []string{"check"},
			code:   2,
			stdout: "other/leaky/l.go:9:2: unstoppable-loop",
			stderr: "leakfix: go.mod:4: unknown directive: frobnicate",
		},
		{
			name:   "non-UTF-8 bytes",
			files:  map[string]string{"latin1/l.go": "package latin1\n\n// caf\xe9\nvar x = 1\n", "leaky/l.go": leaky},
			args:   []string{"check"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "leakfix: latin1/l.go:3:7: illegal UTF-8 encoding",
		},
		{
			name:         "unreadable file",
			files:        map[string]string{"secret/s.go": "package secret\n", "leaky/l.go": leaky},
			args:         []string{"check"},
			code:         2,
			stdout:       "leaky/l.go:9:2: unstoppable-loop",
			stderr:       "leakfix: secret/s.go: cannot read: permission denied",
			setup:        func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "secret/s.go"), 0) },
			unprivileged: true,
		},
		{
			// The file in a read-only directory cannot be replaced; the other
			// package is still fixed.
			name:         "unwritable file",
			files:        map[string]string{"ro/l.go": golden.Leaky("ro"), "leaky/l.go": leaky},
			args:         []string{"fix"},
			code:         2,
			stderr:       "leakfix: ro/l.go: cannot write: permission denied",
			changed:      []string{"leaky/l.go"},
			setup:        func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "ro"), 0o555) },
			unprivileged: true,
		},
		{
			name:   "directory without Go files",
			files:  map[string]string{"docs/README": "x", "leaky/l.go": leaky},
			args:   []string{"check", "./docs", "./leaky"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "leakfix: docs: no Go files",
		},
		{
			name:   "pattern matches nothing",
			files:  map[string]string{"docs/README": "x", "leaky/l.go": leaky},
			args:   []string{"check", "./docs/...", "./leaky"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "leakfix: ./docs/...: matched no packages",
		},
		{
			// Files as the go command takes them, with or without ./: their
			// packages load, and only their findings are reported.
			name:      "file arguments",
			files:     map[string]string{"leaky/l.go": leaky, "leaky/m.go": strings.NewReplacer("type T", "type M", "T{", "M{", "*T", "*M", "New", "NewM").Replace(leaky)},
			args:      []string{"check", "leaky/l.go"},
			code:      1,
			stdout:    "leaky/l.go:9:2: unstoppable-loop",
			notStdout: "m.go",
		},
		{
			name:   "file arguments with ./, beside a pattern",
			files:  map[string]string{"leaky/l.go": leaky, "other/l.go": strings.Replace(leaky, "package leaky", "package other", 1)},
			args:   []string{"check", "./leaky/l.go", "./other/..."},
			code:   1,
			stdout: "leaky/l.go:9:2: unstoppable-loop: goroutine started in New ticks forever with no way to stop it\nother/l.go:9:2: unstoppable-loop",
		},
		{
			name:   "no such file",
			files:  map[string]string{"leaky/l.go": leaky},
			args:   []string{"check", "leaky/nothing.go", "./leaky"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "leakfix: leaky/nothing.go: no such file",
		},
		{
			name:      "outside a module",
			files:     map[string]string{"a/a.go": "package a\n"},
			noMod:     true,
			args:      []string{"check"},
			code:      2,
			stderr:    "leakfix: ./...: not in a Go module: there is no go.mod here or above; run go mod init MODULE-PATH at the top of the code, or name a module's directory with -C\n",
			notStderr: "matched no packages",
		},
		{
			// The load error says why ./... matched nothing.
			name:      "load error",
			files:     map[string]string{"go.mod": "module example.com/golden\n\ngo 1.99\n", "a/a.go": "package a\n"},
			setup:     func(t *testing.T, dir string) { t.Setenv("GOTOOLCHAIN", "local") },
			args:      []string{"check"},
			code:      2,
			stderr:    "go.mod requires go >= 1.99",
			notStderr: "matched no packages",
		},
		{
			name:   "no such directory",
			files:  map[string]string{"leaky/l.go": leaky},
			args:   []string{"check", "./nothing/...", "./leaky"},
			code:   2,
			stdout: "leaky/l.go:9:2: unstoppable-loop",
			stderr: "leakfix: ./nothing/...: no such directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, ok := tt.files["go.mod"]; !ok && !tt.noMod {
				golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
			}
			for name, content := range tt.files {
				golden.WriteFile(t, filepath.Join(dir, name), content)
			}
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			args := append(tt.args, "-C", filepath.Join(dir, tt.sub))
			if tt.args[0] == "explain" {
				args = tt.args
			}
			var code int
			var stdout, stderr bytes.Buffer
			if tt.unprivileged {
				code = mainUnprivileged(t, args, &stdout, &stderr)
			} else {
				code = Main(args, &stdout, &stderr)
			}
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if tt.stdout == "" && stdout.Len() > 0 && tt.changed == nil || !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if tt.notStderr != "" && strings.Contains(stderr.String(), tt.notStderr) {
				t.Errorf("stderr %q, want it not to contain %q", stderr.String(), tt.notStderr)
			}
			if tt.notStdout != "" && strings.Contains(stdout.String(), tt.notStdout) {
				t.Errorf("stdout %q, want it not to contain %q", stdout.String(), tt.notStdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			for name, content := range tt.files {
				changed := golden.ReadFile(t, filepath.Join(dir, name)) != content
				if want := slices.Contains(tt.changed, name); changed != want {
					t.Errorf("%s changed: %v, want %v", name, changed, want)
				}
			}
		})
	}
}

// chmod changes a file's mode for one test and restores it afterwards,
// so that the temporary directory can be removed.
func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, info.Mode().Perm()) })
}

// mainUnprivileged runs Main in a process that file permissions apply to.
// As root, that is this test binary run again without the capabilities to
// override them (through setpriv); otherwise it is Main itself.
func mainUnprivileged(t *testing.T, args []string, stdout, stderr *bytes.Buffer) int {
	t.Helper()
	if os.Geteuid() != 0 {
		return Main(args, stdout, stderr)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("running as root without setpriv: file permissions cannot be taken away")
	}
	encoded, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--bounding-set=-dac_override,-dac_read_search", os.Args[0], "-test.run=^TestMainHelper$")
	cmd.Env = append(os.Environ(), "LEAKFIX_TEST_MAIN="+string(encoded))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestMainHelper is Main in a child process, for mainUnprivileged.
func TestMainHelper(t *testing.T) {
	encoded := os.Getenv("LEAKFIX_TEST_MAIN")
	if encoded == "" {
		t.Skip("only run by mainUnprivileged")
	}
	var args []string
	if err := json.Unmarshal([]byte(encoded), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(Main(args, os.Stdout, os.Stderr))
}

func TestExplain(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"explain", "unstoppable-loop"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"unstoppable-loop: Goroutine loops on a timer", "Before:", "for range time.Tick(time.Minute)", "After leakfix fix:", "func (s *Server) Shutdown()"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("explain output lacks %q:\n%s", want, stdout.String())
		}
	}
	// leakfix never rewrites an ignore comment: no "after" of a fix.
	stdout.Reset()
	if code := Main([]string{"explain", "invalid-ignore"}, &stdout, &stderr); code != 0 {
		t.Fatalf("explain invalid-ignore: exit %d: %s", code, stderr.String())
	}
	if out := stdout.String(); strings.Contains(out, "After leakfix fix") || !strings.Contains(out, "leakfix reports this without a fix. Instead:") {
		t.Errorf("explain invalid-ignore:\n%s", out)
	}
}

// TestInterrupted checks that a run whose context ends (Ctrl-C in Main)
// changes no file and says so.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	leaky := golden.Leaky("leaky")
	golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), leaky)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := MainContext(ctx, []string{"fix", "-C", dir}, &stdout, &stderr); code != exitError {
		t.Errorf("exit status %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr.String(), "interrupted; no file was changed") {
		t.Errorf("stderr %q", stderr.String())
	}
	if golden.ReadFile(t, filepath.Join(dir, "leaky/l.go")) != leaky {
		t.Error("the file changed")
	}
}

// TestProfiles checks that --cpuprofile and --memprofile write profiles.
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "a", "a.go"), "package a\n")
	cpu, mem := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "mem.out")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"check", "-C", dir, "--cpuprofile", cpu, "--memprofile", mem}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	for _, name := range []string{cpu, mem} {
		if fi, err := os.Stat(name); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}

// TestMain gives the tests a result cache of their own, so that they
// neither read nor fill the user's.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leakfix-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv(cache.Env, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestResultCache checks that check fills the result cache, that
// --no-cache neither reads nor writes it, and that a cache directory that
// cannot be made only slows the run down.
func TestResultCache(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), golden.Leaky("leaky"))
	entries := func(cacheDir string) int {
		n := 0
		filepath.WalkDir(cacheDir, func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, "-r") {
				n++
			}
			return nil
		})
		return n
	}
	check := func(args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := Main(append([]string{"check", "-C", dir}, args...), &stdout, &stderr); code != 1 {
			t.Fatalf("check %v: exit %d, stderr %q", args, code, stderr.String())
		}
		return stdout.String(), stderr.String()
	}

	cacheDir := t.TempDir()
	t.Setenv(cache.Env, cacheDir)
	want, _ := check("--no-cache")
	if n := entries(cacheDir); n != 0 {
		t.Errorf("check --no-cache wrote %d cache entries", n)
	}
	if got, _ := check(); got != want || entries(cacheDir) == 0 {
		t.Errorf("check with the cache reported %q (want %q) and wrote %d entries", got, want, entries(cacheDir))
	}
	if got, _ := check(); got != want {
		t.Errorf("check from the cache reported %q, want %q", got, want)
	}

	notDir := filepath.Join(t.TempDir(), "file")
	golden.WriteFile(t, notDir, "not a directory\n")
	t.Setenv(cache.Env, filepath.Join(notDir, "cache"))
	got, stderr := check()
	if got != want || !strings.Contains(stderr, "leakfix: running without the result cache: ") {
		t.Errorf("with a cache directory that cannot be made: stdout %q (want %q), stderr %q", got, want, stderr)
	}
}

// TestCacheCommand runs leakfix cache status and clean on a cache a check
// filled, and with the cache off.
func TestCacheCommand(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), golden.Leaky("leaky"))
	cacheDir := t.TempDir()
	t.Setenv(cache.Env, cacheDir)
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code > 1 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
		return stdout.String()
	}
	if got := run("cache", "status"); got != cacheDir+": 0 entries, 0.0 MB\n" {
		t.Errorf("status of an empty cache: %q", got)
	}
	run("check", "-C", dir)
	if got := run("cache", "status"); !strings.HasPrefix(got, cacheDir+": ") || strings.HasPrefix(got, cacheDir+": 0 entries") {
		t.Errorf("status after a check: %q", got)
	}
	if got := run("cache", "clean"); !strings.HasPrefix(got, "removed ") || strings.HasPrefix(got, "removed 0 ") {
		t.Errorf("clean after a check: %q", got)
	}
	if got := run("cache", "status"); got != cacheDir+": 0 entries, 0.0 MB\n" {
		t.Errorf("status after clean: %q", got)
	}
	t.Setenv(cache.Env, "off")
	if got := run("cache", "status"); !strings.Contains(got, "off") {
		t.Errorf("status with the cache off: %q", got)
	}
}

// TestVersion checks that leakfix version, --version and -v print the
// version the reports carry.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d: %s", args, code, stderr.String())
		}
		if want := "leakfix " + version.String() + " (go"; !strings.HasPrefix(stdout.String(), want) {
			t.Errorf("%s printed %q, want it to start with %q", args, stdout.String(), want)
		}
	}
}
