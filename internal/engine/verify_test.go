package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/leakfix/leakfix/internal/golden"
)

// leakyP is a package whose type A gets a Shutdown method and two fields
// from the fix.
const leakyP = `package p

import "time"

type A struct{ n int }

func New() *A {
	a := &A{}
	go func() {
		for range time.Tick(time.Second) {
			a.n++
		}
	}()
	return a
}
`

// TestVerifyImporters checks that a fix is dropped when it would break a
// package that imports the fixed one, or its tests, and kept otherwise.
func TestVerifyImporters(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		reason string // a substring of why the fix was dropped; "" = the fix is kept
		errors int    // packages that do not load
	}{
		{
			name:  "plain importer",
			files: map[string]string{"q/q.go": "package q\n\nimport \"example.com/m/p\"\n\nvar A = p.New()\n"},
		},
		{
			// The package's own fix does not compile: T's new Shutdown and
			// E's are promoted into W at the same depth, and W's selector
			// becomes ambiguous. (A literal of T without field names,
			// which this case used before, is now refused by the rules.)
			// The reason names the file relative to the run's directory,
			// and the line of the rewritten file: the type got two fields.
			name: "own package",
			files: map[string]string{"p/p.go": `package p

import "time"

type T struct{ n int }

type E struct{}

func (E) Shutdown() {}

type W struct {
	*T
	E
}

func Stop(w W) { w.Shutdown() }

func New() *T {
	t := &T{}
	go func() {
		for range time.Tick(time.Second) {
			t.n++
		}
	}()
	return t
}
`},
			reason: "the fix was dropped: it would not compile: p/p.go:23:20: ambiguous selector w.Shutdown (a line of the file as fixed)",
		},
		{
			// A package-level context would clash with an import of
			// context: the fix imports it under another name.
			name: "package-level context",
			files: map[string]string{"p/p.go": `package p

import "time"

var context = 1

type T struct{ n int }

func New() *T {
	t := &T{}
	go func() {
		for range time.Tick(time.Second) {
			t.n += context
		}
	}()
	return t
}
`},
		},
		{
			// A's new Shutdown and C's are promoted at the same depth: the
			// selector becomes ambiguous.
			name: "ambiguous selector",
			files: map[string]string{"q/q.go": `package q

import "example.com/m/p"

type C struct{}

func (C) Shutdown() {}

type B struct {
	*p.A
	C
}

func Stop(b B) { b.Shutdown() }
`},
			reason: "the fix would break example.com/m/q: ",
		},
		{
			// b.Shutdown() resolved to E's method at depth 2; A's new one at
			// depth 1 would win and the code would still compile.
			name: "shadowed method",
			files: map[string]string{"q/q.go": `package q

import "example.com/m/p"

type E struct{}

func (E) Shutdown() {}

type D struct{ E }

type B struct {
	*p.A
	D
}

func Stop(b B) { b.Shutdown() }
`},
			reason: "b.Shutdown would now select (*example.com/m/p.A).Shutdown instead of (example.com/m/q.E).Shutdown",
		},
		{
			// Through another package: r imports q, q embeds p.A; r's
			// interface assertion needs W's Shutdown, now ambiguous.
			name: "interface satisfied no more, two levels up",
			files: map[string]string{
				"q/q.go": `package q

import "example.com/m/p"

type S interface{ Shutdown() error }

type W struct {
	*p.A
	S
}
`,
				"r/r.go": `package r

import "example.com/m/q"

var _ q.S = q.W{}
`},
			reason: "the fix would break example.com/m/r: ",
		},
		{
			// q does not load, so r, which reaches p through q too, cannot be
			// checked against the new p: r would see the same type p.A
			// twice, old through q and new directly. It is not checked
			// (before, the fix was dropped on that false error).
			name: "importer through a package that does not load",
			files: map[string]string{
				"q/q.go": "package q\n\nimport \"example.com/m/p\"\n\nfunc Use(a *p.A) *p.A { return a }\n\nvar broken int = \"x\"\n",
				"r/r.go": "package r\n\nimport (\n\t\"example.com/m/p\"\n\t\"example.com/m/q\"\n)\n\nvar _ *p.A = q.Use(p.New())\n",
			},
			errors: 1,
		},
		{
			name: "own test file declares Shutdown",
			files: map[string]string{"p/p_test.go": `package p

func (a *A) Shutdown() {}
`},
			reason: "the fix would break the tests of example.com/m/p: ",
		},
		{
			name: "external test clashes",
			files: map[string]string{"p/x_test.go": `package p_test

import "example.com/m/p"

type C struct{}

func (C) Shutdown() {}

type B struct {
	*p.A
	C
}

var _ = B{}.Shutdown
`},
			reason: "the fix would break the tests of example.com/m/p: ",
		},
		{
			// The external test reaches p through q too, so it is checked
			// from source: a harmless fix must not fail on mixed types.
			name: "external test through another package",
			files: map[string]string{
				"q/q.go":      "package q\n\nimport \"example.com/m/p\"\n\nfunc Use(a *p.A) *p.A { return a }\n",
				"p/x_test.go": "package p_test\n\nimport (\n\t\"example.com/m/p\"\n\t\"example.com/m/q\"\n)\n\nvar _ *p.A = q.Use(p.New())\n",
			},
		},
		{
			name: "external test through another package clashes",
			files: map[string]string{
				"q/q.go": "package q\n\nimport \"example.com/m/p\"\n\nfunc Use(a *p.A) *p.A { return a }\n",
				"p/x_test.go": `package p_test

import (
	"example.com/m/p"
	"example.com/m/q"
)

type C struct{}

func (C) Shutdown() {}

type B struct {
	*p.A
	C
}

var _ = B{q.Use(p.New()), C{}}.Shutdown
`},
			reason: "the fix would break the tests of example.com/m/p_test: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"p/p.go": leakyP}
			for name, content := range tt.files {
				files[name] = content
			}
			dir := writeModule(t, files)
			res, err := Run(context.Background(), nil, Options{Dir: dir, Mode: ModeDiff})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != tt.errors {
				t.Fatalf("errors: %v, want %d", res.Errors, tt.errors)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings: %+v", res.Findings)
			}
			f := res.Findings[0]
			if tt.reason == "" {
				if !f.Fixed || !f.Fixable || len(res.Changes) != 1 {
					t.Errorf("the fix was dropped (%s); want it kept", f.Unfixed)
				}
				return
			}
			if f.Fixed || len(res.Changes) > 0 {
				t.Fatalf("the fix was kept; want it dropped with %q", tt.reason)
			}
			if f.Fixable {
				t.Errorf("a dropped fix is still offered (Fixable)")
			}
			if !strings.Contains(f.Unfixed, tt.reason) {
				t.Errorf("dropped because %q; want %q", f.Unfixed, tt.reason)
			}
			if strings.Contains(f.Unfixed, dir) {
				t.Errorf("the reason %q names a file by its absolute path", f.Unfixed)
			}
		})
	}
}

// writeModule writes files into a new module example.com/m and returns its
// directory.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["go.mod"]; !ok {
		files["go.mod"] = "module example.com/m\n\ngo 1.26\n"
	}
	for name, content := range files {
		golden.WriteFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

// TestWiringOnEveryPlatform: a package whose only change is calling
// another package's new cleanup compiles only against the fixed package,
// so the check of every platform must load it with the fixes; checked
// against the package on disk, the wiring was dropped while the result
// still said it was wired.
func TestWiringOnEveryPlatform(t *testing.T) {
	a, err := txtar.ParseFile("../../testdata/golden/wire_cross_package.txtar")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeArchive(t, a)
	res, err := Run(context.Background(), []string{"./..."}, Options{Dir: dir, Mode: ModeDiff, Platforms: []string{"linux/amd64", "windows/amd64"}})
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, res.Errors)
	}
	var changed []string
	for _, c := range res.Changes {
		changed = append(changed, Rel(dir, c.Path))
	}
	sort.Strings(changed)
	if want := []string{"cache/cache.go", "server/server.go"}; !slices.Equal(changed, want) {
		t.Errorf("changed %v, want %v", changed, want)
	}
}

// TestWiringHangInDotlessModule: in a module whose path has no dot
// (module myapp), the work's calls into the module's other packages are
// not taken for the standard library's: the sweeper calls a registry that
// the server's caller locks, so Close must not be wired to wait for it.
func TestWiringHangInDotlessModule(t *testing.T) {
	b, err := os.ReadFile("../../testdata/golden/wire_field_close_under_lock.txtar")
	if err != nil {
		t.Fatal(err)
	}
	a := txtar.Parse([]byte(strings.ReplaceAll(string(b), "example.com/golden", "myapp")))
	dir := writeArchive(t, a)
	res, err := Run(context.Background(), []string{"./..."}, Options{Dir: dir, Mode: ModeDiff})
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, res.Errors)
	}
	for _, c := range res.Changes {
		if strings.HasPrefix(Rel(dir, c.Path), "server/") {
			t.Errorf("%s was wired:\n%s", Rel(dir, c.Path), c.New)
		}
	}
	var why []string
	for _, f := range res.Findings {
		if f.Wire != nil {
			for _, c := range f.Wire.Callers {
				why = append(why, c.NotWired)
			}
		}
	}
	if !slices.ContainsFunc(why, func(s string) bool { return strings.Contains(s, "registry.Touch of another package") }) {
		t.Errorf("not wired because %q, want the call of registry.Touch", why)
	}
}

// TestWiringGoesWithItsFix: when a fix is dropped, a package that only
// wires in its cleanup is left unchanged too (its call would not compile),
// and the finding says why. The fix is dropped for breaking an importer
// (verifyImporters, which runs before the wirings are verified) or its
// package's tests (verifyTests, which runs after). Without the breaking
// file the same module is fixed and wired, so the test is not vacuous.
func TestWiringGoesWithItsFix(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, reason string
	}{
		// A's new Shutdown and C's would be ambiguous in B.
		{"importer", "q/q.go", "package q\n\nimport \"example.com/m/p\"\n\ntype C struct{}\n\nfunc (C) Shutdown() {}\n\ntype B struct {\n\t*p.A\n\tC\n}\n\nfunc Stop(b B) { b.Shutdown() }\n", "would break example.com/m/q"},
		// The test's helper method would clash with the Shutdown the fix adds.
		{"tests", "p/p_test.go", "package p\n\nimport \"testing\"\n\nfunc (a *A) Shutdown() {}\n\nfunc TestN(t *testing.T) { New().Shutdown() }\n", "would break the tests of example.com/m/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModule(t, map[string]string{
				"p/p.go": leakyP,
				"p/n.go": "package p\n\n// N returns the count.\nfunc (a *A) N() int { return a.n }\n",
				// Run's value would get defer a.Shutdown().
				"r/r.go": "package r\n\nimport \"example.com/m/p\"\n\n// Run counts once.\nfunc Run() int {\n\ta := p.New()\n\treturn a.N()\n}\n",
				tc.file:  tc.content,
			})
			res := runDiff(t, dir)
			if len(res.Changes) > 0 {
				var names []string
				for _, c := range res.Changes {
					names = append(names, Rel(dir, c.Path))
				}
				t.Errorf("changed %v, want nothing: the fix breaks %s", names, tc.file)
			}
			if len(res.Findings) != 1 || res.Findings[0].Fixed || !strings.Contains(res.Findings[0].Unfixed, tc.reason) {
				t.Fatalf("findings %+v", res.Findings)
			}
			if err := os.Remove(filepath.Join(dir, tc.file)); err != nil {
				t.Fatal(err)
			}
			wired := false
			for _, c := range runDiff(t, dir).Changes {
				wired = wired || strings.Contains(string(c.New), "defer a.Shutdown()")
			}
			if !wired {
				t.Errorf("without %s, r is not wired", tc.file)
			}
		})
	}
}

// runDiff runs leakfix diff in dir, and fails the test on any error.
func runDiff(t *testing.T, dir string) *Result {
	t.Helper()
	res, err := Run(context.Background(), nil, Options{Dir: dir, Mode: ModeDiff})
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, res.Errors)
	}
	return res
}
