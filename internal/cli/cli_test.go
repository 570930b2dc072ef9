package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
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
		fix, wrt  bool
		format    string // "" = text
		edits     bool
		wantError string
	}{
		{args: []string{"check"}},
		{args: []string{"check", "./a/...", "b"}, patterns: []string{"./a/...", "b"}},
		{args: []string{"check", "--tests", "--rules=unstoppable-loop", "-C", "x"}, tests: true, rules: []string{"unstoppable-loop"}, dir: "x"},
		{args: []string{"diff", "--tags", "integration,linux"}, build: []string{"-tags=integration,linux"}, fix: true},
		{args: []string{"fix"}, wrt: true},
		{args: []string{"check", "--frobnicate"}, wantError: "unknown flag: --frobnicate"},
		{args: []string{"check", "--format=sarif"}, format: "sarif", edits: true},
		{args: []string{"diff", "--format", "rdjsonl"}, format: "rdjsonl", fix: true, edits: true},
		{args: []string{"check", "--format=xml"}, wantError: `unknown format "xml"`},
		{args: []string{"check", "--new-from-rev=main", "--new-from-patch=p"}, wantError: "none of the others can be"},
		{args: []string{"fix", "--format=json"}, wantError: "unknown flag: --format"},
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
			if e.Tests != tt.tests || e.Dir != tt.dir || e.Fix != tt.fix || e.Write != tt.wrt || e.Edits != tt.edits ||
				!reflect.DeepEqual(e.Rules, tt.rules) || !reflect.DeepEqual(e.BuildFlags, tt.build) {
				t.Errorf("engine options %+v", e)
			}
		})
	}
}

// TestExitStatus runs the real commands on small modules and checks what a
// script relies on: the exit status, and where findings and errors go.
func TestExitStatus(t *testing.T) {
	leaky := `package leaky

import "time"

type T struct{ n int }

func New() *T {
	t := &T{}
	go func() {
		for range time.Tick(time.Second) {
			t.n++
		}
	}()
	return t
}
`
	tests := []struct {
		name       string
		files      map[string]string
		args       []string
		code       int
		stdout     string // a substring of standard output ("" = must be empty)
		stderr     string // a substring of standard error
		notChanged bool
		sub        string // the directory to run in, below the module's
	}{
		{name: "clean", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check"}, code: 0},
		{name: "findings", files: map[string]string{"leaky/l.go": leaky}, args: []string{"check"}, code: 1,
			stdout: "leaky/l.go:9:2: unstoppable-loop: goroutine started in New ticks forever"},
		{name: "diff", files: map[string]string{"leaky/l.go": leaky}, args: []string{"diff"}, code: 1,
			stdout: "--- a/leaky/l.go\n+++ b/leaky/l.go\n", notChanged: true},
		{name: "json", files: map[string]string{"leaky/l.go": leaky}, args: []string{"check", "--format=json"}, code: 1,
			stdout: `"file": "leaky/l.go",`, notChanged: true},
		{name: "diff as rdjsonl", files: map[string]string{"leaky/l.go": leaky}, args: []string{"diff", "--format=rdjsonl"}, code: 1,
			stdout: `"suggestions":[{"range":`, notChanged: true},
		{name: "clean sarif", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "--format=sarif"}, code: 0,
			stdout: `"results": []`},
		{name: "config excludes", files: map[string]string{"leaky/l.go": leaky, "other/l.go": strings.Replace(leaky, "package leaky", "package other", 1),
			".leakfix.yaml": "exclude: [leaky]\n"}, args: []string{"check"}, code: 1, stdout: "other/l.go:9:2: unstoppable-loop"},
		{name: "config found above", files: map[string]string{"leaky/l.go": leaky, ".leakfix.yaml": "exclude: ['**/l.go']\n"},
			args: []string{"check"}, sub: "leaky", code: 0},
		{name: "bad config", files: map[string]string{"leaky/l.go": leaky, ".leakfix.yaml": "rulez: [x]\n"}, args: []string{"check"}, code: 2,
			stderr: ".leakfix.yaml: yaml: unmarshal errors:\n  line 1: field rulez not found"},
		{name: "unknown rule", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "--rules=nope"}, code: 2,
			stderr: `unknown rule "nope"`},
		{name: "explain unknown", args: []string{"explain", "nope"}, code: 2, stderr: `unknown rule "nope"`},
		{name: "no such directory", files: map[string]string{"a/a.go": "package a\n"}, args: []string{"check", "./nothing/..."}, code: 2,
			stderr: "nothing/: no such file or directory"},
		{name: "no match", files: map[string]string{"a/a.go": "package a\n", "docs/README": "x"}, args: []string{"check", "./docs/..."}, code: 2,
			stderr: "./docs/... matched no packages"},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
			for name, content := range tt.files {
				golden.WriteFile(t, filepath.Join(dir, name), content)
			}
			var stdout, stderr bytes.Buffer
			code := Main(append(tt.args, "-C", filepath.Join(dir, tt.sub)), &stdout, &stderr)
			if tt.args[0] == "explain" {
				code = Main(tt.args, &stdout, &stderr)
			}
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if tt.stdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			if tt.notChanged {
				for name, content := range tt.files {
					if readFile(t, filepath.Join(dir, name)) != content {
						t.Errorf("%s changed", name)
					}
				}
			}
		})
	}
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
}

// TestCacheFlags checks where the result cache goes, and that --no-cache
// turns it off.
func TestCacheFlags(t *testing.T) {
	t.Setenv("LEAKFIX_CACHE", "/tmp/leakfix-cache-for-test")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{args: []string{"check"}, want: "/tmp/leakfix-cache-for-test"},
		{args: []string{"fix", "--no-cache"}, want: ""},
		{args: []string{"diff", "--no-cache=false"}, want: "/tmp/leakfix-cache-for-test"},
	} {
		var got *Options
		capture := func(o *Options) error { got = o; return nil }
		root := NewRoot(&bytes.Buffer{}, &bytes.Buffer{}, &Runners{Check: capture, Fix: capture, Diff: capture})
		root.SetArgs(tt.args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.Engine.Cache != tt.want {
			t.Errorf("%q: cache %q, want %q", tt.args, got.Engine.Cache, tt.want)
		}
	}
}

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "a", "a.go"), "package a\n")
	cpu, mem := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "mem.out")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"check", "--no-cache", "-C", dir, "--cpuprofile", cpu, "--memprofile", mem}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	for _, name := range []string{cpu, mem} {
		if fi, err := os.Stat(name); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}
