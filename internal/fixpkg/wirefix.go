package fixpkg

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// A WireNote says what wiring did about one call of a fixed starter: where
// the new cleanup is now called ("wired into (*Server).Close"), or why it
// is not.
type WireNote struct {
	Wired, Why string
}

// A siteKey names a place in a file as the fix left it, before wiring.
type siteKey struct {
	file string
	off  int
}

// A CallKey names a reference to a starter in a way a fix does not change:
// its file, the function declaring it, the starter, and its rank among
// that function's references to the starter. (Offsets would not do: a
// fix may reformat the line.)
type CallKey struct {
	File, Func, Starter string
	Rank                int
}

// EachRef calls visit for every identifier of file that refers to a
// function for which want is true, with its key and the nodes above it.
func EachRef(file *ast.File, name string, info *types.Info, want func(*types.Func) bool, visit func(id *ast.Ident, fn *types.Func, key CallKey, stack []ast.Node)) {
	// A rank counts, in source order, the references to one starter from
	// one enclosing function, which neither a fix nor a wiring adds to or
	// takes from. The engine keys the same references of the packages as
	// they were this way too (its wire.go), so that the two meet.
	ranks := map[[2]string]int{}
	for _, decl := range file.Decls {
		// Package-level declarations share one name: their initialisation
		// runs as one, before main.
		enclosing := "package initialization"
		if fd, ok := decl.(*ast.FuncDecl); ok {
			enclosing = rules.FuncName(fd)
		}
		walkStack(decl, func(n ast.Node, stack []ast.Node) {
			id, ok := n.(*ast.Ident)
			if !ok {
				return
			}
			fn, ok := info.Uses[id].(*types.Func)
			if !ok || !want(fn) {
				return
			}
			// By the origin, so that the instances of a generic constructor
			// are one starter.
			k := [2]string{enclosing, fn.Origin().FullName()}
			key := CallKey{File: name, Func: enclosing, Starter: k[1], Rank: ranks[k]}
			ranks[k]++
			visit(id, fn, key, stack)
		})
	}
}

// callOf returns the call whose function id names, when the nodes above id
// end in one.
func callOf(id *ast.Ident, stack []ast.Node) (*ast.CallExpr, []ast.Node) {
	for i := len(stack) - 2; i >= 0; i-- {
		switch n := stack[i].(type) {
		// What may lie between a call and the identifier naming its
		// function: cache.New, New[K], (New).
		case *ast.SelectorExpr, *ast.IndexExpr, *ast.IndexListExpr, *ast.ParenExpr:
			continue
		case *ast.CallExpr:
			// The identifier must name the function called, not be one of
			// its arguments (register(New)), which hands the function on.
			if calleeIdent(n) == id {
				return n, stack[:i+1]
			}
		}
		break
	}
	return nil, nil
}

// A claim gives the edit that inserts at off to the finding whose cleanup
// the inserted code calls. off is in the file as the fix left it (before;
// nil when the fix did not change it), until fixAll maps it to the file as
// it was.
type claim struct {
	path   string
	off    int
	before []byte
	f      *rules.Finding
}

// A wireTarget is a cleanup a fix made, and the constructor whose values it
// stops, as the package being wired sees them. For a target fixed in
// another package (foreign), typ and starter are that package's old types,
// which lack the new method: what the wiring needs of the method is kept
// as its name and shape, and why its work may hang was decided where it
// was fixed.
type wireTarget struct {
	typ     *types.Named // nil for package-level work
	method  string       // Shutdown, or the extended Close
	label   string       // the method as a reason names it: (*Cache).Shutdown
	params  int          // the method's parameters
	results int          // the method's results
	added   bool
	starter *types.Func // the constructor; init for package-level work
	first   *rules.Finding
	foreign bool
	hang    string // with foreign: why waiting for the work could hang, or ""
	pkg     string // with foreign and no typ: the import path of the package whose cleanup it is
}

// A Target is a cleanup a fix made, as the packages that import the fixed
// one may call it: the constructor whose values it stops, or, for work the
// package starts on its own (init, a package variable), the package-level
// function that stops it. The engine hands the targets of every fixed
// package to WireCallers for the packages that call them.
type Target struct {
	Pkg     string // import path of the fixed package
	Starter string // the constructor; "" for package-level work
	Type    string // the owner type; "" for package-level work
	Method  string // the cleanup: a method of *Type, or a function of Pkg
	Label   string // the cleanup as a reason names it: (*Cache).Shutdown
	Params  int    // the cleanup's parameters
	Results int    // the cleanup's results
	Added   bool   // the fix generated the cleanup, rather than extending one
	// Hang says why waiting for the work could hang, which makes calling
	// the cleanup where nothing waited before unsafe; "" when it cannot.
	Hang string
	// Stays names the methods of *Type that keep no reference to their
	// receiver once they return: a caller may call them and still own
	// the value alone.
	Stays   []string
	Finding *rules.Finding // the finding whose fix made the cleanup
}

// wireUp calls each new cleanup where the fixed package shows the value's
// life ends (DESIGN promise 10): from the cleanup of the owner whose field
// holds it, or when the function that made it returns. Only what it can
// prove safe is wired; for every call of a fixed constructor it says what
// it did or why not. The wired files are verified like a fix, and a wiring
// that does not verify is left out. It also returns the cleanups the fix
// made, for the packages that import this one.
func wireUp(p *Package, fc *files, files map[string][]byte, found []*rules.Finding, done map[*rules.Finding]rewrite.Done) (map[string][]byte, map[CallKey]WireNote, []claim, []Target) {
	np, err := rebuild(p, files)
	// The fix was verified, so this is defensive: nothing is wired
	// and no cleanup is told to the importers.
	if err != nil {
		return files, nil, nil, nil
	}
	w := newWirer(np)
	targets, exported := w.targets(p, found, done)
	// No cleanup has its constructor in sight here; package-level
	// ones may still be called from main, in the importers (exported).
	if len(targets) == 0 {
		return files, nil, nil, exported
	}
	plans, notes := w.planAll(fc, files, func(fn *types.Func) *wireTarget { return targets[fn.Origin()] })
	if len(plans) == 0 {
		return files, notes, nil, exported
	}
	rp := np.rewrite()
	// Checked, vet included, against p as it was: merged holds the fix
	// and the wiring, the whole of what would be written.
	apply := func(ps []planned) (map[string][]byte, error) {
		merged, err := applyWirings(rp, files, ps)
		if err != nil {
			return nil, err
		}
		if _, err := Check(p, merged, nil, true); err != nil {
			return nil, err
		}
		return merged, nil
	}
	// As with fixes (fix): all at once, and if that fails, each alone,
	// then those that verify alone together.
	merged, err := apply(plans)
	if err != nil {
		// Keep the wirings that verify on their own.
		var good []planned
		for _, pl := range plans {
			if _, err := apply([]planned{pl}); err != nil {
				notes[pl.key] = WireNote{Why: "the wiring did not verify: " + err.Error()}
			} else {
				good = append(good, pl)
			}
		}
		plans, merged = good, nil
		if len(good) > 0 {
			if merged, err = apply(good); err != nil {
				for _, pl := range good {
					notes[pl.key] = WireNote{Why: "the wiring did not verify: " + err.Error()}
				}
				plans, merged = nil, nil
			}
		}
	}
	// Nothing survived: the fix stands unwired, and the notes say why.
	if merged == nil {
		return files, notes, nil, exported
	}
	// Only the wirings kept are told as wired and claim their edits.
	var claims []claim
	for _, pl := range plans {
		notes[pl.key] = WireNote{Wired: pl.wired}
		claims = append(claims, claim{path: pl.at.file, off: pl.at.off, before: pl.before, f: pl.f})
	}
	return merged, notes, claims, exported
}

// targets returns the cleanups the fixes of found made, by constructor,
// and as the package's importers may call them.
func (w *wirer) targets(old *Package, found []*rules.Finding, done map[*rules.Finding]rewrite.Done) (map[*types.Func]*wireTarget, []Target) {
	np := w.pkg
	targets := map[*types.Func]*wireTarget{}
	var exported []Target
	pkgLevel := map[string]bool{}
	for _, f := range found {
		d, ok := done[f]
		// A fix that made no cleanup (the work now honours a context, or
		// a ticker is stopped where it is made) has nothing to wire.
		if !ok || d.Method == "" || f.Fix == nil {
			continue
		}
		st := f.Fix.Base().Starter
		if st == nil || st.Recv != nil {
			continue // started by a method: who made the value is not in sight
		}
		// st is a declaration of the package as it was; the wiring reads
		// the fixed package, where the same function is another object.
		fn := w.declOf(old, st)
		if fn == nil {
			continue
		}
		if d.Type == "" {
			// Package-level work: its cleanup is a function of the
			// package, which main may call.
			cleanup, _ := np.Types.Scope().Lookup(d.Method).(*types.Func)
			// One function stops all of the package's work, however many
			// findings it ends: it is told to the importers once.
			if cleanup == nil || pkgLevel[d.Method] {
				continue
			}
			pkgLevel[d.Method] = true
			t := &wireTarget{method: d.Method, starter: fn}
			exported = append(exported, Target{Pkg: np.Path, Method: d.Method, Label: np.Types.Name() + "." + d.Method,
				Params: cleanup.Signature().Params().Len(), Results: cleanup.Signature().Results().Len(),
				Added: d.Added, Hang: w.mayHang(t), Finding: f})
			continue
		}
		tn, _ := np.Types.Scope().Lookup(d.Type).(*types.TypeName)
		if tn == nil {
			continue
		}
		named, _ := types.Unalias(tn.Type()).(*types.Named)
		// Several fixed loops of one constructor's values share one
		// cleanup; the first finding speaks for it.
		if named == nil || targets[fn] != nil {
			continue
		}
		// On *T, where methods with either receiver are found.
		m, _, _ := types.LookupFieldOrMethod(types.NewPointer(named), true, np.Types, d.Method)
		method, _ := m.(*types.Func)
		if method == nil {
			continue
		}
		t := &wireTarget{typ: named, method: method.Name(), label: rules.FuncLabel(method),
			params: method.Signature().Params().Len(), results: method.Signature().Results().Len(),
			added: d.Added, starter: fn, first: f}
		targets[fn] = t
		// Worked out here, where the methods' bodies are in sight: an
		// importer sees only their signatures, and would have to assume
		// that every method keeps its receiver.
		var stays []string
		for _, m := range methodsOf(named) {
			if w.receiverStays(m) {
				stays = append(stays, m.Name())
			}
		}
		exported = append(exported, Target{Pkg: np.Path, Starter: fn.Name(), Type: named.Obj().Name(), Method: t.method,
			Label: t.label, Params: t.params, Results: t.results, Added: t.added, Hang: w.mayHang(t), Stays: stays, Finding: f})
	}
	return targets, exported
}

// declOf returns the function of the fixed package that decl is in old,
// the package as it was: found by name, or, for an init, which has none,
// by its rank among the inits of its file.
func (w *wirer) declOf(old *Package, decl *ast.FuncDecl) *types.Func {
	if decl.Name.Name != "init" || decl.Recv != nil {
		fn, _ := w.pkg.Types.Scope().Lookup(decl.Name.Name).(*types.Func)
		return fn
	}
	// An init has no name to be looked up by, and a file may have
	// several: it is found by its rank among its file's inits, which the
	// fix does not change (the rewriter adds no init).
	file := old.Fset.File(decl.Pos()).Name()
	rank := -1
	for _, f := range old.Syntax {
		if old.Fset.File(f.Pos()).Name() == file {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
					rank++
				}
				if d == decl {
					break
				}
			}
		}
	}
	for _, f := range w.pkg.Syntax {
		if w.pkg.Fset.File(f.Pos()).Name() != file {
			continue
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
				if rank == 0 {
					fn, _ := w.pkg.Info.Defs[fd.Name].(*types.Func)
					return fn
				}
				rank--
			}
		}
	}
	return nil
}

// A planned wiring, and where its inserted code goes.
type planned struct {
	w   rewrite.Wiring
	key CallKey
	at  siteKey // where the inserted code goes
	// before is the content of at's file as the fix left it.
	before []byte
	f      *rules.Finding
	wired  string
}

// planAll plans a wiring for every call in the package of a target's
// constructor, and says for each call what it did or why not.
func (w *wirer) planAll(fc *files, files map[string][]byte, target func(*types.Func) *wireTarget) ([]planned, map[CallKey]WireNote) {
	notes := map[CallKey]WireNote{}
	var plans []planned
	for _, file := range w.pkg.Syntax {
		// Test files are planned too: a test that makes a value and ends
		// is where its life ends (DESIGN promise 10).
		name := w.pkg.Fset.File(file.Pos()).Name()
		EachRef(file, name, w.pkg.Info, func(fn *types.Func) bool { return target(fn) != nil }, func(id *ast.Ident, fn *types.Func, key CallKey, stack []ast.Node) {
			t := target(fn)
			c, stack := callOf(id, stack)
			if c == nil {
				// A constructor handed on as a value may be called anywhere.
				notes[key] = WireNote{Why: "used as a function value"}
				return
			}
			// walkStack changes the stack as the walk goes on: plan gets one
			// of its own.
			wiring, wired, why := w.plan(t, c, slices.Clone(stack), strings.HasSuffix(name, "_test.go"))
			// No wiring and no reason means the value is already stopped
			// there, which wired says.
			if why != "" || wiring == nil {
				notes[key] = WireNote{Wired: wired, Why: why}
				return
			}
			if pl, why := w.place(fc, files, *wiring, key, t.first, wired); why != "" {
				notes[key] = WireNote{Why: why}
			} else {
				plans = append(plans, pl)
			}
		})
	}
	return plans, notes
}

// place records where a wiring's code goes, or says why it cannot go there.
func (w *wirer) place(fc *files, files map[string][]byte, wiring rewrite.Wiring, key CallKey, f *rules.Finding, wired string) (planned, string) {
	// The wiring must not edit a file the fix may not (a generated or
	// cgo file): accept would refuse the whole package for it.
	at := w.insertion(wiring)
	atFile := w.pkg.Fset.File(at).Name()
	if !fc.reported(atFile) {
		return planned{}, "the wiring would edit " + filepath.Base(atFile) + ", which leakfix does not rewrite"
	}
	// The claim's offset is where the line edit inserting the call
	// begins, in the file as the fix left it; fixAll maps it back.
	return planned{w: wiring, key: key, f: f, wired: wired, at: siteKey{atFile, lineAfter(w.pkg.Fset, at)}, before: files[atFile]}, ""
}

// applyWirings writes the planned wirings into the package and returns
// files with the content of the files they change replaced.
func applyWirings(rp *rewrite.Package, files map[string][]byte, ps []planned) (map[string][]byte, error) {
	var ws []rewrite.Wiring
	for _, pl := range ps {
		ws = append(ws, pl.w)
	}
	// rp is the package as the fix left it (unchanged, for
	// WireCallers), so what Wire prints holds the fix too and replaces
	// files' version of what it changes.
	out, err := rewrite.Wire(rp, ws)
	if err != nil {
		return nil, err
	}
	merged := map[string][]byte{}
	for k, c := range files {
		merged[k] = c
	}
	for k, c := range out {
		merged[k] = c
	}
	return merged, nil
}

// lineAfter returns the offset of the start of the line after the one
// holding pos: where a line-level edit inserting after pos begins.
func lineAfter(fset *token.FileSet, pos token.Pos) int {
	tf := fset.File(pos)
	if line := tf.Line(pos); line < tf.LineCount() {
		return tf.Offset(tf.LineStart(line + 1))
	}
	return tf.Size()
}

// OldOffset maps an offset in now back to old, where now is old with some
// edits applied. An offset inside inserted text maps to where it was
// inserted. The edits are computed line by line: a fix inserts and replaces
// whole lines, and a finer diff would align fragments of unrelated lines.
func OldOffset(old, now []byte, off int) int {
	delta := 0 // how much longer now is than old before the current edit
	for _, e := range udiff.Lines(string(old), string(now)) {
		start := e.Start + delta
		// The edits come in order: once one starts after off, none
		// before it is left to shift it.
		if off < start {
			break
		}
		// Inside the text this edit wrote, which has no place in
		// old but where the edit is.
		if off < start+len(e.New) {
			return e.Start
		}
		delta += len(e.New) - (e.End - e.Start)
	}
	return off - delta
}

// calleeIdent returns the identifier naming a call's function: New,
// cache.New, or a generic New[K].
func calleeIdent(c *ast.CallExpr) *ast.Ident {
	fun := ast.Unparen(c.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	switch f := fun.(type) {
	case *ast.Ident:
		return f
	case *ast.SelectorExpr:
		return f.Sel
	}
	return nil
}

// walkStack calls visit for every node under root, with the nodes from
// root down to it.
func walkStack(root ast.Node, visit func(n ast.Node, stack []ast.Node)) {
	var stack []ast.Node
	ast.Inspect(root, func(n ast.Node) bool {
		// The one slice is pushed and popped as Inspect enters and
		// leaves nodes: visit must copy what it keeps.
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		visit(n, stack)
		return true
	})
}

// insertion returns where the code a wiring adds goes: the line after the
// opening brace of the outer cleanup, or after the statement that makes the
// value.
func (w *wirer) insertion(wr rewrite.Wiring) token.Pos {
	if wr.Field != "" {
		// Below a leading `if s == nil { return }`, as rewrite.Wire puts it.
		// fieldOf made sure the cleanup's receiver is named. Unlike
		// rewrite.Wire, this does not skip the wirings of other fields
		// made before, so several wirings into one cleanup claim the
		// same line.
		d := wr.Into.(*ast.FuncDecl)
		at := d.Body.Lbrace
		for _, s := range d.Body.List {
			if !rewrite.IsNilGuard(s, d.Recv.List[0].Names[0].Name) {
				break
			}
			at = s.End() - 1
		}
		return at
	}
	// At the top of main, where rewrite.Wire defers it (below the
	// package cleanups deferred there before).
	if wr.Pkg != "" {
		return wr.Into.(*ast.FuncDecl).Body.Lbrace
	}
	// The last byte of the statement that makes the value (or checks
	// its error), so that lineAfter gives the line after it.
	return wr.After.End() - 1
}
