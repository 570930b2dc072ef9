package rules

import (
	"go/ast"
	"go/token"
	"go/types"
	"iter"
	"slices"
)

// This file holds the package's method facts: what each function sets,
// touches and calls, which method is an owner's cleanup, which undoes
// which (Start/Stop), and which existing stop signal a type has.

// resumeNames are methods that, by their name, start again what a cleanup
// stopped: a cleanup they undo pauses the value rather than ending it.
var resumeNames = map[string]bool{
	"Start": true, "Resume": true, "Restart": true, "Run": true, "Unpause": true, "Continue": true,
	"Enable": true, "Open": true, "Play": true, "Begin": true, "Reset": true,
}

// A methodFacts is what one function of the package does to its receiver's
// fields, and what it calls.
type methodFacts struct {
	// sets holds the fields it sets to a constant (closed = true, state =
	// stopped, conn = nil), with the constants' spelling: the state flags
	// that a pause and a resume flip.
	sets    map[*types.Var]map[string]bool
	touches map[*types.Var]bool  // fields it assigns, calls methods on or closes
	calls   map[*types.Func]bool // the package's functions it calls; others are not followed
}

// newMethodFacts returns facts with nothing recorded.
func newMethodFacts() *methodFacts {
	return &methodFacts{sets: map[*types.Var]map[string]bool{}, touches: map[*types.Var]bool{}, calls: map[*types.Func]bool{}}
}

// methodFacts returns the facts of fn, computing them on first use.
func (f *loopFinder) methodFacts(fn *types.Func) *methodFacts {
	if mf, ok := f.mfacts[fn]; ok {
		return mf
	}
	mf := newMethodFacts()
	f.mfacts[fn] = mf
	if decl := f.methods[fn]; decl != nil && decl.Body != nil {
		f.bodyFacts(decl.Body, mf)
	}
	return mf
}

// bodyFacts adds to mf what the code under n does. Work a go statement
// starts is left out: it runs beside n, not within it.
func (f *loopFinder) bodyFacts(n ast.Node, mf *methodFacts) {
	info := f.pass.Info
	// field returns the field at the root of e: s.conns[k] and *s.cur
	// change s.conns and s.cur.
	field := func(e ast.Expr) *types.Var {
		for {
			switch x := ast.Unparen(e).(type) {
			case *ast.IndexExpr:
				e = x.X
				continue
			case *ast.StarExpr:
				e = x.X
				continue
			case *ast.SelectorExpr:
				if sel, ok := info.Selections[x]; ok && sel.Kind() == types.FieldVal {
					return sel.Obj().(*types.Var)
				}
			}
			return nil
		}
	}
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			return false
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				v := field(l)
				if v == nil {
					continue
				}
				mf.touches[v] = true
				// Only a plain = pairs each field with its own value: in
				// a, b = f() the values cannot be paired, and s.n += 1 sets
				// no field to a constant.
				if len(n.Rhs) == len(n.Lhs) && n.Tok == token.ASSIGN {
					if c := constantText(info, n.Rhs[i]); c != "" {
						if mf.sets[v] == nil {
							mf.sets[v] = map[string]bool{}
						}
						mf.sets[v][c] = true
					}
				}
			}
		case *ast.IncDecStmt:
			if v := field(n.X); v != nil {
				mf.touches[v] = true
			}
		case *ast.CallExpr:
			if fn := calleeFunc(info, n); fn != nil && fn.Pkg() == f.pass.Pkg {
				mf.calls[fn] = true
			}
			// s.ticker.Stop() and s.mu.Lock() act on s.ticker and s.mu: a
			// Start whose s.ticker.Reset(d) touches the field a Stop's
			// s.ticker.Stop() does undoes it (see undoneBy).
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
				if v := field(sel.X); v != nil {
					mf.touches[v] = true
				}
			}
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && id.Name == "close" && len(n.Args) == 1 {
				if v := field(n.Args[0]); v != nil {
					mf.touches[v] = true
				}
			}
		}
		return true
	})
}

// reaches reports whether the code under n calls target, directly or
// through the package's functions, and returns the functions in between.
func (f *loopFinder) reaches(n ast.Node, target *types.Func) ([]string, bool) {
	start := newMethodFacts()
	f.bodyFacts(n, start)
	type step struct {
		fn   *types.Func
		path []string
	}
	// A breadth-first walk in sorted order gives the shortest path, and the
	// same one on every run, for the reason to name.
	var queue []step
	// seen ends the walk on recursive and mutually recursive functions.
	seen := map[*types.Func]bool{}
	for _, fn := range sortedFuncs(start.calls) {
		queue = append(queue, step{fn, nil})
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s.fn] {
			continue
		}
		seen[s.fn] = true
		// The path holds the functions between n and target, not target:
		// nil when n calls target itself.
		if s.fn == target {
			return s.path, true
		}
		// Cloned: the steps queued from one function share its path, and
		// an append to a shared backing array would mix their paths.
		path := append(slices.Clone(s.path), FuncLabel(s.fn))
		for _, next := range sortedFuncs(f.methodFacts(s.fn).calls) {
			queue = append(queue, step{next, path})
		}
	}
	return nil, false
}

// methodsInOrder yields the package's function declarations in source order.
func (f *loopFinder) methodsInOrder() iter.Seq2[*types.Func, *ast.FuncDecl] {
	return func(yield func(*types.Func, *ast.FuncDecl) bool) {
		for _, fn := range sortedFuncs(f.methods) {
			if !yield(fn, f.methods[fn]) {
				return
			}
		}
	}
}

// sortedFuncs returns the functions that key set in the order they are
// declared, so that what is reported does not depend on map order. It
// takes any map keyed by function: a set of callees or the package's
// declarations (methodsInOrder) sort the same way.
func sortedFuncs[V any](set map[*types.Func]V) []*types.Func {
	out := make([]*types.Func, 0, len(set))
	for fn := range set {
		out = append(out, fn)
	}
	slices.SortFunc(out, func(a, b *types.Func) int { return int(a.Pos() - b.Pos()) })
	return out
}

// FuncLabel names a function as messages do: ping or (*Client).Close.
func FuncLabel(fn *types.Func) string {
	recv := fn.Signature().Recv()
	if recv == nil {
		return fn.Name()
	}
	t := recv.Type()
	star := ""
	if p, ok := t.(*types.Pointer); ok {
		t, star = p.Elem(), "*"
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return "(" + star + n.Obj().Name() + ")." + fn.Name()
	}
	return fn.Name()
}

// cleanup decides which existing method of t a fix extends: the first of
// CleanupNames that t declares itself and that ends the value's life. A
// method that another method undoes (a Stop whose effect Start reverses)
// only pauses the value, so it is passed over, and a Shutdown is generated
// instead. starters are the methods that start t's fixed work: a Start that
// starts the work again after the cleanup keeps its meaning.
//
// It returns nil and "" when t declares none of CleanupNames (then a
// Shutdown is generated, or promotedCleanup may find one), and nil with the
// reason when the first it declares only pauses.
func (f *loopFinder) cleanup(t *types.Named, starters []*types.Func) (*ast.FuncDecl, string) {
	for _, name := range CleanupNames {
		// Addressable, so that methods on *T are found for T too. A method
		// promoted from an embedded field, or declared in another package,
		// is not one this fix can extend in place.
		obj, _, _ := types.LookupFieldOrMethod(t, true, f.pass.Pkg, name)
		fn, ok := obj.(*types.Func)
		if !ok || fn.Pkg() != f.pass.Pkg || !declaredOn(fn, t) {
			continue
		}
		// Origin: a method of a generic type is declared once, for every
		// instance.
		decl := f.methods[fn.Origin()]
		if decl == nil || decl.Body == nil {
			continue
		}
		// The first name t declares decides: when it only pauses, a later
		// one is not tried, and a Shutdown is generated. A Player whose
		// Stop pauses and whose Close ends gets Close, which comes first in
		// CleanupNames.
		if undo := f.undoneBy(fn.Origin(), t, starters); undo != "" {
			return nil, name + " only pauses: " + undo + " undoes it"
		}
		return decl, ""
	}
	return nil, ""
}

// existingStop returns the stop mechanism t already has, if its way out
// fires it and ends t's life: a chan field that one of t's methods closes,
// or a context field whose cancel field one of t's methods calls; with the
// WaitGroup field that method waits on. The signal must be set only where
// t is made (a function, not a method), so that the loop's field always
// names the signal the method fires.
func (f *loopFinder) existingStop(t *types.Named, starters []*types.Func) *Existing {
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	// The signal may be a context field whose CancelFunc field a method
	// calls (s.cancel() ending s.ctx), as well as a closed channel.
	var ctxField, cancelField *types.Var
	for i := range st.NumFields() {
		v := st.Field(i)
		switch {
		case isNamed(v.Type(), "context", "Context"):
			ctxField = v
		case isNamed(v.Type(), "context", "CancelFunc"):
			cancelField = v
		}
	}
	var best *Existing
	for i := range t.NumMethods() {
		m := t.Method(i).Origin()
		decl := f.methods[m]
		// A starter that closes the signal (Start closing the old quit
		// before it makes a new one) is where the work begins, not ends.
		if decl == nil || decl.Body == nil || slices.Contains(starters, m) {
			continue
		}
		ex := &Existing{By: m.Name()}
		ast.Inspect(decl.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok && id.Name == "close" && len(call.Args) == 1 {
				// A channel something sends on carries data: closing it
				// ends the data, and a loop that sends on it or takes
				// values from it cannot also take it for a stop.
				if v, ok := f.objectOf(call.Args[0]).(*types.Var); ok && v.IsField() && fieldOf(st, v) && ex.Signal == "" && !f.life.sent[v] {
					ex.Signal = v.Name()
				}
			}
			// s.cancel() with a context field beside it: the loop will
			// receive from s.ctx.Done().
			if v, ok := f.objectOf(call.Fun).(*types.Var); ok && v == cancelField && ctxField != nil && ex.Signal == "" {
				ex.Signal, ex.Ctx = ctxField.Name(), true
			}
			// s.wg.Wait(): the loop joins s.wg, so that this method waits
			// for it as it waits for the work it already knows.
			if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
				if v, ok := f.objectOf(sel.X).(*types.Var); ok && v.IsField() && fieldOf(st, v) && isNamed(v.Type(), "sync", "WaitGroup") {
					ex.Group = v.Name()
				}
			}
			return true
		})
		// A method another one undoes is a pause, and a signal that a
		// method makes anew (a.quit = make(chan struct{}) in Start, for a
		// restart) may not be the one the loop holds when it is fired.
		if ex.Signal == "" || f.undoneBy(m, t, starters) != "" || f.setInMethods(t, ex.Signal) {
			continue
		}
		// The way out is the method that also waits for the work, if one
		// does: a worker that cancels on a fatal error fires the signal
		// too, but is not where the owner's life ends.
		if best == nil || (best.Group == "" && ex.Group != "") {
			best = ex
		}
	}
	return best
}

// fieldOf reports whether v is a field of st.
func fieldOf(st *types.Struct, v *types.Var) bool {
	for i := range st.NumFields() {
		if st.Field(i) == v {
			return true
		}
	}
	return false
}

// setInMethods reports whether one of t's methods assigns its field name:
// a signal made anew (a restart) that a loop could miss.
//
// Both checks go by the field's name, so an assignment to a field of that
// name on another value counts too: a false answer must be sure, a true one
// only costs the existing signal.
func (f *loopFinder) setInMethods(t *types.Named, name string) bool {
	for i := range t.NumMethods() {
		m := t.Method(i).Origin()
		for v := range f.methodFacts(m).sets {
			if v.Name() == name {
				return true
			}
		}
		// Any assignment, not only of a constant: s.quit = make(chan
		// struct{}) is the restart the facts' sets do not hold.
		if decl := f.methods[m]; decl != nil && decl.Body != nil {
			found := false
			ast.Inspect(decl.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok {
					for _, l := range as.Lhs {
						if s, ok := ast.Unparen(l).(*ast.SelectorExpr); ok && s.Sel.Name == name {
							found = true
						}
					}
				}
				return !found
			})
			if found {
				return true
			}
		}
	}
	return false
}

// methodNamed returns the declaration of t's method called name, or nil.
// Only methods t declares count: t.Method does not list promoted ones.
func (f *loopFinder) methodNamed(t *types.Named, name string) *ast.FuncDecl {
	for i := range t.NumMethods() {
		if m := t.Method(i); m.Name() == name {
			return f.methods[m.Origin()]
		}
	}
	return nil
}

// promotedCleanup returns the first of CleanupNames that t has only through
// a field embedding a type of this package, with that field's name, when
// the method ends the embedded value's life and has all its parameters
// named (so a wrapper can pass them on).
func (f *loopFinder) promotedCleanup(t *types.Named) (*ast.FuncDecl, string) {
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return nil, ""
	}
	for _, name := range CleanupNames {
		obj, index, _ := types.LookupFieldOrMethod(t, true, f.pass.Pkg, name)
		fn, ok := obj.(*types.Func)
		if !ok {
			continue
		}
		// index is the path to the method: [field, method] for a method of
		// a field t embeds itself. The first name t has at all decides; one
		// t declares itself was cleanup's to take.
		if declaredOn(fn, t) || len(index) != 2 || fn.Pkg() != f.pass.Pkg {
			return nil, "" // t's own, or promoted from further away or from elsewhere
		}
		decl := f.methods[fn.Origin()]
		if decl == nil || decl.Body == nil {
			return nil, ""
		}
		for _, field := range decl.Type.Params.List {
			if len(field.Names) == 0 || field.Names[0].Name == "_" {
				return nil, ""
			}
		}
		// Whether it only pauses is the embedded type's matter: its own
		// methods are the ones that could undo it.
		via := st.Field(index[0])
		inner, _ := types.Unalias(derefType(via.Type())).(*types.Named)
		if inner == nil || f.undoneBy(fn.Origin(), inner, nil) != "" {
			return nil, ""
		}
		return decl, via.Name()
	}
	return nil, ""
}

// derefType returns the element type of a pointer type, and any other type
// as it is (nil too). Only a *types.Pointer itself is looked through: a
// named pointer type (type P *T) or an alias of one comes back unchanged.
func derefType(t types.Type) types.Type {
	if p, ok := t.(*types.Pointer); ok {
		return p.Elem()
	}
	return t
}

// undoneBy names a method of t that reverses what cleanup does: one that
// sets a field cleanup sets to another constant (paused = false after
// paused = true), or one named like Start or Resume that acts on a field
// cleanup acts on (ticker.Reset after ticker.Stop). It returns "" if there
// is none.
//
// The starters are passed over: a Start that starts the fixed work is what
// makes the value run again after the cleanup, which the fix keeps (an
// agent whose config reload calls Stop, then Start).
func (f *loopFinder) undoneBy(cleanup *types.Func, t *types.Named, starters []*types.Func) string {
	cf := f.methodFacts(cleanup)
	// A cleanup that acts on no field leaves no state to set back.
	if len(cf.touches) == 0 {
		return ""
	}
	for i := range t.NumMethods() {
		m := t.Method(i).Origin()
		if m == cleanup || slices.Contains(starters, m) || f.methods[m] == nil {
			continue
		}
		mf := f.methodFacts(m)
		for v, values := range cf.sets {
			for c := range mf.sets[v] {
				if !values[c] {
					return FuncLabel(m) // sets back the flag cleanup sets
				}
			}
		}
		// A field acted on by both (a ticker stopped and reset, a conn
		// closed and redialled) is undone only by a method whose name says
		// it resumes: a Flush that also writes s.conn undoes nothing.
		if resumeNames[m.Name()] {
			for v := range cf.touches {
				// Locking the same mutex is no undoing.
				if mf.touches[v] && !isSyncType(v.Type()) {
					return FuncLabel(m)
				}
			}
		}
	}
	return ""
}

// isSyncType reports whether t is one of package sync's types, which
// methods use to coordinate rather than to hold state.
func isSyncType(t types.Type) bool {
	n, ok := types.Unalias(derefType(t)).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "sync"
}

// constantText returns the spelling of e when it is a constant or nil, or "".
// The spelling is the value's, not the source's (true, "stopped", 2), so
// that two names of one constant compare equal.
func constantText(info *types.Info, e ast.Expr) string {
	tv, ok := info.Types[e]
	if !ok {
		return ""
	}
	if tv.Value != nil {
		return tv.Value.ExactString()
	}
	if tv.IsNil() {
		return "nil"
	}
	return ""
}

// declaredOn reports whether fn is declared with t (or *t) as receiver, not
// promoted from an embedded field.
func declaredOn(fn *types.Func, t *types.Named) bool {
	recv := fn.Signature().Recv()
	if recv == nil {
		return false
	}
	rt := derefType(recv.Type())
	// Origins: the receiver of a generic type's method is instantiated
	// with the method's own type parameters (List[T]), not t's arguments.
	n, ok := types.Unalias(rt).(*types.Named)
	return ok && n.Origin() == t.Origin()
}
