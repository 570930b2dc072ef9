package engine

import (
	"go/ast"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// wire fills in, for every fixed finding, what the engineer must call for
// the fix to take effect, and where the work is started in the loaded
// packages: a Shutdown nobody calls stops nothing.
func (r *run) wire(clean []*packages.Package, fixes []*pkgFix) {
	want := map[string][]*Wire{} // function key → the wires whose starter it is
	home := map[*Wire]string{}   // → the import path of the package fixed
	// notes gathers every pkgFix's notes in one map (a CallKey names its
	// file); of leads from a rule's finding to the engine's, for the
	// wiring-only pkgFixes, whose notes and edits name the former.
	notes := map[fixpkg.CallKey]fixpkg.WireNote{}
	of := map[*rules.Finding]*Finding{}
	for _, pf := range fixes {
		for k, n := range pf.wired {
			notes[k] = n
		}
		// A cached pkgFix has no rules' findings, and nothing fixed: the
		// loop skips it. of points into pf.findings, which merge copies
		// into the run after wire, so what wire sets there is reported.
		for i, rf := range pf.found {
			of[rf] = &pf.findings[i]
			d, ok := pf.done[rf]
			if !pf.findings[i].Fixed || rf.Fix == nil || !ok {
				continue
			}
			w := describeFix(rf.Fix, d)
			if w == nil {
				continue
			}
			// One Wire per fixed finding: two loops of one type share a
			// Shutdown, and each finding names it and its own starter.
			pf.findings[i].Wire = w
			home[w] = pf.pkg.PkgPath
			// By funcKey: a caller in another package refers to the
			// starter through its own *types.Func.
			if fn, ok := pf.pkg.TypesInfo.Defs[rf.Fix.Base().Starter.Name].(*types.Func); ok {
				want[funcKey(fn)] = append(want[funcKey(fn)], w)
			}
		}
	}
	// What the packages that only wire did for the fixes of others: the
	// edits belong to the finding whose cleanup they call; a package-level
	// cleanup is called from main, which does not call its starter.
	for _, pf := range fixes {
		if pf.wiring == nil {
			continue
		}
		for rf, edits := range pf.wiring.Edits {
			if f := of[rf]; f != nil && f.Fixed && r.opts.Edits {
				f.Edits = append(f.Edits, edits...)
			}
		}
		for rf, n := range pf.wiring.Package {
			if f := of[rf]; f != nil && f.Wire != nil {
				f.Wire.Callers = append(f.Wire.Callers, Caller{Pos: r.position(pf.pkg.Fset, n.Pos), Func: "main", Wired: n.Wired, NotWired: n.Why})
			}
		}
	}
	if len(want) == 0 {
		return
	}
	// Callers are looked up in the packages that loaded cleanly: the others
	// have no types to tell a call of the starter by.
	for _, p := range clean {
		wanted := func(fn *types.Func) bool { return want[funcKey(fn)] != nil }
		for _, file := range p.Syntax {
			name := p.Fset.File(file.Pos()).Name()
			fixpkg.EachRef(file, name, p.TypesInfo, wanted, func(id *ast.Ident, fn *types.Func, key fixpkg.CallKey, _ []ast.Node) {
				for _, w := range want[funcKey(fn)] {
					// A call that the fix or a wiring looked at has its
					// note. For one neither did, the reason comes from the
					// fix: a constructor whose result is not *Type cannot
					// have the method called on it, or else unwired says.
					// func NewMemory() Store hands out the fixed
					// *memStore as an interface without Shutdown: its
					// callers cannot call it without a type assertion,
					// and are told so.
					c := Caller{Pos: r.position(p.Fset, id.Pos()), Func: key.Func}
					if n, ok := notes[key]; ok {
						c.Wired, c.NotWired = n.Wired, n.Why
					} else if why := fixpkg.ReturnedAs(fn, w.Type, w.Method); why != "" && w.Type != "" && w.Method != "" {
						c.NotWired = why
					} else {
						c.NotWired = unwired(w, p.PkgPath != home[w])
					}
					if !slices.Contains(w.Callers, c) {
						w.Callers = append(w.Callers, c)
					}
				}
			})
		}
	}
}

// describeFix says what a fix made stop the work, from the rewrite's own
// record of it. It returns nil when there is nothing to wire up (a ticker
// that is now stopped where it is created).
func describeFix(fix rules.Fix, d rewrite.Done) *Wire {
	site := fix.Base()
	if site.Starter == nil || (d.Method == "" && d.Ctx == "") {
		return nil
	}
	return &Wire{Starter: rules.FuncName(site.Starter), Type: d.Type, Method: d.Method, Added: d.Added, Ctx: d.Ctx}
}

// unwired says why a call of a fixed starter that wiring did not look at is
// not wired.
func unwired(w *Wire, elsewhere bool) string {
	// In the order of what makes wiring impossible whoever the caller is,
	// then what depends on where the call is.
	switch {
	case w.Method == "":
		return "" // the work honours a context: there is nothing to call
	case w.Type == "":
		return "package-level work started by a method: wiring calls a package's cleanup only from main, for work init or a package variable starts"
	case strings.HasPrefix(w.Starter, "("):
		return "the work is started by a method; where the value is made is not followed"
	case elsewhere:
		return "its package is fixed too, and a package's own fix is not combined with wiring in the cleanups of others"
	}
	return "the fixed package could not be analysed again for wiring"
}
