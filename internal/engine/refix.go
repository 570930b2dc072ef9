package engine

import (
	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
)

// refix takes the outcome of a pass over the fast load, which found but did
// not fix, and fixes it: the packages with a finding to fix and every
// listed package that imports one of them are type-checked again from
// source and analysed with fixes, so that the fixes can be verified
// against their importers and their starters' callers found, as after a
// full load; the other packages keep what the fast pass found. It returns
// the reloaded packages, every package's outcome and a verifier for the
// reloaded packages; ok is false when the pass was cancelled or could not
// load them again.
func (r *run) refix(pl platform, u unit, env []string, fl *fastLoad, found []*pkgFix) (clean []*packages.Package, fixes []*pkgFix, v *verify.Verifier, ok bool) {
	// Only a finding the rule offers a fix for makes its package worth a
	// load with types; a package whose findings are all unfixable keeps
	// what the fast pass found.
	fixable := map[*packages.Package]bool{}
	for _, pf := range found {
		for _, f := range pf.findings {
			if f.Fixable {
				fixable[pf.pkg] = true
			}
		}
	}
	if len(fixable) == 0 {
		// No pkgFix changes a file, so the steps after refix find nothing
		// to wire or verify, and need no verifier.
		return nil, found, nil, true
	}
	again := importersOf(fl.pkgs, fixable)
	r.tuneGC(false)
	// The types the fast load checked serve again, but for those of the
	// packages to fix again and of what imports them: those are checked
	// anew, in full. What cannot be checked that way is loaded by
	// go/packages.
	overlay := r.snapshot()
	byID := map[string]*packages.Package{}
	if c := fl.checker; c != nil {
		ids := map[string]bool{}
		for _, p := range again {
			ids[p.ID] = true
		}
		c.Forget(ids)
		if err := c.Check(r.ctx, again, func(*packages.Package) load.Need { return load.Full }); err != nil {
			return nil, nil, nil, false
		}
		for _, p := range again {
			if t, ok := c.Package(p); ok {
				byID[p.ID] = t
			}
		}
	}
	// All of them come from the checker or all from go/packages: an
	// importer from one load does not import the other load's packages, so
	// it would not be verified against their fixes.
	fromSource := len(byID) == len(again)
	if !fromSource {
		var err error
		if byID, err = load.Reload(r.loadConfig(u.dir, env, overlay), u.patterns, again, nil, nil); err != nil {
			if r.ctx.Err() == nil {
				r.addErr(err)
			}
			return nil, nil, nil, false
		}
	}
	typed := make([]*packages.Package, len(again))
	inAgain := map[string]bool{}
	for i, p := range again {
		inAgain[p.ID] = true
		if typed[i] = byID[p.ID]; typed[i] == nil {
			// Reported by analyseAll, as in loadFast.
			failed := *p
			failed.Errors = append(append([]packages.Error{}, p.Errors...), packages.Error{Pos: "-", Msg: "the package could not be loaded again with types"})
			typed[i] = &failed
		}
	}
	for _, pf := range found {
		if !inAgain[pf.pkg.ID] {
			fixes = append(fixes, pf)
		}
	}
	// What a fix may import comes from the checker only for the checker's
	// packages; go/packages' packages find it among their dependencies, or
	// the verifier loads it.
	v = verify.New(r.ctx, u.dir, env, typed...)
	if fromSource {
		v.Source = r.stdFrom(fl.checker, u.dir, env)
	}
	// Nothing is skipped or cached now: every package loaded again is
	// analysed, with fixes, and was counted by the fast pass already.
	clean, refixed := r.analyseAll(pl, u, typed, &fastLoad{}, v, true, false)
	if r.ctx.Err() != nil {
		return nil, nil, nil, false
	}
	return clean, append(fixes, refixed...), v, true
}

// importersOf returns, in pkgs' order, the packages of pkgs that are in
// set or import one of them, directly or through other packages. Packages
// are told apart by ID: the fast load's typed packages are copies of the
// listed ones that the import graph links.
func importersOf(pkgs []*packages.Package, set map[*packages.Package]bool) []*packages.Package {
	ids := map[string]bool{}
	for p := range set {
		ids[p.ID] = true
	}
	reaches := load.Reaching(func(p *packages.Package) bool { return ids[p.ID] })
	var out []*packages.Package
	for _, p := range pkgs {
		if reaches(p) {
			out = append(out, p)
		}
	}
	return out
}
