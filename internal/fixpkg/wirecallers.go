package fixpkg

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/rules"
)

// CallerWiring is what WireCallers did in one package.
type CallerWiring struct {
	// Files and Old hold the new and present content of the files the
	// wirings change; both are empty when nothing was wired.
	Files, Old map[string][]byte
	// Notes says, for each call of a target's constructor in the package,
	// where its cleanup is now called or why it is not.
	Notes map[CallKey]WireNote
	// Package says, for each package-level target main could call, where
	// it now is or why not.
	Package map[*rules.Finding]PackageNote
	// Edits holds the wirings' edits, by the finding whose cleanup each
	// calls.
	Edits map[*rules.Finding][]Edit
}

// A PackageNote says what became of a package-level cleanup in main.
type PackageNote struct {
	Pos        token.Pos // main's name
	Wired, Why string
}

// WireCallers calls the cleanups that fixes of other packages made
// (targets) in p, a package that calls their constructors or, as a
// command, imports their package-level work, and whose own code no fix
// changes: where p shows a value's life ends (the cleanup of the owner
// whose field holds it, the return of the function that made it, main's
// shutdown path), as wireUp does in a fixed package. accept, as
// Options.Accept, gives the present content of each file a wiring changes,
// or why it must not be written: then the package is left unwired.
//
// The result is not type-checked: the calls it adds exist only in the
// fixed packages, against which the caller checks p (the engine's
// verifyImporters). Targets must be of packages p imports directly, but
// for package-level ones, which main may reach through other packages.
func WireCallers(p *Package, targets []Target, tests bool, accept func(name string, content []byte) ([]byte, string)) *CallerWiring {
	out := &CallerWiring{Notes: map[CallKey]WireNote{}, Package: map[*rules.Finding]PackageNote{}}
	fc := classify(p, tests)
	w := newWirer(p)
	// What the fixed packages found of their own methods (Target.Stays),
	// keyed as methodKey keys them: receiverStays cannot read those
	// methods' bodies from here.
	w.foreignStays = map[string]bool{}
	// By the constructor's package and name: p sees the fixed packages as
	// they were, whose objects are not those the targets were made from.
	byName := map[[2]string]Target{}
	var pkgLevel []Target
	for _, t := range targets {
		if t.Starter == "" {
			pkgLevel = append(pkgLevel, t)
		} else {
			byName[[2]string{t.Pkg, t.Starter}] = t
			for _, m := range t.Stays {
				w.foreignStays[t.Pkg+"."+t.Type+"."+m] = true
			}
		}
	}
	// seen remembers misses too, so that a function met again is not
	// looked up again.
	seen := map[*types.Func]*wireTarget{}
	target := func(fn *types.Func) *wireTarget {
		fn = fn.Origin()
		if t, ok := seen[fn]; ok {
			return t
		}
		seen[fn] = nil
		// Only constructors are targets (see wirer.targets).
		if fn.Pkg() == nil || fn.Signature().Recv() != nil {
			return nil
		}
		t, ok := byName[[2]string{fn.Pkg().Path(), fn.Name()}]
		if !ok {
			return nil
		}
		// The owner type as p sees it: the old one, which lacks an added
		// cleanup; the wiring only names the method (wireTarget).
		tn, _ := fn.Pkg().Scope().Lookup(t.Type).(*types.TypeName)
		if tn == nil {
			return nil
		}
		named, _ := types.Unalias(tn.Type()).(*types.Named)
		if named == nil {
			return nil
		}
		wt := &wireTarget{typ: named, method: t.Method, label: t.Label, params: t.Params, results: t.Results,
			added: t.Added, starter: fn, first: t.Finding, foreign: true, hang: t.Hang}
		seen[fn] = wt
		return wt
	}
	// No files: p's code is unchanged, so a planned offset is in the file
	// as it is, which wiringEdits reads directly.
	plans, notes := w.planAll(fc, nil, target)
	out.Notes = notes
	// Package-level work ends with the process: only a command's main,
	// which outlives every use of the package, may stop it.
	if main, file := mainOf(p); main != nil {
		for _, t := range pkgLevel {
			note := PackageNote{Pos: main.Name.Pos()}
			wiring, wired, why := w.mainPackage(t, main, file)
			note.Wired, note.Why = wired, why
			if wiring != nil {
				pl, why := w.place(fc, nil, *wiring, CallKey{}, t.Finding, wired)
				if why != "" {
					// Planned but not placeable: the plan's Wired does not stand.
					note.Wired, note.Why = "", why
				} else {
					plans = append(plans, pl)
				}
			}
			out.Package[t.Finding] = note
		}
	}
	if len(plans) == 0 {
		return out
	}
	// The wirings of a package are written together or not at all, as a
	// fix is: they share its files. fail tells every one of them why.
	fail := func(why string) *CallerWiring {
		for _, pl := range plans {
			if pl.key == (CallKey{}) {
				n := out.Package[pl.f]
				n.Wired, n.Why = "", why
				out.Package[pl.f] = n
			} else {
				out.Notes[pl.key] = WireNote{Why: why}
			}
		}
		return out
	}
	files, err := applyWirings(p.rewrite(), nil, plans)
	if err != nil {
		return fail("the wiring could not be written: " + err.Error())
	}
	out.Files, out.Old = map[string][]byte{}, map[string][]byte{}
	// A file Accept refuses leaves the whole package unwired: its
	// wirings are written together or not at all.
	for name, content := range files {
		old, why := accept(name, content)
		if why != "" {
			out.Files, out.Old = nil, nil
			return fail("the wiring would edit " + filepath.Base(name) + ": " + why)
		}
		out.Files[name], out.Old[name] = content, old
	}
	for _, pl := range plans {
		if pl.key == (CallKey{}) {
			n := out.Package[pl.f]
			n.Wired = pl.wired
			out.Package[pl.f] = n
		} else {
			out.Notes[pl.key] = WireNote{Wired: pl.wired}
		}
	}
	out.Edits = wiringEdits(out.Files, out.Old, plans)
	return out
}

// mainOf returns a command's func main and its file.
func mainOf(p *Package) (*ast.FuncDecl, *ast.File) {
	if p.Types.Name() != "main" {
		return nil, nil
	}
	for _, f := range p.Syntax {
		for _, d := range f.Decls {
			// A main without a body (declared for assembly) has nowhere to
			// defer a call.
			if fd, ok := d.(*ast.FuncDecl); ok && isMain(p, fd) && fd.Body != nil {
				return fd, f
			}
		}
	}
	return nil, nil
}

// wiringEdits divides the wirings' change among the findings whose
// cleanups they call: each line-level edit goes to the wiring inserting at
// its place.
func wiringEdits(files, old map[string][]byte, plans []planned) map[*rules.Finding][]Edit {
	out := map[*rules.Finding][]Edit{}
	for name, content := range files {
		src := string(old[name])
		lines := lineStarts(src)
		for _, e := range udiff.Lines(src, string(content)) {
			// Every edit goes to some finding, so that the edits together
			// make up the change; one no plan claims goes to the first.
			owner := plans[0].f
			for _, pl := range plans {
				if pl.at.file == name && pl.at.off >= e.Start && pl.at.off <= e.End {
					owner = pl.f
					break
				}
			}
			out[owner] = append(out[owner], Edit{Path: name, Start: position(name, lines, e.Start), End: position(name, lines, e.End), New: e.New})
		}
	}
	sortEdits(out)
	return out
}
