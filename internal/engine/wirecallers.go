package engine

import (
	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
	"github.com/leakfix/leakfix/rules"
)

// wireCallers calls the cleanups the fixes made in the loaded packages
// that call their constructors, or, as commands, import their package-level
// work, where those packages show the values' lives end (fixpkg.WireCallers).
// Each such package no fix changes gets a pkgFix that only wires, which
// verifyImporters then checks against the fixed packages like any importer;
// one that does not verify loses its wiring, not the fixes it calls.
func (r *run) wireCallers(clean []*packages.Package, fixes []*pkgFix, v *verify.Verifier) []*pkgFix {
	byPath := map[string][]fixpkg.Target{}
	fixed := map[*packages.Package]bool{}
	for _, pf := range fixes {
		if len(pf.files) > 0 {
			fixed[pf.pkg] = true
			byPath[pf.pkg.PkgPath] = append(byPath[pf.pkg.PkgPath], pf.targets...)
		}
	}
	for _, p := range clean {
		// A package with a fix of its own is not wired as well; unwired
		// says so at its calls.
		if fixed[p] || r.ctx.Err() != nil {
			continue
		}
		// Only a package that imports a fixed one directly can call its
		// constructors, or, as a command, import its package-level work.
		var targets []fixpkg.Target
		for path, ts := range byPath {
			switch {
			case p.Imports[path] != nil:
				targets = append(targets, ts...)
			case p.Name == "main" && reachesPath(p, path):
				// Only main can call a package-level cleanup; one it
				// imports through others is reported as such (main imports
				// server, which imports metrics, whose init starts the
				// work: main gets a note, not a change, as calling
				// metrics.Shutdown would add an import main does not have).
				for _, t := range ts {
					if t.Starter == "" {
						targets = append(targets, t)
					}
				}
			}
		}
		if len(targets) == 0 {
			continue
		}
		// Every caller package gets its pkgFix, wired or not: its notes
		// say at each call where the cleanup is now called, or why not.
		cw := fixpkg.WireCallers(v.View(p, nil), targets, r.opts.Tests, func(name string, _ []byte) ([]byte, string) {
			return r.current(p, name)
		})
		fixes = append(fixes, &pkgFix{pkg: p, files: cw.Files, old: cw.Old, wired: cw.Notes, wiring: cw})
	}
	return fixes
}

// unwire withdraws a wiring-only pkgFix's wirings, which did not verify.
//
// Its notes stay, with the reason, so that each call of the fixed starter
// still says what became of it.
func (pf *pkgFix) unwire(reason string) {
	why := "the wiring did not verify: " + reason
	for k, n := range pf.wired {
		if n.Wired != "" {
			pf.wired[k] = fixpkg.WireNote{Why: why}
		}
	}
	for f, n := range pf.wiring.Package {
		if n.Wired != "" {
			n.Wired, n.Why = "", why
			pf.wiring.Package[f] = n
		}
	}
	// Without its edits and files, nothing of the wiring reaches the
	// findings (wire) or the overlay (merge).
	pf.wiring.Edits = nil
	pf.files, pf.old = nil, nil
}

// unwireDropped withdraws each wiring that calls the cleanup of a fix
// dropped after the wirings were verified: the call would name a method
// its package no longer gets, and the wiring's package would not compile.
func unwireDropped(fixes []*pkgFix) {
	gone := map[*rules.Finding]string{} // the findings of dropped fixes → why they were dropped
	for _, pf := range fixes {
		if pf.wiring != nil || pf.files != nil {
			continue
		}
		for i, f := range pf.found {
			if pf.findings[i].Unfixed != "" {
				gone[f] = pf.findings[i].Unfixed
			}
		}
	}
	for _, pf := range fixes {
		if pf.wiring == nil || pf.files == nil {
			continue
		}
		for f := range pf.wiring.Edits {
			if why, ok := gone[f]; ok {
				pf.unwire("its cleanup is not made: " + why)
				break
			}
		}
	}
}

// reachesPath reports whether p imports the package path, directly or not.
func reachesPath(p *packages.Package, path string) bool {
	found := false
	load.VisitDeps(p, func(q *packages.Package) { found = found || q.PkgPath == path })
	return found
}
