package golden

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/modfile"
)

// The standard library, type-checked from source once for every case of a
// test binary: the rules' and the rewriter's tests need no go command and
// no build cache.
var (
	stdOnce sync.Once
	stdFset *token.FileSet
	std     types.ImporterFrom
)

// A Package is one package of a case's module, type-checked from source.
type Package struct {
	Path      string
	Files     []*ast.File // the package's non-test files, named "<case>/<file>"
	Types     *types.Package
	Info      *types.Info
	GoVersion string // the case's go line
}

// Typecheck parses and type-checks the non-test Go files of c (not those
// under want/), one package per directory, with the standard library from
// source, and returns the packages in import-path order with the file set
// that holds them. A file is named "<case name>/<path in the archive>". It
// skips the test when the case imports a package from another module, which
// only the go command can find.
func (c *Case) Typecheck(t *testing.T) (*token.FileSet, []*Package) {
	t.Helper()
	stdOnce.Do(func() {
		stdFset = token.NewFileSet()
		std = importer.ForCompiler(stdFset, "source", nil).(types.ImporterFrom)
	})
	mod, goVersion := "example.com/golden", "1.26"
	if gm, ok := c.File("go.mod"); ok {
		f, err := modfile.ParseLax("go.mod", []byte(gm), nil)
		if err != nil {
			t.Fatal(err)
		}
		mod = f.Module.Mod.Path
		if f.Go != nil {
			goVersion = f.Go.Version
		}
	}
	im := &caseImporter{std: std, pkgs: map[string]*Package{}, errs: map[string]error{}}
	for _, f := range c.Archive.Files {
		if !strings.HasSuffix(f.Name, ".go") || strings.HasPrefix(f.Name, "want/") || strings.HasSuffix(f.Name, "_test.go") {
			continue
		}
		ip := mod
		if dir := path.Dir(f.Name); dir != "." {
			ip = mod + "/" + dir
		}
		file, err := parser.ParseFile(stdFset, c.Name+"/"+f.Name, f.Data, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); !strings.HasPrefix(p, mod) && strings.Contains(strings.Split(p, "/")[0], ".") {
				t.Skipf("imports %s, which needs the module cache (the golden test through the go command runs it)", p)
			}
		}
		p := im.pkgs[ip]
		if p == nil {
			p = &Package{Path: ip, GoVersion: goVersion}
			im.pkgs[ip] = p
		}
		p.Files = append(p.Files, file)
	}
	var pkgs []*Package
	for _, ip := range slices.Sorted(maps.Keys(im.pkgs)) {
		if _, err := im.Import(ip); err != nil {
			t.Fatalf("type-checking %s: %v", ip, err)
		}
		pkgs = append(pkgs, im.pkgs[ip])
	}
	return stdFset, pkgs
}

// caseImporter type-checks the case's own packages on demand and takes the
// rest from the standard library.
type caseImporter struct {
	std  types.ImporterFrom
	pkgs map[string]*Package
	errs map[string]error
}

func (im *caseImporter) Import(path string) (*types.Package, error) {
	return im.ImportFrom(path, "", 0)
}

func (im *caseImporter) ImportFrom(path, dir string, mode types.ImportMode) (*types.Package, error) {
	p := im.pkgs[path]
	if p == nil {
		return im.std.ImportFrom(path, dir, mode)
	}
	if p.Types == nil && im.errs[path] == nil {
		p.Info = &types.Info{
			Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{},
			Implicits: map[ast.Node]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{},
			Scopes: map[ast.Node]*types.Scope{}, Instances: map[*ast.Ident]types.Instance{}, FileVersions: map[*ast.File]string{},
		}
		conf := types.Config{Importer: im}
		var err error
		if p.Types, err = conf.Check(p.Path, stdFset, p.Files, p.Info); err != nil {
			im.errs[path] = err
		}
	}
	return p.Types, im.errs[path]
}
