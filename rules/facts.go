package rules

import (
	"go/ast"
	"go/token"
	"go/types"
	"iter"
	"maps"
	"slices"
)

// This file holds the package's lifetime facts that decide whether a stop
// signal is the work's lifetime: where each context comes from and whether
// anything can cancel it, and which channels something can close or send
// on. They are computed once per package, when the finder indexes it.

// A lifetime says how long a context lives, as far as the package shows.
type lifetime int

const (
	lifeUnknown lifetime = iota // made elsewhere (a field, a call): nothing is known
	lifeParam                   // a parameter: the caller owns it
	lifeOwned                   // made here with a cancel function that is kept or called later
	lifeShort                   // cancelled when the function that made it returns, or at a deadline
	lifeNever                   // can never be cancelled: context.Background, TODO, WithoutCancel
)

// A ctxDef is one assignment of a value to a context variable.
type ctxDef struct {
	fn    *ast.FuncDecl
	value ast.Expr
	// cancel is the variable the cancel function of a context.With* call
	// is assigned to; nil when it is discarded or when value is no such call.
	cancel types.Object
}

// lifetimeFacts records, for the package, what the lifetime analysis reads.
type lifetimeFacts struct {
	ctxDefs  map[types.Object][]ctxDef
	deferred map[types.Object]bool // cancel functions a defer calls
	called   map[types.Object]bool // functions called directly, outside function literals
	// kept are cancel functions used otherwise than by a defer or a direct
	// call: stored, returned, passed on, or called from a function literal.
	kept   map[types.Object]bool
	sent   map[types.Object]bool // channels something sends on
	moved  map[types.Object]bool // channels used as a value: passed, stored or returned
	params map[types.Object]bool // parameters of the package's functions and literals
}

func newLifetimeFacts() lifetimeFacts {
	return lifetimeFacts{
		ctxDefs:  map[types.Object][]ctxDef{},
		deferred: map[types.Object]bool{},
		called:   map[types.Object]bool{},
		kept:     map[types.Object]bool{},
		sent:     map[types.Object]bool{},
		moved:    map[types.Object]bool{},
		params:   map[types.Object]bool{},
	}
}

// indexLifetimes records the facts of one function body.
func (f *loopFinder) indexLifetimes(fn *ast.FuncDecl) {
	info := f.pass.Info
	lf := &f.life
	def := func(lhs ast.Expr, value ast.Expr, cancel ast.Expr) {
		obj := f.objectOf(lhs)
		if obj == nil {
			return
		}
		// A channel stored from anywhere but make may be one that
		// something else closes.
		if _, ok := obj.Type().Underlying().(*types.Chan); ok && !isMake(info, value) {
			lf.moved[obj] = true
		}
		if !isNamed(obj.Type(), "context", "Context") {
			return
		}
		d := ctxDef{fn: fn, value: value}
		if c, ok := cancel.(*ast.Ident); ok && c.Name != "_" {
			d.cancel = info.ObjectOf(c)
		} else if c, ok := cancel.(*ast.SelectorExpr); ok {
			// A cancel function stored in a field is kept for later.
			if obj := f.objectOf(c); obj != nil {
				d.cancel = obj
				lf.kept[obj] = true
			}
		}
		lf.ctxDefs[obj] = append(lf.ctxDefs[obj], d)
	}
	// defs records an assignment or declaration: x, cancel := ctx-call,
	// or x, y := a, b.
	defs := func(lhs, rhs []ast.Expr) {
		switch {
		case len(lhs) == 2 && len(rhs) == 1:
			def(lhs[0], rhs[0], lhs[1])
		case len(lhs) == len(rhs):
			for i := range lhs {
				def(lhs[i], rhs[i], nil)
			}
		}
		for _, r := range rhs {
			f.move(r)
		}
	}
	direct := map[*ast.Ident]bool{} // the functions of direct calls
	var calls func(n ast.Node)
	calls = func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.CallExpr:
				if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok {
					direct[id] = true
					if obj := info.Uses[id]; obj != nil {
						lf.called[obj] = true
					}
				}
			}
			return true
		})
	}
	calls(fn.Body)
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncType:
			for _, field := range n.Params.List {
				for _, name := range field.Names {
					if obj := info.Defs[name]; obj != nil {
						lf.params[obj] = true
					}
				}
			}
		case *ast.AssignStmt:
			defs(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, name := range n.Names {
				lhs[i] = name
			}
			defs(lhs, n.Values)
		case *ast.DeferStmt:
			if id, ok := ast.Unparen(n.Call.Fun).(*ast.Ident); ok {
				if obj := info.Uses[id]; obj != nil {
					lf.deferred[obj] = true
				}
				return false
			}
		case *ast.Ident:
			if obj := info.Uses[n]; obj != nil && !direct[n] {
				if _, ok := obj.Type().Underlying().(*types.Signature); ok {
					lf.kept[obj] = true
				}
			}
		case *ast.SendStmt:
			if obj := f.objectOf(n.Chan); obj != nil {
				lf.sent[obj] = true
			}
			f.move(n.Value)
		case *ast.CallExpr:
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok {
				if _, builtin := info.Uses[id].(*types.Builtin); builtin {
					return true // close, len, cap do not let a channel escape
				}
			}
			for _, a := range n.Args {
				f.move(a)
			}
		case *ast.ReturnStmt:
			for _, r := range n.Results {
				f.move(r)
			}
		case *ast.CompositeLit:
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					if key, ok := kv.Key.(*ast.Ident); ok {
						if _, isField := info.Uses[key].(*types.Var); isField {
							def(key, kv.Value, nil)
						}
					}
					e = kv.Value
				}
				f.move(e)
			}
		}
		return true
	})
}

// move records that e, if it names a channel, is used as a value that
// something else may close or send on.
func (f *loopFinder) move(e ast.Expr) {
	if _, ok := f.pass.Info.TypeOf(e).(*types.Chan); !ok {
		if t := f.pass.Info.TypeOf(e); t == nil {
			return
		} else if _, ok := t.Underlying().(*types.Chan); !ok {
			return
		}
	}
	if obj := f.objectOf(e); obj != nil {
		f.life.moved[obj] = true
	}
}

// ctxLifetime says how long the context variable obj lives.
func (f *loopFinder) ctxLifetime(obj types.Object) lifetime {
	return f.ctxLife(obj, 0)
}

func (f *loopFinder) ctxLife(obj types.Object, depth int) lifetime {
	v, ok := obj.(*types.Var)
	if !ok || depth > 8 {
		return lifeUnknown
	}
	defs := f.life.ctxDefs[v]
	if len(defs) == 0 {
		if f.isParam(v) {
			return lifeParam
		}
		return lifeUnknown
	}
	life := lifeUnknown
	for i, d := range defs {
		l := f.valueLife(d, depth)
		if i > 0 && l != life {
			return lifeUnknown // assigned contexts of different lifetimes
		}
		life = l
	}
	return life
}

// valueLife says how long the context one assignment stores lives.
func (f *loopFinder) valueLife(d ctxDef, depth int) lifetime {
	info := f.pass.Info
	switch e := ast.Unparen(d.value).(type) {
	case *ast.Ident:
		return f.ctxLife(info.Uses[e], depth+1)
	case *ast.CallExpr:
		fn := calleeFunc(info, e)
		if fn != nil && fn.Name() == "Context" && fn.Signature().Recv() != nil && isNamed(derefType(fn.Signature().Recv().Type()), "net/http", "Request") {
			return lifeShort // a request's context ends with the request
		}
		if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "context" {
			return lifeUnknown
		}
		parent := lifeUnknown
		if len(e.Args) > 0 {
			if id, ok := ast.Unparen(e.Args[0]).(*ast.Ident); ok {
				parent = f.ctxLife(info.Uses[id], depth+1)
			} else if c, ok := ast.Unparen(e.Args[0]).(*ast.CallExpr); ok {
				parent = f.valueLife(ctxDef{fn: d.fn, value: c}, depth+1)
			}
		}
		switch fn.Name() {
		case "Background", "TODO", "WithoutCancel":
			return lifeNever
		case "WithValue":
			return parent
		case "WithCancel", "WithCancelCause", "WithTimeout", "WithDeadline", "WithTimeoutCause", "WithDeadlineCause":
			timed := fn.Name() != "WithCancel" && fn.Name() != "WithCancelCause"
			switch {
			case parent == lifeShort:
				return lifeShort
			case d.cancel != nil && f.life.deferred[d.cancel]:
				return lifeShort // cancelled when the function returns
			case timed:
				return lifeShort // ends at its deadline
			case d.cancel != nil && f.life.kept[d.cancel]:
				return lifeOwned
			case d.cancel != nil && f.life.called[d.cancel]:
				return lifeShort // cancelled before the function returns
			case parent == lifeParam || parent == lifeOwned:
				return parent
			}
			return lifeNever // the cancel function is dropped, and nothing above cancels
		}
	}
	return lifeUnknown
}

// isParam reports whether v is a parameter of a function of the package.
func (f *loopFinder) isParam(v *types.Var) bool { return f.life.params[v] }

// canFire reports whether receiving from the channel obj names can ever
// return: something closes it or sends on it, it is handed elsewhere (where
// that may happen), or code outside the package can reach it.
func (f *loopFinder) canFire(obj types.Object) bool {
	if f.closed[obj] || f.life.sent[obj] || f.life.moved[obj] || obj.Exported() {
		return true
	}
	if obj.Pkg() != f.pass.Pkg {
		return true
	}
	// A parameter receives its channel from the caller.
	if v, ok := obj.(*types.Var); ok && !v.IsField() && f.isParam(v) {
		return true
	}
	return false
}

// ctxNeverDone reports whether call is x.Done() on a context that can never
// be cancelled, so that receiving from it never returns.
func (f *loopFinder) ctxNeverDone(call *ast.CallExpr) bool {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok || !isNamed(f.pass.Info.TypeOf(sel.X), "context", "Context") {
		return false
	}
	switch x := ast.Unparen(sel.X).(type) {
	case *ast.Ident, *ast.SelectorExpr:
		obj := f.objectOf(x)
		if obj == nil || (obj.Exported() && isField(obj)) {
			return false // code outside the package may set it
		}
		return f.ctxLifetime(obj) == lifeNever
	case *ast.CallExpr:
		return f.valueLife(ctxDef{value: x}, 0) == lifeNever
	}
	return false
}

// neverFires reports whether receiving from ch can never return: the Done
// of a context nothing can cancel, or a channel of the package's own that
// nothing closes, sends on or hands on. A select case on it is dead code.
func (f *loopFinder) neverFires(ch ast.Expr) bool {
	if call, ok := ast.Unparen(ch).(*ast.CallExpr); ok {
		return f.ctxNeverDone(call)
	}
	obj := f.objectOf(ch)
	if obj == nil {
		return false
	}
	if _, ok := obj.Type().Underlying().(*types.Chan); !ok {
		return false
	}
	return !f.canFire(obj)
}

func isField(obj types.Object) bool {
	v, ok := obj.(*types.Var)
	return ok && v.IsField()
}

// isMake reports whether e is a call of the builtin make.
func isMake(info *types.Info, e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == "make"
}

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
	touches map[*types.Var]bool // fields it assigns, calls methods on or closes
	calls   map[*types.Func]bool
}

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
	var queue []step
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
		if s.fn == target {
			return s.path, true
		}
		path := append(slices.Clone(s.path), funcLabel(s.fn))
		for _, next := range sortedFuncs(f.methodFacts(s.fn).calls) {
			queue = append(queue, step{next, path})
		}
	}
	return nil, false
}

// locksTaken returns the mutex fields that the code under n locks, directly
// or through the package's functions.
func (f *loopFinder) locksTaken(n ast.Node) map[*types.Var]bool {
	start := newMethodFacts()
	f.bodyFacts(n, start)
	out := map[*types.Var]bool{}
	add := func(mf *methodFacts) {
		for v := range mf.touches {
			if isLock(v.Type()) {
				out[v] = true
			}
		}
	}
	add(start)
	seen := map[*types.Func]bool{}
	queue := sortedFuncs(start.calls)
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		if seen[fn] {
			continue
		}
		seen[fn] = true
		mf := f.methodFacts(fn)
		add(mf)
		queue = append(queue, sortedFuncs(mf.calls)...)
	}
	return out
}

// isLock reports whether t is a sync.Mutex or sync.RWMutex.
func isLock(t types.Type) bool {
	return isNamed(t, "sync", "Mutex") || isNamed(t, "sync", "RWMutex")
}

// callerHolding returns a call of cleanup, in the package, made while the
// caller holds one of locks (locked earlier in an enclosing statement list
// and not yet unlocked; a deferred unlock still holds it): the caller and
// the lock, spelled as written. It returns "", "" if there is none.
func (f *loopFinder) callerHolding(cleanup *types.Func, locks map[*types.Var]bool) (string, string) {
	if len(locks) == 0 {
		return "", ""
	}
	for obj, decl := range f.methodsInOrder() {
		if decl.Body == nil || obj == cleanup {
			continue
		}
		var caller, lock string
		var visit func(list []ast.Stmt, held map[*types.Var]string)
		visit = func(list []ast.Stmt, held map[*types.Var]string) {
			held = maps.Clone(held)
			for _, st := range list {
				if caller != "" {
					return
				}
				if es, ok := st.(*ast.ExprStmt); ok {
					if call, ok := es.X.(*ast.CallExpr); ok {
						if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && len(call.Args) == 0 {
							if v, ok := f.objectOf(sel.X).(*types.Var); ok && isLock(v.Type()) {
								switch sel.Sel.Name {
								case "Lock", "RLock":
									held[v], _ = exprString(sel.X)
								case "Unlock", "RUnlock":
									delete(held, v)
								}
							}
						}
					}
				}
				ast.Inspect(st, func(n ast.Node) bool {
					if _, ok := n.(*ast.FuncLit); ok || caller != "" {
						return false
					}
					if call, ok := n.(*ast.CallExpr); ok && calleeFunc(f.pass.Info, call) == cleanup {
						for v, spelled := range held {
							if locks[v] {
								caller, lock = FuncName(decl), spelled
							}
						}
					}
					return true
				})
				for _, child := range stmtLists(st) {
					visit(child, held)
				}
			}
		}
		visit(decl.Body.List, map[*types.Var]string{})
		if caller != "" {
			return caller, lock
		}
	}
	return "", ""
}

// methodsInOrder yields the package's function declarations in source order.
func (f *loopFinder) methodsInOrder() iter.Seq2[*types.Func, *ast.FuncDecl] {
	return func(yield func(*types.Func, *ast.FuncDecl) bool) {
		fns := make([]*types.Func, 0, len(f.methods))
		for fn := range f.methods {
			fns = append(fns, fn)
		}
		slices.SortFunc(fns, func(a, b *types.Func) int { return int(a.Pos() - b.Pos()) })
		for _, fn := range fns {
			if !yield(fn, f.methods[fn]) {
				return
			}
		}
	}
}

// sortedFuncs returns the functions of set in the order they are declared,
// so that what is reported does not depend on map order.
func sortedFuncs(set map[*types.Func]bool) []*types.Func {
	out := make([]*types.Func, 0, len(set))
	for fn := range set {
		out = append(out, fn)
	}
	slices.SortFunc(out, func(a, b *types.Func) int { return int(a.Pos() - b.Pos()) })
	return out
}

// funcLabel names a function as messages do: ping or (*Client).Close.
func funcLabel(fn *types.Func) string {
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
func (f *loopFinder) cleanup(t *types.Named, starters []*types.Func) (*ast.FuncDecl, string) {
	for _, name := range CleanupNames {
		obj, _, _ := types.LookupFieldOrMethod(t, true, f.pass.Pkg, name)
		fn, ok := obj.(*types.Func)
		if !ok || fn.Pkg() != f.pass.Pkg || !declaredOn(fn, t) {
			continue
		}
		decl := f.methods[fn.Origin()]
		if decl == nil || decl.Body == nil {
			continue
		}
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
				if v, ok := f.objectOf(call.Args[0]).(*types.Var); ok && v.IsField() && fieldOf(st, v) && ex.Signal == "" {
					ex.Signal = v.Name()
				}
			}
			if v, ok := f.objectOf(call.Fun).(*types.Var); ok && v == cancelField && ctxField != nil && ex.Signal == "" {
				ex.Signal, ex.Ctx = ctxField.Name(), true
			}
			if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
				if v, ok := f.objectOf(sel.X).(*types.Var); ok && v.IsField() && fieldOf(st, v) && isNamed(v.Type(), "sync", "WaitGroup") {
					ex.Group = v.Name()
				}
			}
			return true
		})
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
func (f *loopFinder) setInMethods(t *types.Named, name string) bool {
	for i := range t.NumMethods() {
		m := t.Method(i).Origin()
		for v := range f.methodFacts(m).sets {
			if v.Name() == name {
				return true
			}
		}
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
		via := st.Field(index[0])
		inner, _ := types.Unalias(derefType(via.Type())).(*types.Named)
		if inner == nil || f.undoneBy(fn.Origin(), inner, nil) != "" {
			return nil, ""
		}
		return decl, via.Name()
	}
	return nil, ""
}

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
func (f *loopFinder) undoneBy(cleanup *types.Func, t *types.Named, starters []*types.Func) string {
	cf := f.methodFacts(cleanup)
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
					return funcLabel(m) // sets back the flag cleanup sets
				}
			}
		}
		if resumeNames[m.Name()] {
			for v := range cf.touches {
				// Locking the same mutex is no undoing.
				if mf.touches[v] && !isSyncType(v.Type()) {
					return funcLabel(m)
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
	rt := recv.Type()
	if p, ok := rt.(*types.Pointer); ok {
		rt = p.Elem()
	}
	n, ok := types.Unalias(rt).(*types.Named)
	return ok && n.Origin() == t.Origin()
}
