package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestRepositories runs fix over the shapes real repositories have and
// checks what is reported, what is written and what is left alone.
func TestRepositories(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		setup     func(t *testing.T, dir string)
		patterns  []string
		opts      Options
		bare      bool // no go.mod at the root
		cgo       bool
		findings  []string // "file:line:col fixed", or "file:line:col: " and the start of the reason
		changed   []string // files the fix rewrites
		excluded  int      // Result.NotAnalysed
		generated int      // Result.Generated, checked when not 0
		errors    []string // substrings of the errors
		buildWith []string // GOOS/GOARCH pairs the fixed tree must vet on
	}{
		{
			// The loop in the file with import "C" is reported where the
			// user wrote it (cgo's //line comments), but never rewritten;
			// the plain file of the same package is fixed.
			name: "cgo",
			cgo:  true,
			files: map[string]string{
				"c/c.go": `package c

// static int twice(int x) { return 2 * x; }
import "C"

import "time"

type T struct{ n int }

func New() *T {
	t := &T{}
	go func() {
		for range time.Tick(time.Second) {
			t.n += int(C.twice(1))
		}
	}()
	return t
}
`,
				"c/plain.go": `package c

import "time"

type U struct{ n int }

func NewU() *U {
	u := &U{}
	go func() {
		for range time.Tick(time.Second) {
			u.n++
		}
	}()
	return u
}
`,
			},
			findings: []string{"c/c.go:12:2: the loop is in a file that uses cgo", "c/plain.go:9:2 fixed"},
			changed:  []string{"c/plain.go"},
		},
		{
			// A generated file is left out whether it uses cgo or not: its
			// loop is not reported, checked from source (FakeImportC)...
			name:     "cgo generated",
			cgo:      true,
			files:    map[string]string{"c/c.go": generatedCgo, "c/plain.go": golden.Leaky("c")},
			findings: []string{"c/plain.go:9:2 fixed"},
			changed:  []string{"c/plain.go"},
		},
		{
			// ...or from cgo's translation, which is generated itself and
			// leads back to the file by its //line comments.
			name:     "cgo generated, typed load",
			cgo:      true,
			files:    map[string]string{"c/c.go": generatedCgo, "c/plain.go": golden.Leaky("c")},
			opts:     Options{typedOnly: true},
			findings: []string{"c/plain.go:9:2 fixed"},
			changed:  []string{"c/plain.go"},
		},
		{
			// A package holding only the generated file: the syntactic
			// pass skips it, and counts the file as generated, as the
			// typed load does (it used to pass it over for using cgo).
			name:      "cgo generated alone",
			cgo:       true,
			files:     map[string]string{"c/c.go": generatedCgo},
			generated: 1,
		},
		{
			name:      "cgo generated alone, typed load",
			cgo:       true,
			files:     map[string]string{"c/c.go": generatedCgo},
			opts:      Options{typedOnly: true},
			generated: 1,
		},
		{
			name: "file for another platform",
			files: map[string]string{
				"p/p.go":             "package p\n\ntype T struct{ n int }\n",
				"p/start_other.go":   "//go:build !windows\n\npackage p\n\nfunc New() *T { return &T{} }\n",
				"p/start_windows.go": strings.Replace(golden.Leaky("p"), "type T struct{ n int }\n\n", "", 1),
			},
			excluded: 1,
		},
		{
			// Analysed on windows too, the loop is fixed; the fields land in
			// the file every platform compiles.
			name: "platforms",
			files: map[string]string{
				"p/p.go":             "package p\n\ntype T struct{ n int }\n",
				"p/start_other.go":   "//go:build !windows\n\npackage p\n\nfunc New() *T { return &T{} }\n",
				"p/start_windows.go": strings.Replace(golden.Leaky("p"), "type T struct{ n int }\n\n", "", 1),
			},
			opts:      Options{Platforms: []string{"linux/amd64", "windows/amd64", "darwin/arm64"}},
			findings:  []string{"p/start_windows.go:7:2 fixed"},
			changed:   []string{"p/p.go", "p/start_windows.go"},
			buildWith: []string{"linux/amd64", "windows/amd64", "darwin/arm64"},
		},
		{
			// The field the windows fix adds clashes with a method only
			// linux compiles: the fix is dropped.
			name: "platforms clash",
			files: map[string]string{
				"p/p.go":             "package p\n\ntype T struct{ n int }\n",
				"p/start_other.go":   "//go:build !windows\n\npackage p\n\nfunc New() *T { return &T{} }\n\nfunc (t *T) stopLoop() {}\n",
				"p/start_windows.go": strings.Replace(golden.Leaky("p"), "type T struct{ n int }\n\n", "", 1),
			},
			opts:     Options{Platforms: []string{"windows/amd64", "linux/amd64"}},
			findings: []string{"p/start_windows.go:7:2: the fix does not compile for linux/amd64: "},
		},
		{
			name: "modules without go.work",
			bare: true,
			files: map[string]string{
				"a/go.mod":   "module example.com/a\n\ngo 1.26\n",
				"a/l/l.go":   golden.Leaky("l"),
				"b/go.mod":   "module example.com/b\n\ngo 1.26\n",
				"b/l/l.go":   golden.Leaky("l"),
				"b/c/go.mod": "module example.com/b/c\n\ngo 1.26\n",
				"b/c/l.go":   golden.Leaky("c"),
			},
			findings: []string{"a/l/l.go:9:2 fixed", "b/c/l.go:9:2 fixed", "b/l/l.go:9:2 fixed"},
			changed:  []string{"a/l/l.go", "b/c/l.go", "b/l/l.go"},
		},
		{
			// b uses a through the workspace; c is not in it and is loaded
			// on its own.
			name: "go.work",
			bare: true,
			files: map[string]string{
				"go.work":  "go 1.26\n\nuse (\n\t./a\n\t./b\n)\n",
				"a/go.mod": "module example.com/a\n\ngo 1.26\n",
				"a/l/l.go": golden.Leaky("l"),
				"b/go.mod": "module example.com/b\n\ngo 1.26\n\nrequire example.com/a v0.0.0\n",
				"b/b.go":   "package b\n\nimport \"example.com/a/l\"\n\nvar X = l.New()\n",
				"c/go.mod": "module example.com/c\n\ngo 1.26\n",
				"c/l.go":   golden.Leaky("c"),
			},
			findings: []string{"a/l/l.go:9:2 fixed", "c/l.go:9:2 fixed"},
			changed:  []string{"a/l/l.go", "c/l.go"},
		},
		{
			// Even named explicitly, vendored code is neither reported nor
			// rewritten.
			name: "vendor",
			files: map[string]string{
				"go.mod":                      "module example.com/m\n\ngo 1.26\n\nrequire example.com/dep v1.0.0\n",
				"vendor/modules.txt":          "# example.com/dep v1.0.0\n## explicit\nexample.com/dep\n",
				"vendor/example.com/dep/l.go": golden.Leaky("dep"),
				"app/a.go":                    "package app\n\nimport \"example.com/dep\"\n\nvar X = dep.New()\n",
			},
			patterns: []string{"./...", "example.com/dep"},
		},
		{
			name: "symbolic links",
			bare: true,
			files: map[string]string{
				"m/go.mod":       "module example.com/m\n\ngo 1.26\n",
				"outside/l.go":   golden.Leaky("p"),
				"outside/q/l.go": golden.Leaky("q"),
			},
			setup: func(t *testing.T, dir string) {
				symlink(t, filepath.Join(dir, "outside/l.go"), filepath.Join(dir, "m/p/l.go"))
				symlink(t, filepath.Join(dir, "outside/q"), filepath.Join(dir, "m/q"))
			},
			patterns: []string{"./m/p", "./m/q"},
			findings: []string{
				"m/p/l.go:9:2: m/p/l.go is a symbolic link",
				"m/q/l.go:9:2: m/q/l.go is reached through a symbolic link to outside its module",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cgo {
				if out, err := exec.Command("go", "env", "CGO_ENABLED").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
					t.Skip("cgo is not enabled")
				}
			}
			dir := t.TempDir()
			if _, ok := tt.files["go.mod"]; !ok && !tt.bare {
				tt.files["go.mod"] = "module example.com/m\n\ngo 1.26\n"
			}
			for name, content := range tt.files {
				golden.WriteFile(t, filepath.Join(dir, name), content)
			}
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			opts := tt.opts
			opts.Dir, opts.Mode = dir, ModeFix
			res, err := Run(context.Background(), tt.patterns, opts)
			if err != nil {
				t.Fatal(err)
			}

			var got []string
			for _, f := range res.Findings {
				s := fmt.Sprintf("%s:%d:%d", Rel(dir, f.Pos.Filename), f.Pos.Line, f.Pos.Column)
				if f.Fixed {
					s += " fixed"
				} else {
					s += ": " + f.Unfixed
				}
				got = append(got, s)
			}
			if len(got) != len(tt.findings) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.findings, "\n"))
			} else {
				for i := range got {
					if !strings.HasPrefix(got[i], tt.findings[i]) {
						t.Errorf("finding %q, want %q", got[i], tt.findings[i])
					}
				}
			}
			var changed []string
			for name, content := range tt.files {
				if golden.ReadFile(t, filepath.Join(dir, name)) != content {
					changed = append(changed, name)
				}
			}
			sort.Strings(changed)
			if fmt.Sprint(changed) != fmt.Sprint(tt.changed) && !(len(changed) == 0 && len(tt.changed) == 0) {
				t.Errorf("changed %v, want %v", changed, tt.changed)
			}
			if tt.generated != 0 && res.Generated != tt.generated {
				t.Errorf("%d generated files skipped, want %d", res.Generated, tt.generated)
			}
			if res.NotAnalysed != tt.excluded {
				t.Errorf("%d files not analysed, want %d", res.NotAnalysed, tt.excluded)
			}
			if len(res.Errors) != len(tt.errors) {
				t.Errorf("errors %v, want %d", res.Errors, len(tt.errors))
			}
			for _, pl := range tt.buildWith {
				goos, goarch, _ := strings.Cut(pl, "/")
				cmd := exec.Command("go", "vet", "./...")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("go vet for %s: %v\n%s", pl, err, out)
				}
			}
		})
	}
}

// generatedCgo is a generated file of package c that uses cgo and starts a
// loop nothing can stop.
const generatedCgo = `// Code generated by hand. DO NOT EDIT.

package c

// static int twice(int x) { return 2 * x; }
import "C"

import "time"

type G struct{ n int }

func NewG() *G {
	g := &G{}
	go func() {
		for range time.Tick(time.Second) {
			g.n += int(C.twice(1))
		}
	}()
	return g
}
`

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links: %v", err)
	}
}
