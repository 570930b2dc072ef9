package rules

import (
	"go/ast"
	"go/token"
	"go/types"
)

// This file decides which of a loop's channel operations the fix can make
// interruptible. A send or receive that stands as a statement of the loop's
// body, on a channel that only make ever sets and that the loop's owner
// holds, becomes a select that also returns on the stop signal:
//
//	s.out <- s.n   =>   select { case <-ctx.Done(): return; case s.out <- s.n: }
//
// Until the work is stopped the select waits exactly as the operation did.
// Once it is stopped, the operation is dropped, which is what stopping the
// loop just before it would have done. That is safe only where the code
// shows nobody is owed it: a reply to a request (req.reply <- x), a channel
// handed in from elsewhere, or one the cleanup itself sends or receives on,
// is left as it is, and the loop is not fixed.

// blocksWhy is why a loop whose channel operation op a stop cannot
// interrupt is not fixed.
func (f *loopFinder) blocksWhy(op ast.Node) string {
	return "the loop also blocks on a channel operation that a stop signal cannot interrupt (" +
		f.pass.Fset.Position(op.Pos()).String() + ")"
}

// chanWaits makes waits of the channel operations of l the fix can
// interrupt, if it can interrupt them all, and returns the first one it
// cannot, or nil. Whose the channel is can be known only once the owner
// is: ownedOps checks that.
func (f *loopFinder) chanWaits(l *Loop) ast.Node {
	// All or nothing: one operation the fix cannot reach keeps the loop
	// blocked after a stop, so l is changed only when every one is a wait.
	// Then l.blocks is emptied, and each operation is a Wait whose op is
	// set, which ownedOps checks once the owner is known.
	var waits []Wait
	for _, op := range l.blocks {
		w, ok := f.chanWait(l, op)
		if !ok {
			return op
		}
		waits = append(waits, w)
	}
	l.Waits = append(l.Waits, waits...)
	l.blocks = nil
	return nil
}

// deferredOps returns the first channel operation, in a function literal
// that body defers, that may block with no stop to interrupt it: once the
// work is stopped it would run and keep the cleanup waiting.
func (f *loopFinder) deferredOps(body *ast.BlockStmt) ast.Node {
	// defer func() { n.stopped <- true }() sends once the loop has
	// returned on the stop; with nobody reading, the goroutine never ends
	// and the cleanup waits for ever. Only deferred literals are read (a
	// deferred method is not followed), and not those of literals inside
	// body, which are other code.
	var found ast.Node
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.DeferStmt:
			if lit, ok := ast.Unparen(n.Call.Fun).(*ast.FuncLit); ok && found == nil {
				if ops := f.closureOps(lit); len(ops) > 0 {
					found = ops[0]
				}
			}
		}
		return found == nil
	})
	return found
}

// chanWait returns the wait the channel operation op of l becomes, or
// false when the fix cannot make it one.
func (f *loopFinder) chanWait(l *Loop, op ast.Node) (Wait, bool) {
	// An operation that is no statement of the loop's own lists cannot
	// become a select in its place: one in an expression (f(<-ch)), a
	// header, a nested range, or a function literal the loop calls
	// (func() { b.out <- n }(), where a return would leave the literal).
	stmt := opStmt(l.Stmt, op)
	if stmt == nil {
		return Wait{}, false
	}
	w := Wait{Node: stmt, op: op}
	switch s := stmt.(type) {
	case *ast.SendStmt:
		w.Kind = Send
	case *ast.ExprStmt:
		w.Kind = Recv
	case *ast.AssignStmt:
		// A variable declared by the receive is declared before the select
		// (var j job; select { ...; case j = <-w.jobs: }), which needs its
		// type spelled.
		w.Kind = RecvAssign
		if s.Tok == token.DEFINE && !f.spellable(f.pass.Info.TypeOf(s.Lhs[0])) {
			return Wait{}, false
		}
	}
	// Only a channel the package makes itself may lose an operation when
	// the work stops; one handed in (s.out = out) is someone else's, who
	// may be waiting for it. Whose value holds the channel (req.reply is
	// the request's) is judged by ownedOps, once the owner is known.
	if f.chanVar(opChan(op)) == nil {
		return Wait{}, false
	}
	return w, true
}

// opStmt returns the statement that is the channel operation op, when it
// stands in a statement list of loop's body: ch <- v, <-ch, or v := <-ch
// and v = <-ch for a variable v (a select evaluates the left side of its
// receive only once the receive happens). It returns nil for an operation
// in a header, a condition, or another expression.
func opStmt(loop ast.Stmt, op ast.Node) ast.Stmt {
	var found ast.Stmt
	var visit func(list []ast.Stmt)
	visit = func(list []ast.Stmt) {
		for _, s := range list {
			if found != nil {
				return
			}
			switch s := s.(type) {
			case *ast.SendStmt:
				if ast.Node(s) == op {
					found = s
				}
			case *ast.ExprStmt:
				if ast.Unparen(s.X) == op {
					found = s
				}
			case *ast.AssignStmt:
				_, isVar := s.Lhs[0].(*ast.Ident)
				if len(s.Lhs) == 1 && len(s.Rhs) == 1 && ast.Unparen(s.Rhs[0]) == op && isVar && (s.Tok == token.DEFINE || s.Tok == token.ASSIGN) {
					found = s
				}
			}
			for _, child := range stmtLists(s) {
				visit(child)
			}
		}
	}
	for _, list := range stmtLists(loop) {
		visit(list)
	}
	return found
}

// opChan returns the channel a send or receive operates on.
func opChan(op ast.Node) ast.Expr {
	switch op := op.(type) {
	case *ast.SendStmt:
		return op.Chan
	case *ast.UnaryExpr:
		return op.X
	}
	return nil
}

// chanVar returns the variable the channel expression ch names, when it is
// a package variable, or a field of a struct of this package reached from
// a variable (s.out, not s.conn.out or req().out), and the package stores
// only channels it makes in it. It returns nil otherwise.
func (f *loopFinder) chanVar(ch ast.Expr) *types.Var {
	var v *types.Var
	switch ch := ast.Unparen(ch).(type) {
	case *ast.Ident:
		// A local variable may hold any channel (a parameter, a call's
		// result); only a package variable's stores can all be read.
		pv, ok := f.pass.Info.Uses[ch].(*types.Var)
		if !ok || pv.Parent() != f.pass.Pkg.Scope() {
			return nil
		}
		v = pv
	case *ast.SelectorExpr:
		// A field of the value itself, not one promoted through an
		// embedded field (an index path of one), reached from a variable:
		// s.conn.out is conn's channel, whose owner is not known here.
		sel, ok := f.pass.Info.Selections[ch]
		if !ok || sel.Kind() != types.FieldVal || len(sel.Index()) != 1 {
			return nil
		}
		if _, ok := ast.Unparen(ch.X).(*ast.Ident); !ok {
			return nil
		}
		// The field of a generic type is one field for every instance.
		v = sel.Obj().(*types.Var).Origin()
	default:
		return nil
	}
	// A field of another package's type is set by code this package
	// cannot see.
	if v.Pkg() != f.pass.Pkg || !f.onlyMade(v) {
		return nil
	}
	return v
}

// namesVar reports whether e, a name or a selector, names v. A field of an
// instantiated generic type (s.out on a Sampler[int]) names the field of
// the generic declaration it comes from, which is the v the callers hold.
func (f *loopFinder) namesVar(e ast.Expr, v *types.Var) bool {
	o, ok := f.objectOf(e).(*types.Var)
	return ok && o.Origin() == v
}

// onlyMade reports whether the package stores in v, a field or a package
// variable, channels that make returns and nothing else, and stores one:
// the other end of the channel is then the package's own, reached from
// outside only through what the package hands out. Taking v's address
// counts as storing anything.
func (f *loopFinder) onlyMade(v *types.Var) bool {
	made, other := 0, false
	store := func(e ast.Expr) {
		if isMake(f.pass.Info, e) {
			made++
		} else {
			other = true
		}
	}
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				// s.out = out stores a channel from elsewhere; s.out, err =
				// open() stores a call's result, which may be anything.
				for i, lhs := range n.Lhs {
					if f.namesVar(lhs, v) {
						if len(n.Lhs) != len(n.Rhs) {
							other = true
						} else {
							store(n.Rhs[i])
						}
					}
				}
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if f.pass.Info.Defs[name] == v && len(n.Values) > 0 {
						if len(n.Values) != len(n.Names) {
							other = true
						} else {
							store(n.Values[i])
						}
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.AND && f.namesVar(n.X, v) {
					other = true
				}
			case *ast.CompositeLit:
				// &Sampler{out: make(chan int, 1)} stores as an assignment
				// does.
				if e := fieldValue(f.pass.Info, n, v); e != nil {
					store(e)
				}
			}
			// One store of anything else decides: the walk can stop.
			return !other
		})
	}
	return made > 0 && !other
}

// fieldValue returns the value that the composite literal lit gives the
// field v, or nil.
func fieldValue(info *types.Info, lit *ast.CompositeLit, v *types.Var) ast.Expr {
	t := info.TypeOf(lit)
	if t == nil {
		return nil
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	for i := range st.NumFields() {
		if st.Field(i).Origin() != v {
			continue
		}
		// A literal is keyed throughout or not at all: a keyed element
		// names its field, an unkeyed one is the field at its index.
		for j, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if key, ok := kv.Key.(*ast.Ident); ok && key.Name == v.Name() {
					return kv.Value
				}
			} else if j == i {
				return e
			}
		}
	}
	return nil
}

// spellable reports whether a declaration in this package can name t the
// way the rewrite spells types: a predeclared type, a type declared at
// this package's top level, or a pointer to one.
func (f *loopFinder) spellable(t types.Type) bool {
	// Anything else (a slice, a map, an alias such as any, another
	// package's type, a type declared inside a function, an instance of a
	// generic type) is refused: the check errs toward no fix.
	switch t := t.(type) {
	case *types.Basic:
		return t.Info()&types.IsUntyped == 0
	case *types.Pointer:
		return f.spellable(t.Elem())
	case *types.Named:
		obj := t.Obj()
		return t.TypeArgs().Len() == 0 && (obj.Pkg() == nil || obj.Pkg() == f.pass.Pkg && obj.Parent() == f.pass.Pkg.Scope())
	}
	return false
}

// ownedOps returns why one of the channel operations that chanWaits made
// waits of cannot be dropped once the work stops, or "". Its channel must
// be held by the loop's owner: a field of the value whose work the loop
// is, or, for the package's work, a package variable. And the cleanup that
// will stop the work must not send or receive on it itself: it would then
// wait for an operation the stopped loop no longer does.
func (f *loopFinder) ownedOps(l *Loop) string {
	owner := f.ownerVar(l)
	var cleanups []*ast.FuncDecl
	if o := l.Owner; o != nil {
		cleanups = append(cleanups, o.Cleanup, o.Promoted)
		if o.Existing != nil {
			cleanups = append(cleanups, f.methodNamed(o.Type, o.Existing.By))
		}
	}
	// Waits without op are the loop's own waits on time or signals:
	// nobody is owed those.
	for _, w := range l.Waits {
		if w.op == nil {
			continue
		}
		ch := opChan(w.op)
		held := false
		switch ch := ast.Unparen(ch).(type) {
		case *ast.Ident:
			// A package variable's channel is held by the package's own
			// work only: no one value of a type owns what every value
			// shares.
			held = l.Owner != nil && l.Owner.Type == nil
		case *ast.SelectorExpr:
			// chanVar admitted only x.f with x an identifier, so the
			// assertion holds. s.out is held when s is the owner itself,
			// not another value of the same type (peer.out).
			held = owner != nil && f.pass.Info.Uses[ast.Unparen(ch.X).(*ast.Ident)] == owner
		}
		if !held {
			return f.blocksWhy(w.op)
		}
		// func (g *Gauge) Close() int { return <-g.out } would wait for
		// ever for the loop it has just stopped.
		v := f.chanVar(ch)
		for _, c := range cleanups {
			if c != nil && c.Body != nil && f.usesChan(c.Body, v, 0) {
				return f.blocksWhy(w.op)
			}
		}
	}
	return ""
}

// ownerVar returns the variable that names the loop's owner inside the
// goroutine: the receiver of its method, or the variable the starter
// names the owner by, which the function literal uses. It returns nil when
// there is none.
func (f *loopFinder) ownerVar(l *Loop) types.Object {
	// An unnamed receiver gives nil, and then no field of the owner is
	// held: the method cannot name one.
	if l.Method != nil && l.Method.Recv != nil {
		if names := l.Method.Recv.List[0].Names; len(names) == 1 {
			return f.pass.Info.Defs[names[0]]
		}
		return nil
	}
	if l.Lit != nil && l.Owner != nil && l.Owner.Type != nil {
		if id, ok := ast.Unparen(l.Owner.Expr).(*ast.Ident); ok {
			return f.pass.Info.ObjectOf(id)
		}
	}
	return nil
}

// usesChan reports whether the code under n, or the package's functions it
// calls (a few calls deep), sends on, receives from or ranges over v.
func (f *loopFinder) usesChan(n ast.Node, v *types.Var, depth int) bool {
	// Calls are followed three deep into the package's own functions
	// (Close calling s.drain); deeper, or through a function value, a use
	// is not seen.
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SendStmt:
			found = found || f.namesVar(n.Chan, v)
		case *ast.UnaryExpr:
			found = found || n.Op == token.ARROW && f.namesVar(n.X, v)
		case *ast.RangeStmt:
			found = found || f.namesVar(n.X, v)
		case *ast.CallExpr:
			if fn := calleeFunc(f.pass.Info, n); fn != nil && depth < 3 {
				if decl := f.methods[fn.Origin()]; decl != nil && decl.Body != nil {
					found = found || f.usesChan(decl.Body, v, depth+1)
				}
			}
		}
		return !found
	})
	return found
}
