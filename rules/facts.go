package rules

import (
	"go/ast"
	"go/types"
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
	// ctxDefs holds every assignment the package makes to each context
	// variable or field, keyed fields of composite literals included. A
	// context absent from it is set only by a caller or by code outside
	// the package.
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

// newLifetimeFacts returns empty facts, ready for indexLifetimes to fill
// one function at a time.
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
	// def records that value is assigned to lhs, and cancel (nil when
	// there is none) receives the cancel function of the same call.
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
		// ctx, _ := context.WithCancel(parent) drops the cancel function:
		// cancel stays nil, and only the parent can end the context.
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
			// ctx, cancel := context.WithCancel(parent): the second
			// name holds the cancel function. For other calls with two
			// results (ch, err := open()) the second matters only as the
			// cancel function of a context.With* call.
			def(lhs[0], rhs[0], lhs[1])
		case len(lhs) == len(rhs):
			for i := range lhs {
				def(lhs[i], rhs[i], nil)
			}
		}
		// A channel on the right is now reachable through another name.
		for _, r := range rhs {
			f.move(r)
		}
	}
	// calls does not enter function literals: a cancel function called
	// only from a callback or a goroutine runs at a time the literal
	// decides, so the *ast.Ident case below counts it as kept, not called.
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
	// The walk covers fn whole, its signature and its function literals:
	// a literal's parameters are parameters too, and what a literal does
	// with a channel or a cancel function counts as much as fn's body.
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
			// defer cancel(), and defer func() { cancel(); log.Print(...) }():
			// a cancel the deferred literal calls among its top-level
			// statements runs when fn returns as surely. One it calls
			// under a condition (if err != nil { cancel() }) may not, and
			// the identifier case below counts it as kept.
			if id, ok := ast.Unparen(n.Call.Fun).(*ast.Ident); ok {
				if obj := info.Uses[id]; obj != nil {
					lf.deferred[obj] = true
				}
				return false
			}
			if lit, ok := ast.Unparen(n.Call.Fun).(*ast.FuncLit); ok {
				for _, st := range lit.Body.List {
					if es, ok := st.(*ast.ExprStmt); ok {
						if call, ok := ast.Unparen(es.X).(*ast.CallExpr); ok {
							if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok && info.Uses[id] != nil {
								lf.deferred[info.Uses[id]] = true
							}
						}
					}
				}
			}
		case *ast.Ident:
			// A function value named anywhere but as the callee of a
			// direct call is stored, passed, returned or called later.
			if obj := info.Uses[n]; obj != nil && !direct[n] {
				if _, ok := obj.Type().Underlying().(*types.Signature); ok {
					lf.kept[obj] = true
				}
			}
		case *ast.SendStmt:
			// A send can wake a receiver; a channel sent as the value
			// (s.replies <- reply) reaches whoever receives it.
			if obj := f.objectOf(n.Chan); obj != nil {
				lf.sent[obj] = true
			}
			f.move(n.Value)
		case *ast.CallExpr:
			// A channel passed to a function (signal.Notify(c, ...),
			// w.watch(s.quit)) may be sent on or closed there.
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
			// &watcher{ctx: context.Background()} assigns the field as
			// surely as w.ctx = context.Background() does.
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
	// A channel of a named type (type signal chan struct{}) is a channel
	// too; an expression with no type is none.
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

// ctxLife is ctxLifetime at depth steps down a chain of assignments.
// The bound on depth ends cycles such as ctx = context.WithValue(ctx, k, v),
// whose definition names the variable it defines.
func (f *loopFinder) ctxLife(obj types.Object, depth int) lifetime {
	v, ok := obj.(*types.Var)
	if !ok || depth > 8 {
		return lifeUnknown
	}
	defs := f.life.ctxDefs[v]
	// Assigned nowhere in the package: a parameter's context is its
	// caller's, and anything else (a field of another package, a value
	// a caller stores) may be cancelled by code not in view.
	if len(defs) == 0 {
		if f.isParam(v) {
			return lifeParam
		}
		return lifeUnknown
	}
	// Every assignment must agree: a field set to context.Background() in
	// one constructor and to a caller's context in another has no one
	// lifetime.
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
		// r.Context() of a server's request is cancelled when the
		// handler returns, or the client goes away.
		fn := calleeFunc(info, e)
		if fn != nil && fn.Name() == "Context" && fn.Signature().Recv() != nil && isNamed(derefType(fn.Signature().Recv().Type()), "net/http", "Request") {
			return lifeShort // a request's context ends with the request
		}
		if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "context" {
			return lifeUnknown
		}
		// The parent is the first argument of every context.With*
		// function: a variable (context.WithCancel(ctx)) or a call
		// (context.WithTimeout(context.Background(), d)).
		parent := lifeUnknown
		if len(e.Args) > 0 {
			if id, ok := ast.Unparen(e.Args[0]).(*ast.Ident); ok {
				parent = f.ctxLife(info.Uses[id], depth+1)
			} else if c, ok := ast.Unparen(e.Args[0]).(*ast.CallExpr); ok {
				parent = f.valueLife(ctxDef{fn: d.fn, value: c}, depth+1)
			}
		}
		// The order of the cases below matters: a child never outlives a
		// parent that ends with its function, a deferred cancel or a
		// deadline ends the context whatever else holds the cancel
		// function, and only then does a kept cancel make it owned.
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
				// Stored or handed on: whoever holds it decides when
				// the context ends.
				return lifeOwned
			case d.cancel != nil && f.life.called[d.cancel]:
				return lifeShort // cancelled before the function returns
			case parent == lifeParam || parent == lifeOwned:
				// The cancel function is dropped: the context ends
				// when its parent does.
				return parent
			}
			// Also reached when the parent's lifetime is unknown (a call's
			// result, a field set outside the package), though something
			// may cancel that parent.
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
	// An exported field or variable (Quit chan struct{}) may be closed by
	// whoever made the value, out of view.
	if f.closed[obj] || f.life.sent[obj] || f.life.moved[obj] || obj.Exported() {
		return true
	}
	// Another package's channel: its own code may close it.
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
		// context.Background().Done(), with no variable in between.
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
	// Unlike stops, any element type: a case on a data channel that no
	// code can send on or close never runs either.
	if _, ok := obj.Type().Underlying().(*types.Chan); !ok {
		return false
	}
	return !f.canFire(obj)
}

// isField reports whether obj is a struct field.
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
