package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"

	"github.com/dave/dst"

	"github.com/leakfix/leakfix/rules"
)

// This file writes what a fix adds where the work starts (the context, the
// stored cancel function and done channel, the stored timer) and what the
// cleanup runs to stop it.

// startRef returns how the starter of a fix names a state variable.
//
// A type's state is reached through the owner as the starter spells it
// (s, or s.inner), cloned for every use since a dst node may stand in one
// place only; the package's is reached by name.
func (rw *rewriter) startRef(h *holder, fix rules.Fix) (func(string) dst.Expr, error) {
	if h.typ == nil {
		return func(name string) dst.Expr { return dst.NewIdent(name) }, nil
	}
	expr := fix.Base().Owner.Expr
	var owner dst.Expr
	if n, ok := rw.dec.Dst.Nodes[expr]; ok {
		owner = n.(dst.Expr)
	} else if _, err := rw.file(expr); err != nil {
		return nil, err
	} else if n, ok := rw.dec.Dst.Nodes[expr]; ok {
		owner = n.(dst.Expr)
	} else {
		return nil, fmt.Errorf("%s: owner expression not found", rw.pkg.Fset.Position(expr.Pos()))
	}
	return func(name string) dst.Expr { return sel(dst.Clone(owner).(dst.Expr), name) }, nil
}

// storeTimer keeps the timer a time.AfterFunc call returns:
//
//	time.AfterFunc(d, f)   =>   c.refreshTimer = time.AfterFunc(d, f)
//
// under the owner's mutex when it is guarded.
func (rw *rewriter) storeTimer(t *rules.Timer, timer, mu string, ref func(string) dst.Expr) error {
	n, err := rw.node(t.Stmt)
	if err != nil {
		return err
	}
	c, err := rw.node(t.Call)
	if err != nil {
		return err
	}
	old := n.(dst.Stmt)
	store := &dst.AssignStmt{Lhs: []dst.Expr{ref(timer)}, Tok: token.ASSIGN, Rhs: []dst.Expr{c.(dst.Expr)}}
	starter, err := rw.node(t.Starter.Body)
	if err != nil {
		return err
	}
	// Unguarded, the statement becomes the store, keeping its comments: the
	// diff is one changed line.
	if mu == "" {
		store.Decs.NodeDecs = *old.Decorations()
		if !replace(starter, old, store) {
			return fmt.Errorf("%s: timer statement not found", rw.pkg.Fset.Position(t.Stmt.Pos()))
		}
		return nil
	}
	// Guarded, a Start may run while the cleanup reads the field, so the
	// store is made under the mutex. The old statement's comments move to the
	// Lock line, where the statement now starts, and its line comment to the
	// Unlock line, where it ends.
	lock := &dst.ExprStmt{X: call(sel(ref(mu), "Lock"))}
	unlock := &dst.ExprStmt{X: call(sel(ref(mu), "Unlock"))}
	if !insertReplacing(starter, old, lock, store) || !replace(starter, old, unlock) {
		return fmt.Errorf("%s: timer statement is not in a statement list", rw.pkg.Fset.Position(t.Stmt.Pos()))
	}
	unlock.Decs.End = old.Decorations().End
	return nil
}

// stopTimer stops a stored timer: if c.refreshTimer != nil { c.refreshTimer.Stop() }.
//
// The nil check keeps a cleanup before the timer was set a no-op (promise
// 3); Stop on a timer that already fired does nothing, so calling the
// cleanup twice is safe too.
func stopTimer(timer, mu string, ref func(string) dst.Expr) []dst.Stmt {
	block := []dst.Stmt{&dst.IfStmt{
		Cond: &dst.BinaryExpr{X: ref(timer), Op: token.NEQ, Y: dst.NewIdent("nil")},
		Body: &dst.BlockStmt{List: []dst.Stmt{&dst.ExprStmt{X: call(sel(ref(timer), "Stop"))}}},
	}}
	if mu == "" {
		return block
	}
	return append([]dst.Stmt{&dst.ExprStmt{X: call(sel(ref(mu), "Lock"))}},
		append(block, &dst.ExprStmt{X: call(sel(ref(mu), "Unlock"))})...)
}

// cleanupRef returns how the cleanup names a state variable.
// Inside the cleanup a type's state is reached through its receiver,
// which is not how the starter names the owner.
func (h *holder) cleanupRef() func(string) dst.Expr {
	if h.typ == nil {
		return func(name string) dst.Expr { return dst.NewIdent(name) }
	}
	return func(name string) dst.Expr { return sel(dst.NewIdent(h.recv), name) }
}

// stopBlock stops one loop and waits for it:
//
//	if s.stopCleanup != nil {
//		s.stopCleanup()
//		<-s.cleanupDone
//	}
//
// guarded by the loop's mutex when it has one. A group's cancel stops all
// its loops, and the block waits for each (more are the other loops' done
// channels). With ctx set, each wait also ends when that context is done:
//
//	select {
//	case <-s.cleanupDone:
//	case <-ctx.Done():
//	}
//
// This block keeps promise 3. The nil check makes it a no-op on a zero
// value or before the work started. The stop is never reset to nil, so a
// second call cancels again, which does nothing, and finds done closed;
// a loop that ended by itself has closed done too, and nothing blocks.
// Waiting for done, not only cancelling, is what lets the caller rely on
// the work having ended when the cleanup returns.
func stopBlock(st state, ref func(string) dst.Expr, ctx string, more ...string) []dst.Stmt {
	body := []dst.Stmt{&dst.ExprStmt{X: call(ref(st.stop))}}
	for _, done := range append([]string{st.done}, more...) {
		var wait dst.Stmt = &dst.ExprStmt{X: recv(ref(done))}
		if ctx != "" {
			wait = &dst.SelectStmt{Body: &dst.BlockStmt{List: []dst.Stmt{
				&dst.CommClause{Comm: &dst.ExprStmt{X: recv(ref(done))}},
				&dst.CommClause{Comm: &dst.ExprStmt{X: recv(call(sel(dst.NewIdent(ctx), "Done")))}},
			}}}
		}
		body = append(body, wait)
	}
	block := []dst.Stmt{&dst.IfStmt{
		Cond: &dst.BinaryExpr{X: ref(st.stop), Op: token.NEQ, Y: dst.NewIdent("nil")},
		Body: &dst.BlockStmt{List: body},
	}}
	if st.mu == "" {
		return block
	}
	return append([]dst.Stmt{&dst.ExprStmt{X: call(sel(ref(st.mu), "Lock"))}},
		append(block, &dst.ExprStmt{X: call(sel(ref(st.mu), "Unlock"))})...)
}

// start creates the loop's context right before the go statement, stores
// its cancel function and done channel, and makes the goroutine close done
// when it returns.
//
// Unguarded, the goroutine closes the stored channel. Guarded, the state is
// stored under the mutex and the goroutine closes its own channel, so that a
// later start cannot make it close another loop's.
//
// The context is a fresh context.Background(): the work now lives as
// long as its owner, not as long as any caller's context (promise 8: a
// context in scope that was the work's lifetime would have been honoured
// instead, see honourCtx).
func (rw *rewriter) start(l *rules.Loop, st state, ref func(string) dst.Expr, g *group) error {
	starter, err := rw.node(l.Starter.Body)
	if err != nil {
		return err
	}
	gs, err := rw.node(l.Start)
	if err != nil {
		return err
	}
	startStmt := gs.(dst.Stmt)
	later := g != nil && g.loops[0] != l // the group's state is already stored
	var ctx, cancel string
	var stmts []dst.Stmt
	if later {
		ctx, cancel = g.ctx, g.cancel
	} else {
		taken := rw.takenIn(l.Starter)
		// ctx and cancel read best, as in the DESIGN illustration; if either is
		// taken both take the loop's name, so that they still read as a pair.
		ctx, cancel = "ctx", "cancel"
		if taken[ctx] || taken[cancel] {
			ctx, cancel = fresh(taken, l.Name+"Ctx"), fresh(taken, "cancel"+upperFirst(l.Name))
		} else {
			taken[ctx], taken[cancel] = true, true
		}
		stmts = []dst.Stmt{&dst.AssignStmt{
			Lhs: []dst.Expr{dst.NewIdent(ctx), dst.NewIdent(cancel)},
			Tok: token.DEFINE,
			Rhs: []dst.Expr{call(qual("context", "WithCancel"), call(qual("context", "Background")))},
		}}
	}
	dones := []string{st.done} // the done channels stored here
	var locals []string        // guarded: the starter's own done channels, in the order of dones
	if g != nil {
		g.ctx, g.cancel = ctx, cancel
		dones = g.dones
	}
	// store assigns the cancel function and the done channels.
	// The state is stored before the go statement: the goroutine's deferred
	// close(done) must find the channel made, and the cleanup may run as
	// soon as the starter returns.
	store := func(values []dst.Expr) dst.Stmt {
		lhs := []dst.Expr{ref(st.stop)}
		for _, d := range dones {
			lhs = append(lhs, ref(d))
		}
		return &dst.AssignStmt{Lhs: lhs, Tok: token.ASSIGN, Rhs: append([]dst.Expr{dst.NewIdent(cancel)}, values...)}
	}
	switch {
	case st.mu == "" && !later:
		var values []dst.Expr
		for range dones {
			values = append(values, call(dst.NewIdent("make"), chanStruct()))
		}
		stmts = append(stmts, store(values))
	case st.mu != "" && !later:
		// Guarded, each goroutine closes a channel of the starter's own,
		// so that a later start cannot make it close another loop's.
		taken := rw.takenIn(l.Starter)
		var values []dst.Expr
		for i := range dones {
			local := fresh(taken, "done", l.Name+"Done")
			if g != nil {
				local = fresh(taken, g.loops[i].Name+"Done")
			}
			locals = append(locals, local)
			values = append(values, dst.NewIdent(local))
			stmts = append(stmts, define(local, call(dst.NewIdent("make"), chanStruct())))
		}
		if g != nil {
			g.locals = locals
		}
		stmts = append(stmts,
			&dst.ExprStmt{X: call(sel(ref(st.mu), "Lock"))},
			store(values),
			&dst.ExprStmt{X: call(sel(ref(st.mu), "Unlock"))},
		)
	case st.mu != "":
		locals = g.locals
	}
	// The deferred close(done) goes first in the goroutine, so it runs last,
	// after the goroutine's own defers: when the cleanup's wait returns,
	// everything the goroutine does on its way out is done.
	closeDone := func() dst.Stmt {
		if st.mu == "" {
			return &dst.DeferStmt{Call: call(dst.NewIdent("close"), ref(st.done))}
		}
		i := 0
		if g != nil {
			i = slices.Index(g.loops, l)
		}
		return &dst.DeferStmt{Call: call(dst.NewIdent("close"), dst.NewIdent(locals[i]))}
	}
	if len(stmts) > 0 && !insertBefore(starter, startStmt, stmts...) {
		return fmt.Errorf("%s: go statement is not in a statement list", rw.pkg.Fset.Position(l.Start.Pos()))
	}
	// A return that hands the caller no owner stops the work first:
	//
	//	cancel()
	//	<-s.cleanupDone
	//	return nil, err
	for _, ret := range l.Abandon {
		// Guarded state is written under the mutex and a later start may
		// replace it, so the unguarded read of st.done below would race:
		// such a plan is an error rather than a silent race.
		if st.mu != "" {
			return fmt.Errorf("%s: a guarded loop is never abandoned", rw.pkg.Fset.Position(ret.Pos()))
		}
		r, err := rw.node(ret)
		if err != nil {
			return err
		}
		// The wait as well as the cancel: the function must not return while the
		// goroutine still works on a value the caller never gets.
		stop := []dst.Stmt{&dst.ExprStmt{X: call(dst.NewIdent(cancel))}, &dst.ExprStmt{X: recv(ref(st.done))}}
		if g != nil && g.stopped[ret] {
			stop = stop[1:] // an earlier loop of the group cancelled them all here
		} else if g != nil {
			g.stopped[ret] = true
		}
		if !insertBefore(starter, r.(dst.Stmt), stop...) {
			return fmt.Errorf("%s: return is not in a statement list", rw.pkg.Fset.Position(ret.Pos()))
		}
	}

	if l.Lit != nil {
		lit, err := rw.node(l.Lit)
		if err != nil {
			return err
		}
		// The literal captures the starter's ctx, so it is the stop signal as it
		// is. closeDone is prepended after stoppable's prepends, so it runs last.
		if err := rw.stoppable(l, ctx); err != nil {
			return err
		}
		body := lit.(*dst.FuncLit).Body
		body.List = append([]dst.Stmt{closeDone()}, body.List...)
		return nil
	}

	m, err := rw.node(l.Method)
	if err != nil {
		return err
	}
	method := m.(*dst.FuncDecl)
	goStmt := startStmt.(*dst.GoStmt) // only go statements start methods
	// A method cannot see the starter's ctx: every go statement passes it as
	// the new first argument.
	goStmt.Call.Args = append([]dst.Expr{dst.NewIdent(ctx)}, goStmt.Call.Args...)
	// The starts of one method (l.Starts) share its change: its stop
	// parameter, its stop cases and the close of the done field.
	changes := rw.first(l)
	if changes {
		// The method's parameter is named afresh: the method may already use
		// ctx for something else.
		mctx := fresh(rw.takenIn(l.Method), "ctx", l.Name+"Ctx")
		param := &dst.Field{Names: []*dst.Ident{dst.NewIdent(mctx)}, Type: qual("context", "Context")}
		method.Type.Params.List = append([]*dst.Field{param}, method.Type.Params.List...)
		if err := rw.stoppable(l, mctx); err != nil {
			return err
		}
	}
	switch {
	case st.mu == "" && l.Method.Recv == nil:
		// A package function started once closes the package's channel.
		if changes {
			method.Body.List = append([]dst.Stmt{&dst.DeferStmt{Call: call(dst.NewIdent("close"), ref(st.done))}}, method.Body.List...)
		}
	// The method closes its receiver's field, which is the owner the
	// starter stored into.
	case st.mu == "" && rw.ownMethod(l):
		if changes {
			receiver := dst.NewIdent(l.Method.Recv.List[0].Names[0].Name)
			method.Body.List = append([]dst.Stmt{&dst.DeferStmt{Call: call(dst.NewIdent("close"), sel(receiver, st.done))}}, method.Body.List...)
		}
	default:
		// go s.poll(ctx) becomes go func() { defer close(done); s.poll(ctx) }()
		// when guarded, and when poll is a method of an embedded type,
		// whose receiver has no done field to close.
		done := closeDone()
		if st.mu == "" {
			done = &dst.DeferStmt{Call: call(dst.NewIdent("close"), ref(st.done))}
		}
		if err := rw.evaluateEarly(l, starter, goStmt); err != nil {
			return err
		}
		lit := &dst.FuncLit{Type: &dst.FuncType{}, Body: &dst.BlockStmt{List: []dst.Stmt{
			done,
			&dst.ExprStmt{X: goStmt.Call},
		}}}
		goStmt.Call = call(lit)
	}
	return nil
}

// evaluateEarly keeps what the go statement goStmt evaluated when it ran,
// before its call moves into a new function literal, where it would be
// evaluated only once the goroutine runs: go p.poll(ctx, p.interval)
// followed by p.interval *= 2 would poll at the new interval.
//
// The method value and each argument whose value may change meanwhile
// are taken into a local right before the go statement, named after the
// method or the parameter it is passed as:
//
//	every := p.interval
//	go func() { defer close(done); p.poll(ctx, every) }()
//
// What cannot change is left as written, so the usual go p.poll(ctx)
// reads as before: a constant, nil, a function literal or function, a
// variable nothing in the package assigns but its declaration, and as
// receiver such a variable whose method takes a pointer (the call takes
// the variable's address, or the pointer it holds, as the go statement
// did), through embedded fields nothing assigns when the method is
// promoted. The new ctx, the call's first argument, is the starter's own.
func (rw *rewriter) evaluateEarly(l *rules.Loop, starter dst.Node, goStmt *dst.GoStmt) error {
	info := rw.pkg.Info
	orig := l.Start.(*ast.GoStmt).Call
	// quiet reports whether e evaluates to the same value later.
	quiet := func(e ast.Expr) bool {
		e = ast.Unparen(e)
		if tv := info.Types[e]; tv.Value != nil || tv.IsNil() {
			return true
		}
		switch e := e.(type) {
		case *ast.FuncLit:
			return true
		case *ast.Ident:
			switch info.Uses[e].(type) {
			case *types.Func:
				return true
			case *types.Var:
				return !assignsTo(info, rw.pkg.Files, e)
			}
		}
		return false
	}
	var params []string // the method's parameter names, in order
	for _, f := range l.Method.Type.Params.List {
		for _, n := range f.Names {
			params = append(params, n.Name)
		}
	}
	taken := rw.takenIn(l.Starter)
	var lhs, rhs []dst.Expr
	bind := func(x *dst.Expr, names ...string) {
		if len(names) == 0 {
			names = []string{"arg"}
		}
		name := fresh(taken, names...)
		lhs, rhs = append(lhs, dst.NewIdent(name)), append(rhs, *x)
		*x = dst.NewIdent(name)
	}
	// The method value first, as the go statement evaluates it first.
	fun := ast.Unparen(orig.Fun)
	sx, _ := fun.(*ast.SelectorExpr)
	var sel *types.Selection
	if sx != nil {
		sel = info.Selections[sx]
	}
	switch {
	case sel != nil && sel.Kind() == types.MethodVal:
		_, ptr := sel.Obj().Type().(*types.Signature).Recv().Type().(*types.Pointer)
		// The receiver a promoted method reaches is read through the
		// embedded fields, which must not change either.
		via := promotedVia(info.TypeOf(sx.X), sel.Index())
		fields := map[types.Object]bool{}
		for _, f := range via {
			fields[f] = true
		}
		if !ptr || !quiet(sx.X) || storesAny(info, rw.pkg.Files, fields) {
			// workerRun for p.run promoted from p.worker, if run is taken.
			names := []string{sx.Sel.Name}
			if len(via) > 0 {
				names = append(names, via[len(via)-1].Name()+upperFirst(sx.Sel.Name))
			}
			bind(&goStmt.Call.Fun, names...)
		}
	case sx != nil && sel == nil:
		// A qualified name: another package's function is fixed, its
		// variable is not.
		if _, ok := info.Uses[sx.Sel].(*types.Func); !ok {
			bind(&goStmt.Call.Fun, l.Method.Name.Name)
		}
	case !quiet(fun):
		// A func value: a variable or a field of func type.
		bind(&goStmt.Call.Fun, l.Method.Name.Name)
	}
	// goStmt's arguments are the new ctx and then orig's.
	if len(goStmt.Call.Args) != len(orig.Args)+1 {
		return fmt.Errorf("%s: the go statement's arguments do not match its call", rw.pkg.Fset.Position(orig.Pos()))
	}
	for i, a := range orig.Args {
		if quiet(a) {
			continue
		}
		var names []string
		if i < len(params) && params[i] != "_" {
			names = append(names, params[i])
		} else if len(params) > 0 && i >= len(params) && params[len(params)-1] != "_" {
			names = append(names, params[len(params)-1]) // variadic
		}
		switch a := ast.Unparen(a).(type) {
		case *ast.Ident:
			names = append(names, a.Name)
		case *ast.SelectorExpr:
			names = append(names, a.Sel.Name)
		}
		bind(&goStmt.Call.Args[i+1], names...)
	}
	if len(lhs) == 0 {
		return nil
	}
	s := &dst.AssignStmt{Lhs: lhs, Tok: token.DEFINE, Rhs: rhs}
	if !insertBefore(starter, goStmt, s) {
		return fmt.Errorf("%s: go statement is not in a statement list", rw.pkg.Fset.Position(orig.Pos()))
	}
	return nil
}

// promotedVia returns the embedded fields through which a method of index
// path (a Selection's Index) is promoted from t, outermost first; none
// when the method is t's own.
func promotedVia(t types.Type, path []int) []*types.Var {
	var fields []*types.Var
	for _, i := range path[:len(path)-1] {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		st := t.Underlying().(*types.Struct) // a promoting path goes through structs only
		fields = append(fields, st.Field(i))
		t = st.Field(i).Type()
	}
	return fields
}

// ownMethod reports whether the loop's method is declared on its owner's
// type, not promoted from an embedded one.
// Origin, so that a method of a generic owner counts as its own.
func (rw *rewriter) ownMethod(l *rules.Loop) bool {
	fn, ok := rw.pkg.Info.Defs[l.Method.Name].(*types.Func)
	if !ok || l.Owner == nil || l.Owner.Type == nil {
		return false
	}
	recv := fn.Type().(*types.Signature).Recv().Type()
	if p, ok := recv.(*types.Pointer); ok {
		recv = p.Elem()
	}
	n, ok := types.Unalias(recv).(*types.Named)
	return ok && n.Origin() == l.Owner.Type.Origin()
}
