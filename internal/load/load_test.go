package load

import (
	"context"
	"go/ast"
	"go/token"
	"go/types"
	"runtime"
	"testing"

	"golang.org/x/tools/go/packages"
)

// uses describes what every identifier of a package's syntax denotes, by
// its position: what a rule reads of the types.
func uses(fset *token.FileSet, files []*ast.File, info *types.Info) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			obj := info.Uses[id]
			if obj == nil {
				obj = info.Defs[id]
			}
			if obj != nil {
				desc := obj.String()
				if obj.Pkg() != nil {
					desc += " in " + obj.Pkg().Path()
				}
				out[fset.Position(id.Pos()).String()] = desc
			}
			return true
		})
	}
	return out
}

func info() *types.Info {
	return &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
}

// TestSameAsGoPackages checks packages from source, their dependencies for
// their API only (net among them, which uses cgo), and requires what every
// identifier denotes to be what go/packages' typed load says.
func TestSameAsGoPackages(t *testing.T) {
	patterns := []string{"net/http", "os/signal", "log/slog"}
	ctx := context.Background()
	roots, err := List(&Config{Context: ctx, Dir: "."}, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	c := &Checker{Fset: token.NewFileSet(), Sizes: types.SizesFor("gc", runtime.GOARCH), Info: info}
	if err := c.Check(ctx, roots, func(*packages.Package) Need { return Full }); err != nil {
		t.Fatal(err)
	}
	ref, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != len(roots) {
		t.Fatalf("go/packages loaded %d packages, List %d", len(ref), len(roots))
	}
	for i, p := range roots {
		typed, ok := c.Package(p)
		if !ok {
			t.Fatalf("%s: %v", p.ID, typed.Errors)
		}
		if len(typed.Syntax) == 0 || typed.TypesInfo == nil {
			t.Fatalf("%s: no syntax or types.Info", p.ID)
		}
		got := uses(typed.Fset, typed.Syntax, typed.TypesInfo)
		want := uses(ref[i].Fset, ref[i].Syntax, ref[i].TypesInfo)
		if len(want) < 300 {
			t.Fatalf("%s: only %d identifiers; the test proves little", p.ID, len(want))
		}
		diffs := 0
		for pos, w := range want {
			if g := got[pos]; g != w && diffs < 5 {
				diffs++
				t.Errorf("%s: %s is %s, go/packages says %s", p.ID, pos, g, w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d identifiers resolved, go/packages %d", p.ID, len(got), len(want))
		}
	}
}

// TestForget checks that a package checked again after Forget is checked
// against the same types of what it imports, and that its importers are
// checked again with it, so that no two sets of types stand for one
// package.
func TestForget(t *testing.T) {
	ctx := context.Background()
	roots, err := List(&Config{Context: ctx, Dir: "."}, "net/http", "net/http/httptest")
	if err != nil {
		t.Fatal(err)
	}
	c := &Checker{Fset: token.NewFileSet(), Sizes: types.SizesFor("gc", runtime.GOARCH), Info: info}
	if err := c.Check(ctx, roots, func(*packages.Package) Need { return API }); err != nil {
		t.Fatal(err)
	}
	http, _ := c.Package(roots[0])
	test, _ := c.Package(roots[1])
	if http.Syntax != nil || http.TypesInfo != nil {
		t.Fatal("a package checked for its API kept its syntax")
	}
	io := http.Imports["io"].Types
	// net/http wanted in full: it and httptest, which imports it, are
	// checked again; io is not.
	full := func(p *packages.Package) Need {
		if p == roots[0] {
			return Full
		}
		return API
	}
	if err := c.Check(ctx, roots, full); err != nil {
		t.Fatal(err)
	}
	http2, ok := c.Package(roots[0])
	test2, ok2 := c.Package(roots[1])
	switch {
	case !ok || !ok2:
		t.Fatalf("errors: %v %v", http2.Errors, test2.Errors)
	case http2 == http || http2.Syntax == nil:
		t.Error("net/http was not checked again in full")
	case test2 == test:
		t.Error("httptest was not checked again against the new net/http")
	case test2.Imports["net/http"] != http2:
		t.Error("httptest does not import the new net/http")
	case http2.Imports["io"].Types != io:
		t.Error("io was checked again")
	}
}

// TestUnsafe checks that an import of unsafe gives go/types' own package,
// not one checked from unsafe.go, which only documents it.
func TestUnsafe(t *testing.T) {
	ctx := context.Background()
	roots, err := List(&Config{Context: ctx, Dir: "."}, "sync/atomic")
	if err != nil {
		t.Fatal(err)
	}
	c := &Checker{Fset: token.NewFileSet(), Sizes: types.SizesFor("gc", runtime.GOARCH), Info: info}
	if err := c.Check(ctx, roots, func(*packages.Package) Need { return API }); err != nil {
		t.Fatal(err)
	}
	typed, ok := c.Package(roots[0])
	if !ok {
		t.Fatal(typed.Errors)
	}
	if got := typed.Imports["unsafe"].Types; got != types.Unsafe {
		t.Errorf("sync/atomic imports %v, want types.Unsafe", got)
	}
}
