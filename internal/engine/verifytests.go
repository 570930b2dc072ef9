package engine

import (
	"fmt"
	"go/types"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
)

// Step 3 of verify.go: the fixed packages' own tests.

// verifyTests type-checks the test files of the fixed packages with the
// fixes applied (step 3 above). The tests are loaded as they are
// (loadTestsOf); the test variant of each fixed package is then checked
// again with its new files, and its external test package against that.
// Only when the external tests also import, through other packages, the
// package under test (whose types there would then disagree with the new
// ones) are they loaded again with the fixes as an overlay.
func (r *run) verifyTests(u unit, env []string, fixes []*pkgFix, base *load.Checker) {
	changed, paths := fixedPackages(fixes)
	if len(paths) == 0 {
		return
	}
	pkgs, source, err := r.loadTestsOf(u, env, paths, nil, base)
	if err != nil {
		return // the go command cannot list the tests at all, fix or no fix
	}
	// A verifier of the tests' own load: what a fix imports (context,
	// sync) must have the types the tests' packages were checked with,
	// not the pass's.
	v := verify.New(r.ctx, u.dir, env, pkgs...)
	v.Source = source
	var slow []*pkgFix
	for _, path := range paths {
		pf := changed[path]
		// The test variant holds the package's files and its in-package
		// tests; without such tests, external tests import the package itself.
		var tv *packages.Package
		for _, p := range pkgs {
			if p.PkgPath == path && (p.ForTest == path || tv == nil && p.ID == path) {
				tv = p
			}
		}
		if tv == nil || len(tv.Errors) > 0 {
			continue // broken before the fix: nothing to compare with
		}
		// The fix's new files replace theirs in the test variant: a test
		// that declares a method or field the fix adds (a helper
		// func (c *Cache) Shutdown() in cache_test.go) now collides.
		tp, err := v.Check(tv, pf.files, nil, nil)
		if err != nil {
			pf.drop("the fix would break the tests of " + path + ": " + relTo(r.dir, err))
			continue
		}
		// The external tests of path import tv; they are checked against
		// tp, the types tv has with the fix.
		for _, xt := range pkgs {
			if xt.ForTest != path || xt.PkgPath == path || len(xt.Errors) > 0 || xt.Imports[path] != tv {
				continue
			}
			// package cache_test imports cache and cachetest, which
			// imports cache too: cachetest was checked against the old
			// cache, and an override of cache alone would mix its types
			// with the new ones. A load with the fix as an overlay checks
			// that.
			if reachesThroughOthers(xt, tv) {
				slow = append(slow, pf)
				break
			}
			override := func(dep *packages.Package) *types.Package {
				if dep == tv {
					return tp
				}
				return nil
			}
			if _, err := v.Check(xt, nil, override, nil); err != nil {
				pf.drop("the fix would break the tests of " + path + ": " + relTo(r.dir, err))
				break
			}
		}
	}
	if len(slow) > 0 {
		r.verifyTestsFromSource(u, env, slow)
	}
}

// reachesThroughOthers reports whether p imports target through another
// package, not only directly.
func reachesThroughOthers(p, target *packages.Package) bool {
	// target starts seen, so that the walk does not go on below it: what
	// target imports cannot lead back to target.
	seen := map[*packages.Package]bool{target: true}
	var visit func(q *packages.Package) bool
	visit = func(q *packages.Package) bool {
		if seen[q] {
			return false
		}
		seen[q] = true
		for _, dep := range q.Imports {
			if dep == target || visit(dep) {
				return true
			}
		}
		return false
	}
	for _, dep := range p.Imports {
		if dep != target && visit(dep) {
			return true
		}
	}
	return false
}

// loadTestsOf loads paths with their tests, with syntax and types but no
// types.Info: from source, unless the run is the reference, which loads
// them with go/packages (and reuses the go command's export data). From
// source, the packages between the tests and paths have their function
// bodies checked too, so that a fix that breaks them is seen. source loads
// the packages a fix may add into the same types, or is nil.
func (r *run) loadTestsOf(u unit, env, paths []string, overlay map[string][]byte, base *load.Checker) (pkgs []*packages.Package, source func() map[string]*types.Package, err error) {
	if !r.fast() {
		pkgs, err = packages.Load(r.testConfig(u, env, overlay), paths...)
		return pkgs, nil, err
	}
	// By PkgPath, so that the test variant of a fixed package counts as
	// well as the package itself.
	target := map[string]bool{}
	for _, p := range paths {
		target[p] = true
	}
	reaches := load.Reaching(func(p *packages.Package) bool { return target[p.PkgPath] })
	// Tests is set whatever the run's Options say, and only the build
	// flags carry over: the tests are loaded to be checked, not analysed.
	cfg := &load.Config{Context: r.ctx, Dir: u.dir, Env: env, BuildFlags: r.opts.BuildFlags, Tests: true, Overlay: overlay}
	pkgs, c, err := load.Source(cfg, paths, nil, reaches, base)
	if err != nil {
		return nil, nil, err
	}
	return pkgs, r.stdFrom(c, u.dir, env), nil
}

// testConfig is how the reference run loads tests with go/packages: with
// no types.Info, since the tests are only type-checked, never analysed or
// vetted.
func (r *run) testConfig(u unit, env []string, overlay map[string][]byte) *packages.Config {
	return &packages.Config{
		Context:    r.ctx,
		Mode:       packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesSizes | packages.NeedModule | packages.NeedForTest,
		Dir:        u.dir,
		Tests:      true,
		BuildFlags: r.opts.BuildFlags,
		Env:        env,
		Overlay:    overlay,
	}
}

// fixedPackages returns the fixes that change something, by import path,
// and their paths in the order of fixes.
func fixedPackages(fixes []*pkgFix) (map[string]*pkgFix, []string) {
	changed := map[string]*pkgFix{}
	var paths []string
	for _, pf := range fixes {
		// A wiring adds calls inside a function body, which cannot
		// change what the package's tests see of it.
		if len(pf.files) > 0 && pf.wiring == nil {
			changed[pf.pkg.PkgPath] = pf
			paths = append(paths, pf.pkg.PkgPath)
		}
	}
	return changed, paths
}

// verifyTestsFromSource type-checks the tests of the fixed packages with
// go/packages and the fixes as an overlay, which type-checks every
// dependency from source.
//
// A round that drops fixes is followed by one that checks the fixes left,
// until a round drops nothing; three rounds bound the loads (two a round),
// each of which type-checks every dependency from source.
func (r *run) verifyTestsFromSource(u unit, env []string, fixes []*pkgFix) {
	for round := 0; round < 3; round++ {
		// The earlier platforms' fixes and this pass's, together: the
		// tests must compile against the files as they would be written.
		overlay := r.snapshot()
		if overlay == nil {
			overlay = map[string][]byte{}
		}
		changed, paths := fixedPackages(fixes)
		for _, pf := range fixes {
			for name, content := range pf.files {
				overlay[name] = content
			}
		}
		if len(paths) == 0 {
			return
		}
		broken := r.loadTests(u, env, paths, overlay)
		if len(broken) == 0 {
			return
		}
		// The tests are loaded without the fixes only when something is
		// broken with them, to tell what the fixes broke.
		before := r.loadTests(u, env, paths, nil)
		dropped := false
		// A broken package is blamed on the fixed packages among its
		// dependencies, all of them: which of their fixes is at fault is
		// not known.
		for id, b := range broken {
			if _, ok := before[id]; ok {
				continue // the tests did not compile before the fix either
			}
			for _, path := range b.deps {
				if pf := changed[path]; pf != nil && len(pf.files) > 0 {
					pf.drop(fmt.Sprintf("the fix would break the tests of %s: %s", b.pkg.PkgPath, relTo(r.dir, b.err)))
					dropped = true
				}
			}
		}
		if !dropped {
			return
		}
	}
}

// A brokenPkg is a package that loadTests found with errors.
type brokenPkg struct {
	pkg  *packages.Package
	err  error
	deps []string // import paths of the package and everything it imports
}

// loadTests loads paths with their tests, with overlay, and returns the
// packages that have errors, by ID.
func (r *run) loadTests(u unit, env, paths []string, overlay map[string][]byte) map[string]brokenPkg {
	pkgs, _, err := r.loadTestsOf(u, env, paths, overlay, nil)
	broken := map[string]brokenPkg{}
	if err != nil {
		// The go command failed as a whole: say so against every package.
		for _, path := range paths {
			broken[path] = brokenPkg{pkg: &packages.Package{PkgPath: path}, err: err, deps: []string{path}}
		}
		return broken
	}
	// Every package of the load, not only the roots: a test helper package
	// between the tests and a fixed package may be the one that breaks.
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		if len(p.Errors) == 0 {
			return
		}
		var deps []string
		load.VisitDeps(p, func(q *packages.Package) { deps = append(deps, q.PkgPath) })
		broken[p.ID] = brokenPkg{pkg: p, err: load.PkgErrors(u.dir, p)[0], deps: deps}
	})
	return broken
}
