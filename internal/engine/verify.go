package engine

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/types"
	"sync"

	"golang.org/x/tools/go/packages"
)

// A verifier type-checks rewritten packages before anything is written, and
// runs the go vet checks a fix could upset, so that a fix that would not
// compile or vet is dropped instead of breaking the build.
type verifier struct {
	ctx  context.Context
	dir  string
	opts Options

	once  sync.Once
	extra map[string]*types.Package // standard packages a fix may add imports of
	err   error
}

func newVerifier(ctx context.Context, dir string, opts Options) *verifier {
	return &verifier{ctx: ctx, dir: dir, opts: opts}
}

// added are the packages a fix may import that the package did not.
var added = []string{"context", "os/signal", "sync", "time"}

// check type-checks pkg with the changed files replaced by their new content.
func (v *verifier) check(pkg *packages.Package, changed map[string][]byte) error {
	var files []*ast.File
	for _, f := range pkg.Syntax {
		name := pkg.Fset.File(f.Pos()).Name()
		if content, ok := changed[name]; ok {
			nf, err := parser.ParseFile(pkg.Fset, name, content, parser.SkipObjectResolution)
			if err != nil {
				return fmt.Errorf("it would not parse: %w", err)
			}
			files = append(files, nf)
			continue
		}
		files = append(files, f)
	}
	imports := map[string]*types.Package{}
	for _, imp := range pkg.Types.Imports() {
		imports[imp.Path()] = imp
	}
	conf := types.Config{
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if p, ok := imports[path]; ok {
				return p, nil
			}
			if p := v.std(path); p != nil {
				return p, nil
			}
			return nil, fmt.Errorf("cannot import %q", path)
		}),
		Sizes: pkg.TypesSizes,
	}
	if pkg.Module != nil && pkg.Module.GoVersion != "" {
		conf.GoVersion = "go" + pkg.Module.GoVersion
	}
	var first error
	conf.Error = func(err error) {
		if first == nil {
			first = err
		}
	}
	info := &types.Info{
		Types:        map[ast.Expr]types.TypeAndValue{},
		Defs:         map[*ast.Ident]types.Object{},
		Uses:         map[*ast.Ident]types.Object{},
		Implicits:    map[ast.Node]types.Object{},
		Selections:   map[*ast.SelectorExpr]*types.Selection{},
		Scopes:       map[ast.Node]*types.Scope{},
		Instances:    map[*ast.Ident]types.Instance{},
		FileVersions: map[*ast.File]string{},
	}
	checked := types.NewPackage(pkg.PkgPath, pkg.Name)
	types.NewChecker(&conf, pkg.Fset, checked, info).Files(files)
	if first != nil {
		return fmt.Errorf("it would not compile: %w", first)
	}

	// The fix must not add what go vet would report.
	before, err := vet(pkg.Fset, pkg.Syntax, pkg.Types, pkg.TypesInfo)
	if err != nil {
		return err
	}
	after, err := vet(pkg.Fset, files, checked, info)
	if err != nil {
		return err
	}
	if added := newVetFindings(before, after); len(added) > 0 {
		return fmt.Errorf("go vet would report %s", added[0])
	}
	return nil
}

// std loads the packages in added once, on first need.
func (v *verifier) std(path string) *types.Package {
	v.once.Do(func() {
		cfg := &packages.Config{Context: v.ctx, Mode: packages.NeedName | packages.NeedTypes, Dir: v.dir, Env: v.opts.Env}
		pkgs, err := packages.Load(cfg, added...)
		if err != nil {
			v.err = err
			return
		}
		v.extra = map[string]*types.Package{}
		for _, p := range pkgs {
			v.extra[p.PkgPath] = p.Types
		}
	})
	return v.extra[path]
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
