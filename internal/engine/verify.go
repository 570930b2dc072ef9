package engine

// What is verified before anything is written, and why that much:
//
//  1. Each fixed package is type-checked with its new files (internal/fixpkg), against
//     the dependencies as they were. A fix that does not compile is dropped.
//  2. Every loaded package that imports a fixed package, directly or through
//     other loaded packages, is type-checked again against the fixed
//     packages, in dependency order, reusing the syntax already loaded
//     (verifyImporters). A new Shutdown method or stop field can make a
//     selector ambiguous (two embedded types at the same depth) or stop a
//     type from satisfying an interface it satisfied; both fail here. It
//     can also silently change what a selector means (a promoted Shutdown
//     at a shallower depth now wins over a deeper one), which type-checks:
//     so every selector that was resolved before must resolve along the
//     same embedding path after.
//  3. Each fixed package's own _test.go files, in-package and external, are
//     type-checked with the new content (verifyTests), once per pass and
//     only for the fixed packages, not for the tests of importers.
//     With Options.Tests the test files are loaded in the first place, and
//     step 2 covers them.
//  4. With several platforms, each fixed package is type-checked on every
//     platform (verifyPlatforms).
//
// Importers outside the loaded packages (other modules, or packages the
// patterns did not match) are not checked: run on ./... to include them.
// Nor are importers that reach a fixed package through a package that did
// not load (see affected).
// When a check fails, the fixes of every fixed package the failing one
// depends on are dropped, and the check runs again without them.

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

// A verifier type-checks rewritten packages before anything is written, and
// runs the go vet checks a fix could upset, so that a fix that would not
// compile or vet is dropped instead of breaking the build.
type verifier struct {
	ctx context.Context
	dir string
	env []string

	known map[string]*types.Package // packages of rewrite.MayImport found among the loaded ones' dependencies
	once  sync.Once
	// extra holds the packages of rewrite.MayImport loaded on their own, by
	// the first std that needs one. It stays nil when that load fails: a
	// fix that imports one of them then does not verify, and is dropped.
	extra map[string]*types.Package
	// source, when set, loads the packages of rewrite.MayImport from source, into the
	// types of the loaded packages; otherwise go/packages loads them.
	source func() map[string]*types.Package
}

// newVerifier returns a verifier for packages loaded from dir with env;
// pkgs are the loaded packages, whose dependencies it reuses.
func newVerifier(ctx context.Context, dir string, env []string, pkgs ...*packages.Package) *verifier {
	v := &verifier{ctx: ctx, dir: dir, env: env, known: map[string]*types.Package{}}
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

// check type-checks pkg with the changed files replaced by their new
// content. Imports resolve through override first, when it is not nil,
// then through the package's own imports. It records into info when that
// is not nil, and returns the new package.
func (v *verifier) check(pkg *packages.Package, changed map[string][]byte, override func(*packages.Package) *types.Package, info *types.Info) (*types.Package, error) {
	// An importer (its own code did not change), or a test variant, loaded
	// without type information, is not vetted: the fixed package itself
	// was vetted when it was fixed.
	return fixpkg.Check(v.view(pkg, override), changed, info, override == nil && pkg.TypesInfo != nil)
}

// view returns pkg as the per-package core sees it, its imports resolved
// through override first, when it is not nil, then through the package's
// own imports, then, for what a fix may add, through v.std.
func (v *verifier) view(pkg *packages.Package, override func(*packages.Package) *types.Package) *fixpkg.Package {
	p := &fixpkg.Package{
		Path: pkg.PkgPath, Fset: pkg.Fset, Syntax: pkg.Syntax, Types: pkg.Types, Info: pkg.TypesInfo,
		GoFiles: pkg.GoFiles, Sizes: pkg.TypesSizes,
		Importer: importerFunc(func(path string) (*types.Package, error) {
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
func (v *verifier) std(path string) *types.Package {
	if !slices.Contains(rewrite.MayImport, path) {
		return nil
	}
	if p := v.known[path]; p != nil {
		return p
	}
	v.once.Do(func() {
		if v.source != nil {
			v.extra = v.source()
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

// An importerFunc is a types.Importer.
type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// verifyImporters type-checks again, against the fixed packages, every
// loaded package that depends on one of them (step 2 above).
func (r *run) verifyImporters(clean []*packages.Package, fixes []*pkgFix, v *verifier) {
	inSet := map[*packages.Package]bool{}
	for _, p := range clean {
		inSet[p] = true
	}
	// Each round checks the packages the fixes left so far affect; a round
	// that fails withdraws the files of at least one pkgFix (unwire or
	// drop), so the rounds end.
	for {
		changed := map[*packages.Package]*pkgFix{}
		for _, pf := range fixes {
			if len(pf.files) > 0 {
				changed[pf.pkg] = pf
			}
		}
		if len(changed) == 0 {
			return
		}
		// newTypes holds the types checked in this round: a package checked
		// later, its dependencies first, imports them through override
		// instead of the types it was loaded with.
		order := affected(clean, inSet, changed)
		newTypes := map[*packages.Package]*types.Package{}
		override := func(dep *packages.Package) *types.Package { return newTypes[dep] }
		var failed *packages.Package
		var failure error
		for _, p := range order {
			if r.ctx.Err() != nil {
				return
			}
			var files map[string][]byte
			if pf := changed[p]; pf != nil {
				files = pf.files
			}
			info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}} // all sameSelections reads
			tp, err := v.check(p, files, override, info)
			if err == nil {
				err = sameSelections(p, info)
			}
			if err != nil {
				failed, failure = p, err
				break
			}
			newTypes[p] = tp
		}
		if failed == nil {
			return
		}
		// A package that only wires in other packages' cleanups loses
		// its wiring first: the check then tells whether their fixes
		// break it on their own.
		if pf := changed[failed]; pf != nil && pf.wiring != nil {
			pf.unwire(relTo(r.dir, failure))
			continue
		}
		blamed := dependsOn(failed, changed)
		for _, pf := range blamed {
			if pf.pkg == failed && len(blamed) == 1 {
				pf.drop("the fix would not compile: " + relTo(r.dir, failure))
			} else {
				pf.drop(fmt.Sprintf("the fix would break %s: %s", failed.PkgPath, relTo(r.dir, failure)))
			}
		}
	}
}

// affected returns, dependencies first, the loaded packages that are
// changed or import a changed one through loaded packages. A package that
// also reaches a changed one through a package outside the set (one that
// did not load, or was checked for its API only) is left out, and so are
// its importers: that package keeps the old types, and mixing them with the
// new ones would fail on types that are in fact the same.
func affected(clean []*packages.Package, inSet map[*packages.Package]bool, changed map[*packages.Package]*pkgFix) []*packages.Package {
	// reachesAny: p reaches a changed package by any path at all.
	reachesAny := reaching(func(p *packages.Package) bool { return changed[p] != nil })

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
		r := changed[p] != nil
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

// dependsOn returns the changed packages among p and its dependencies.
func dependsOn(p *packages.Package, changed map[*packages.Package]*pkgFix) []*pkgFix {
	var out []*pkgFix
	visitDeps(p, func(q *packages.Package) {
		if pf := changed[q]; pf != nil {
			out = append(out, pf)
		}
	})
	return out
}

// sameSelections reports a selector of p's unchanged files that now
// resolves along another embedding path than it did when p was loaded: a
// promoted method or field the fix added has shadowed another one.
func sameSelections(p *packages.Package, now *types.Info) error {
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

// describe names what s selects, for sameSelections' message.
func describe(s *types.Selection) string {
	if f, ok := s.Obj().(*types.Func); ok {
		return f.FullName()
	}
	return fmt.Sprintf("field %s of %s", s.Obj().Name(), s.Recv())
}

// stdFrom returns what loads the packages of rewrite.MayImport (a fix's new imports)
// from source into c's types, so that they share with the packages c
// checked the types of what they import.
func (r *run) stdFrom(c *load.Checker, dir string, env []string) func() map[string]*types.Package {
	return func() map[string]*types.Package {
		roots, err := load.List(&load.Config{Context: r.ctx, Dir: dir, Env: env, BuildFlags: r.opts.BuildFlags}, rewrite.MayImport...)
		if err != nil {
			return nil
		}
		// For their API only: a fix calls into them, and nothing analyses
		// them.
		if err := c.Check(r.ctx, roots, func(*packages.Package) load.Need { return load.API }); err != nil {
			return nil
		}
		out := map[string]*types.Package{}
		for _, p := range roots {
			if t, ok := c.Package(p); ok {
				out[p.PkgPath] = t.Types
			}
		}
		return out
	}
}
