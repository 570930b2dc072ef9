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
	w.foreignStays = map[string]bool{}
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
	seen := map[*types.Func]*wireTarget{}
	target := func(fn *types.Func) *wireTarget {
		fn = fn.Origin()
		if t, ok := seen[fn]; ok {
			return t
		}
		seen[fn] = nil
		if fn.Pkg() == nil || fn.Signature().Recv() != nil {
			return nil
		}
		t, ok := byName[[2]string{fn.Pkg().Path(), fn.Name()}]
		if !ok {
			return nil
		}
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
	plans, notes := w.planAll(fc, nil, target)
	out.Notes = notes
	if main, file := mainOf(p); main != nil {
		for _, t := range pkgLevel {
			note := PackageNote{Pos: main.Name.Pos()}
			wiring, wired, why := w.mainPackage(t, main, file)
			note.Wired, note.Why = wired, why
			if wiring != nil {
				pl, why := w.place(fc, nil, *wiring, CallKey{}, t.Finding, wired)
				if why != "" {
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
