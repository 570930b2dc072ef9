package verify

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
)

// pkg type-checks src as the package path, whose imports are deps, as a
// typed load would give it: with its syntax, types and full types.Info.
func pkg(t *testing.T, fset *token.FileSet, path, src string, deps ...*packages.Package) *packages.Package {
	t.Helper()
	name := "/" + path + "/" + path + ".go"
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	p := &packages.Package{ID: path, PkgPath: path, Name: path, Fset: fset, GoFiles: []string{name},
		Syntax: []*ast.File{f}, TypesInfo: fixpkg.FullInfo(), Imports: map[string]*packages.Package{}}
	for _, d := range deps {
		p.Imports[d.PkgPath] = d
	}
	conf := types.Config{Importer: load.ImporterFunc(func(path string) (*types.Package, error) { return p.Imports[path].Types, nil })}
	if p.Types, err = conf.Check(path, fset, p.Syntax, p.TypesInfo); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImporters checks an importer of a package against that package's new
// files: clean when the fix adds a method nothing calls by its bare name
// (or only through a named path, w.E.Shutdown); failing
// when the new method makes a selector ambiguous, or quietly changes which
// method a selector picks, which compiles. A failure names the importer.
func TestImporters(t *testing.T) {
	const a = `package a

type T struct{}

func (T) Close() {}
`
	// What a fix makes of a: a Shutdown on T.
	const fixed = a + `
func (T) Shutdown() {}
`
	for _, tt := range []struct {
		name, b string
		want    string // in the error; "" for none
	}{
		{"unrelated", `package b

import "a"

type W struct{ a.T }

func Stop(w W) { w.Close() }
`, ""},
		{"named path", `package b

import "a"

type E struct{}

func (E) Shutdown() {}

type W struct {
	a.T
	E
}

func Stop(w W) { w.E.Shutdown() }
`, ""},
		{"now ambiguous", `package b

import "a"

type E struct{}

func (E) Shutdown() {}

type W struct {
	a.T
	E
}

func Stop(w W) { w.Shutdown() }
`, "ambiguous selector w.Shutdown"},
		{"now shadowed", `package b

import "a"

type E struct{}

func (E) Shutdown() {}

type Inner struct{ E }

type W struct {
	a.T
	Inner
}

func Stop(w W) { w.Shutdown() }
`, "w.Shutdown would now select (a.T).Shutdown instead of (b.E).Shutdown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			pa := pkg(t, fset, "a", a)
			pb := pkg(t, fset, "b", tt.b, pa)
			changed := map[*packages.Package]map[string][]byte{pa: {"/a/a.go": []byte(fixed)}}
			v := New(context.Background(), "", nil)
			failed, err := Importers(context.Background(), []*packages.Package{pa, pb}, changed, v)
			switch {
			case tt.want == "" && failed != nil:
				t.Errorf("%s failed: %v", failed.PkgPath, err)
			case tt.want != "" && (failed != pb || err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("failed %v with %v, want b with %q", failed, err, tt.want)
			}
			if got := DependsOn(pb, changed); len(got) != 1 || got[0] != pa {
				t.Errorf("DependsOn(b) = %v, want [a]", got)
			}
		})
	}
}
