package engine

// What is verified before anything is written, and why, is told in
// internal/verify. The engine decides what a failure costs: the fixes it
// is blamed on are dropped, or a wiring withdrawn, and the check runs
// again without them.

import (
	"fmt"
	"go/types"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
	"github.com/leakfix/leakfix/rewrite"
)

// verifyImporters type-checks again, against the fixed packages, every
// loaded package that depends on one of them (verify.Importers), and
// withdraws what breaks one.
func (r *run) verifyImporters(clean []*packages.Package, fixes []*pkgFix, v *verify.Verifier) {
	// Each round checks the packages the fixes left so far affect; a round
	// that fails withdraws the files of at least one pkgFix (unwire or
	// drop), so the rounds end.
	for {
		changed := map[*packages.Package]*pkgFix{}
		files := map[*packages.Package]map[string][]byte{}
		for _, pf := range fixes {
			if len(pf.files) > 0 {
				changed[pf.pkg], files[pf.pkg] = pf, pf.files
			}
		}
		if len(changed) == 0 {
			return
		}
		failed, failure := verify.Importers(r.ctx, clean, files, v)
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
		blamed := verify.DependsOn(failed, files)
		for _, p := range blamed {
			if pf := changed[p]; p == failed && len(blamed) == 1 {
				pf.drop("the fix would not compile: " + relTo(r.dir, failure))
			} else {
				pf.drop(fmt.Sprintf("the fix would break %s: %s", failed.PkgPath, relTo(r.dir, failure)))
			}
		}
	}
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
