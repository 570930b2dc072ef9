// Package verify checks leakfix's fixes before anything is written, so
// that a fix that would not compile is dropped instead of breaking the
// build. What is verified, and why that much:
//
//  1. Each fixed package is type-checked with its new files (internal/fixpkg), against
//     the dependencies as they were. A fix that does not compile is dropped.
//  2. Every loaded package that imports a fixed package, directly or through
//     other loaded packages, is type-checked again against the fixed
//     packages, in dependency order, reusing the syntax already loaded
//     (Importers). A new Shutdown method or stop field can make a
//     selector ambiguous (two embedded types at the same depth) or stop a
//     type from satisfying an interface it satisfied; both fail here. It
//     can also silently change what a selector means (a promoted Shutdown
//     at a shallower depth now wins over a deeper one), which type-checks:
//     so every selector that was resolved before must resolve along the
//     same embedding path after.
//  3. Each fixed package's own _test.go files, in-package and external, are
//     type-checked with the new content (the engine's verifyTests), once per pass and
//     only for the fixed packages, not for the tests of importers.
//     With Options.Tests the test files are loaded in the first place, and
//     step 2 covers them.
//  4. With several platforms, each fixed package is type-checked on every
//     platform (the engine's verifyPlatforms).
//
// Importers outside the loaded packages (other modules, or packages the
// patterns did not match) are not checked: run on ./... to include them.
// Nor are importers that reach a fixed package through a package that did
// not load (see Affected).
// When a check fails, the engine drops the fixes of every fixed package
// the failing one depends on (DependsOn), and the check runs again
// without them.
package verify

import (
	"context"
	"fmt"
	"go/ast"
	"go/types"
	"slices"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/rewrite"
)

// A Verifier type-checks rewritten packages before anything is written, and
// runs the go vet checks a fix could upset, so that a fix that would not
// compile or vet is dropped instead of breaking the build.
type Verifier struct {
	ctx context.Context
	dir string
	env []string

	known map[string]*types.Package // packages of rewrite.MayImport found among the loaded ones' dependencies
	once  sync.Once
	// extra holds the packages of rewrite.MayImport loaded on their own, by
	// the first std that needs one. It stays nil when that load fails: a
	// fix that imports one of them then does not verify, and is dropped.
	extra map[string]*types.Package
	// Source, when set, loads the packages of rewrite.MayImport from
	// source, into the types of the loaded packages; otherwise
	// go/packages loads them. It is called at most once, on first need.
	Source func() map[string]*types.Package
}

// New returns a Verifier for packages loaded from dir with env;
// pkgs are the loaded packages, whose dependencies it reuses.
func New(ctx context.Context, dir string, env []string, pkgs ...*packages.Package) *Verifier {
	v := &Verifier{ctx: ctx, dir: dir, env: env, known: map[string]*types.Package{}}
	// Only a complete package without errors may stand for what a fix
	// imports: one with errors would fail a good fix for reasons of its
	// own.
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		if slices.Contains(rewrite.MayImport, p.PkgPath) && p.Types != nil && p.Types.Complete() && len(p.Errors) == 0 {
			v.known[p.PkgPath] = p.Types
		}
	})
	return v
}

// Check type-checks pkg with the changed files replaced by their new
// content. Imports resolve through override first, when it is not nil,
// then through the package's own imports. It records into info when that
// is not nil, and returns the new package.
func (v *Verifier) Check(pkg *packages.Package, changed map[string][]byte, override func(*packages.Package) *types.Package, info *types.Info) (*types.Package, error) {
	// An importer (its own code did not change), or a test variant, loaded
	// without type information, is not vetted: the fixed package itself
	// was vetted when it was fixed.
	return fixpkg.Check(v.View(pkg, override), changed, info, override == nil && pkg.TypesInfo != nil)
}

// View returns pkg as the per-package core sees it, its imports resolved
// through override first, when it is not nil, then through the package's
// own imports, then, for what a fix may add, through v.std.
func (v *Verifier) View(pkg *packages.Package, override func(*packages.Package) *types.Package) *fixpkg.Package {
	p := &fixpkg.Package{
		Path: pkg.PkgPath, Fset: pkg.Fset, Syntax: pkg.Syntax, Types: pkg.Types, Info: pkg.TypesInfo,
		GoFiles: pkg.GoFiles, Sizes: pkg.TypesSizes,
		Importer: load.ImporterFunc(func(path string) (*types.Package, error) {
			if dep := pkg.Imports[path]; dep != nil {
				if override != nil {
					if p := override(dep); p != nil {
						return p, nil
					}
				}
				if dep.Types != nil {
					return dep.Types, nil
				}
			}
			if p := v.std(path); p != nil {
				return p, nil
			}
			return nil, fmt.Errorf("cannot import %q", path)
		}),
	}
	if pkg.Module != nil {
		p.GoVersion = pkg.Module.GoVersion
	}
	return p
}

// std returns one of the packages a fix may import (rewrite.MayImport): from the loaded packages'
// dependencies when they include it, else loaded once, on first need.
func (v *Verifier) std(path string) *types.Package {
	if !slices.Contains(rewrite.MayImport, path) {
		return nil
	}
	if p := v.known[path]; p != nil {
		return p
	}
	v.once.Do(func() {
		if v.Source != nil {
			v.extra = v.Source()
			return
		}
		cfg := &packages.Config{Context: v.ctx, Mode: packages.NeedName | packages.NeedTypes, Dir: v.dir, Env: v.env}
		pkgs, err := packages.Load(cfg, rewrite.MayImport...)
		if err != nil {
			return
		}
		v.extra = map[string]*types.Package{}
		for _, p := range pkgs {
			v.extra[p.PkgPath] = p.Types
		}
	})
	return v.extra[path]
}

// Importers type-checks again, against the new files of the changed
// packages, every package of clean that is changed or depends on a changed
// one (step 2 above), dependencies first, and returns the first that
// fails and why; nil when all pass, or when ctx is done. changed maps each
// changed package to its new files.
func Importers(ctx context.Context, clean []*packages.Package, changed map[*packages.Package]map[string][]byte, v *Verifier) (*packages.Package, error) {
	inSet := map[*packages.Package]bool{}
	for _, p := range clean {
		inSet[p] = true
	}
	// newTypes holds the types checked so far: a package checked later,
	// its dependencies first, imports them through override instead of
	// the types it was loaded with.
	newTypes := map[*packages.Package]*types.Package{}
	override := func(dep *packages.Package) *types.Package { return newTypes[dep] }
	for _, p := range Affected(clean, inSet, changed) {
		if ctx.Err() != nil {
			return nil, nil
		}
		info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}} // all SameSelections reads
		tp, err := v.Check(p, changed[p], override, info)
		if err == nil {
			err = SameSelections(p, info)
		}
		if err != nil {
			return p, err
		}
		newTypes[p] = tp
	}
	return nil, nil
}

// Affected returns, dependencies first, the loaded packages that are
// changed or import a changed one through loaded packages. A package that
// also reaches a changed one through a package outside the set (one that
// did not load, or was checked for its API only) is left out, and so are
// its importers: that package keeps the old types, and mixing them with the
// new ones would fail on types that are in fact the same.
func Affected(clean []*packages.Package, inSet map[*packages.Package]bool, changed map[*packages.Package]map[string][]byte) []*packages.Package {
	// reachesAny: p reaches a changed package by any path at all.
	reachesAny := load.Reaching(func(p *packages.Package) bool { _, ok := changed[p]; return ok })

	reaches := map[*packages.Package]bool{}
	mixed := map[*packages.Package]bool{}
	visited := map[*packages.Package]bool{}
	var order []*packages.Package
	var visit func(p *packages.Package) bool
	visit = func(p *packages.Package) bool {
		if visited[p] {
			return reaches[p]
		}
		visited[p] = true
		_, r := changed[p]
		for _, dep := range p.Imports {
			if !inSet[dep] {
				if reachesAny(dep) {
					mixed[p] = true
				}
				continue
			}
			if visit(dep) {
				r = true
			}
			if mixed[dep] { // through dep, p meets the old types too
				mixed[p] = true
			}
		}
		reaches[p] = r
		if r && !mixed[p] {
			order = append(order, p)
		}
		return r
	}
	for _, p := range clean {
		visit(p)
	}
	return order
}

// DependsOn returns the changed packages among p and its dependencies:
// those whose fixes a failure of p can be blamed on.
func DependsOn(p *packages.Package, changed map[*packages.Package]map[string][]byte) []*packages.Package {
	var out []*packages.Package
	load.VisitDeps(p, func(q *packages.Package) {
		if _, ok := changed[q]; ok {
			out = append(out, q)
		}
	})
	return out
}

// SameSelections reports a selector of p's unchanged files that now
// resolves along another embedding path than it did when p was loaded: a
// promoted method or field the fix added has shadowed another one.
func SameSelections(p *packages.Package, now *types.Info) error {
	for sel, s := range now.Selections {
		was := p.TypesInfo.Selections[sel]
		if was == nil {
			continue // a file the fix rewrote: its nodes are new
		}
		// The last index is the field's or method's place in the type that
		// declares it, which a new method or field may shift; the indices
		// before it are the embedding path, which must stay.
		wi, si := was.Index(), s.Index()
		if was.Kind() != s.Kind() || was.Obj().Name() != s.Obj().Name() || !slices.Equal(wi[:len(wi)-1], si[:len(si)-1]) {
			return fmt.Errorf("%s: %s would now select %s instead of %s",
				p.Fset.Position(sel.Pos()), types.ExprString(sel), describe(s), describe(was))
		}
	}
	return nil
}

// describe names what s selects, for SameSelections' message.
func describe(s *types.Selection) string {
	if f, ok := s.Obj().(*types.Func); ok {
		return f.FullName()
	}
	return fmt.Sprintf("field %s of %s", s.Obj().Name(), s.Recv())
}
