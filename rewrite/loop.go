package rewrite

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/dstutil"

	"github.com/leakfix/leakfix/rules"
)

// honourCtx makes a loop return once a context already in scope is done.
func (rw *rewriter) honourCtx(l *rules.Loop) error {
	if !rw.first(l) {
		return nil // another start of the method made it honour its context
	}
	return rw.stoppable(l, l.Ctx)
}

// honourOwner makes a loop return on the stop signal its owner already has
// and fires on its way out (<-s.quit, or <-s.ctx.Done()), and join the
// WaitGroup that way out waits on:
//
//	s.wg.Add(1)               before the go statement
//	defer s.wg.Done()         first in the goroutine
func (rw *rewriter) honourOwner(l *rules.Loop) error {
	ex := l.Owner.Existing
	// Inside a method the receiver names the owner; inside a literal, the
	// variable the starter names it by.
	inside := ""
	if l.Method != nil {
		inside = l.Method.Recv.List[0].Names[0].Name
	} else if id, ok := ast.Unparen(l.Owner.Expr).(*ast.Ident); ok {
		inside = id.Name
	} else {
		return fmt.Errorf("%s: the owner is not named by a variable", rw.pkg.Fset.Position(l.Start.Pos()))
	}
	st := stop{errResult: l.ErrResult, ch: func() dst.Expr {
		if ex.Ctx {
			return call(sel(sel(dst.NewIdent(inside), ex.Signal), "Done"))
		}
		return sel(dst.NewIdent(inside), ex.Signal)
	}}
	// Each start of a method joins the WaitGroup; the method changes once.
	changes := rw.first(l)
	if changes {
		if err := rw.stoppableWith(l, st); err != nil {
			return err
		}
	}
	if ex.Group == "" {
		return nil
	}
	starter, err := rw.node(l.Starter.Body)
	if err != nil {
		return err
	}
	g, err := rw.node(l.Start)
	if err != nil {
		return err
	}
	owner, err := rw.node(l.Owner.Expr)
	if err != nil {
		return err
	}
	add := &dst.ExprStmt{X: call(sel(sel(dst.Clone(owner).(dst.Expr), ex.Group), "Add"), &dst.BasicLit{Kind: token.INT, Value: "1"})}
	if !insertBefore(starter, g.(dst.Stmt), add) {
		return fmt.Errorf("%s: go statement is not in a statement list", rw.pkg.Fset.Position(l.Start.Pos()))
	}
	if !changes {
		return nil
	}
	_, root, err := rw.goroutine(l)
	if err != nil {
		return err
	}
	prepend(root, &dst.DeferStmt{Call: call(sel(sel(dst.NewIdent(inside), ex.Group), "Done"))})
	return nil
}

// prepend makes s the first statement of the goroutine's function root.
func prepend(root dst.Node, s dst.Stmt) {
	var body *dst.BlockStmt
	switch fn := root.(type) {
	case *dst.FuncLit:
		body = fn.Body
	case *dst.FuncDecl:
		body = fn.Body
	}
	body.List = append([]dst.Stmt{s}, body.List...)
}

// stopTicker adds `defer t.Stop()` right after a ticker is made.
func (rw *rewriter) stopTicker(t *rules.TickerStop) error {
	n, err := rw.node(t.Assign)
	if err != nil {
		return err
	}
	fn, err := rw.node(t.Starter.Body)
	if err != nil {
		return err
	}
	stop := &dst.DeferStmt{Call: call(sel(dst.NewIdent(t.Var), "Stop"))}
	done := false
	dstutil.Apply(fn, func(c *dstutil.Cursor) bool {
		if !done && c.Node() == n && c.Index() >= 0 {
			c.InsertAfter(stop)
			done = true
		}
		return !done
	}, nil)
	if !done {
		return fmt.Errorf("%s: ticker is not made in a statement list", rw.pkg.Fset.Position(t.Assign.Pos()))
	}
	return nil
}

// stopSignal makes the goroutine that reads a registered channel undo the
// registration when it returns: `defer signal.Stop(c)` in its body.
func (rw *rewriter) stopSignal(s *rules.SignalStop) error {
	lit, err := rw.node(s.Lit)
	if err != nil {
		return err
	}
	ch, err := rw.node(s.Chan)
	if err != nil {
		return err
	}
	// After the goroutine's leading defers, so that it runs before them:
	// a deferred close(done) or wg.Done() tells the owner the goroutine has
	// ended, and by then the channel must be unregistered.
	body := lit.(*dst.FuncLit).Body
	i := 0
	for i < len(body.List) {
		if _, ok := body.List[i].(*dst.DeferStmt); !ok {
			break
		}
		i++
	}
	stop := &dst.DeferStmt{Call: call(qual("os/signal", "Stop"), dst.Clone(ch).(dst.Expr))}
	body.List = append(body.List[:i:i], append([]dst.Stmt{stop}, body.List[i:]...)...)
	return nil
}

// goroutine returns the declaration whose identifiers generated names inside
// the goroutine must avoid, and the dst node of the goroutine's function.
func (rw *rewriter) goroutine(l *rules.Loop) (*ast.FuncDecl, dst.Node, error) {
	if l.Method != nil {
		n, err := rw.node(l.Method)
		return l.Method, n, err
	}
	n, err := rw.node(l.Lit)
	return l.Starter, n, err
}

// stoppable turns every wait of l into a select that also returns when ctx,
// the name of a context.Context in scope, is done.
//
//	time.Sleep(d)                 =>  select { case <-ctx.Done(): return; case <-time.After(d): }
//	s.out <- v                    =>  select { case <-ctx.Done(): return; case s.out <- v: }
//	for t := range time.Tick(d)   =>  for { var t time.Time; select { ...; case t = <-ticker.C: }; body }
func (rw *rewriter) stoppable(l *rules.Loop, ctx string) error {
	return rw.stoppableWith(l, stop{errResult: l.ErrResult, ch: func() dst.Expr { return call(sel(dst.NewIdent(ctx), "Done")) }})
}

// stoppableWith is stoppable for any stop signal st receives from.
func (rw *rewriter) stoppableWith(l *rules.Loop, st stop) error {
	decl, root, err := rw.goroutine(l)
	if err != nil {
		return err
	}
	if l.DeadReturn != nil {
		// A return after a range that never ended is dead code, and once
		// the range is a for without a condition it is unreachable.
		ret, err := rw.node(l.DeadReturn)
		if err != nil {
			return err
		}
		if !remove(root, ret) {
			return fmt.Errorf("%s: return after the loop not found", rw.pkg.Fset.Position(l.DeadReturn.Pos()))
		}
	}
	taken := rw.takenIn(decl)
	if l.Signal != nil {
		// Undo the registration when the goroutine returns, before done is
		// closed: after Shutdown no signal is delivered to the channel.
		ch, err := rw.node(l.Signal)
		if err != nil {
			return err
		}
		prepend(root, &dst.DeferStmt{Call: call(qual("os/signal", "Stop"), dst.Clone(ch).(dst.Expr))})
	}
	for _, w := range l.Waits {
		n, err := rw.node(w.Node)
		if err != nil {
			return err
		}
		switch w.Kind {
		case rules.Select:
			sel := n.(*dst.SelectStmt)
			sel.Body.List = append([]dst.Stmt{st.stopCase()}, sel.Body.List...)
		case rules.Sleep, rules.Recv:
			es := n.(*dst.ExprStmt)
			if w.Header != nil {
				if err := rw.headerWait(root, w, es, st); err != nil {
					return err
				}
				continue
			}
			var comm dst.Expr = es.X
			if w.Kind == rules.Sleep {
				comm = recv(call(qual("time", "After"), es.X.(*dst.CallExpr).Args[0]))
			}
			s := st.selectStmt(&dst.ExprStmt{X: comm})
			// A comment at the end of the line stays on the line that waits;
			// comments on the lines below stay below the select.
			s.Decs.Before, s.Decs.Start, s.Decs.After = es.Decs.Before, es.Decs.Start, es.Decs.After
			s.Body.List[1].(*dst.CommClause).Decs.Colon, s.Decs.End = splitLine(es.Decs.End)
			if !replace(root, es, s) {
				return fmt.Errorf("%s: wait not found in its goroutine", rw.pkg.Fset.Position(w.Node.Pos()))
			}
		case rules.Send:
			// ch <- v  =>  select { case <-ctx.Done(): return; case ch <- v: }
			ss := n.(*dst.SendStmt)
			s := st.selectStmt(&dst.SendStmt{Chan: ss.Chan, Value: ss.Value})
			s.Decs.Before, s.Decs.Start, s.Decs.After = ss.Decs.Before, ss.Decs.Start, ss.Decs.After
			s.Body.List[1].(*dst.CommClause).Decs.Colon, s.Decs.End = splitLine(ss.Decs.End)
			if !replace(root, ss, s) {
				return fmt.Errorf("%s: send not found in its goroutine", rw.pkg.Fset.Position(w.Node.Pos()))
			}
		case rules.RecvAssign:
			if err := rw.recvAssign(root, w.Node.(*ast.AssignStmt), n.(*dst.AssignStmt), st); err != nil {
				return err
			}
		case rules.RangeTick, rules.RangeChan:
			if err := rw.rangeLoop(root, w, n.(*dst.RangeStmt), st, taken); err != nil {
				return err
			}
		}
	}
	return nil
}

// headerWait moves a wait out of a for header, where a select cannot
// stand: an init statement runs once, before the loop; a post statement
// runs after each pass, at the end of the body (the plan refused the loop
// if a continue would run it too).
//
//	for time.Sleep(d); ; <-ticker.C { body }
//	=>  select { ...; case <-time.After(d): }; for { body; select { ...; case <-ticker.C: } }
func (rw *rewriter) headerWait(root dst.Node, w rules.Wait, es *dst.ExprStmt, st stop) error {
	n, err := rw.node(w.Header)
	if err != nil {
		return err
	}
	fs := n.(*dst.ForStmt)
	comm := es.X
	if w.Kind == rules.Sleep {
		comm = recv(call(qual("time", "After"), es.X.(*dst.CallExpr).Args[0]))
	}
	s := st.selectStmt(&dst.ExprStmt{X: comm})
	switch dst.Stmt(es) {
	case fs.Post:
		fs.Post = nil
		fs.Body.List = append(fs.Body.List, s)
	case fs.Init:
		fs.Init = nil
		target, err := rw.listStmt(w.Header)
		if err != nil {
			return err
		}
		if !insertBefore(root, target, s) {
			return fmt.Errorf("%s: loop not found in a statement list", rw.pkg.Fset.Position(w.Header.Pos()))
		}
	default:
		return fmt.Errorf("%s: wait not found in its loop's header", rw.pkg.Fset.Position(w.Node.Pos()))
	}
	return nil
}

// recvAssign turns a receive into a variable into a select:
//
//	t := <-ticker.C   =>   var t time.Time; select { case <-ctx.Done(): return; case t = <-ticker.C: }
func (rw *rewriter) recvAssign(root dst.Node, aas *ast.AssignStmt, as *dst.AssignStmt, st stop) error {
	var pre []dst.Stmt
	lhs := as.Lhs[0]
	if as.Tok == token.DEFINE {
		id := lhs.(*dst.Ident)
		typ := rw.typeExpr(rw.pkg.Info.TypeOf(aas.Lhs[0]))
		if typ == nil {
			return fmt.Errorf("%s: cannot spell the type of %s", rw.pkg.Fset.Position(aas.Pos()), id.Name)
		}
		pre = append(pre, &dst.DeclStmt{Decl: &dst.GenDecl{
			Tok:   token.VAR,
			Specs: []dst.Spec{&dst.ValueSpec{Names: []*dst.Ident{dst.NewIdent(id.Name)}, Type: typ}},
		}})
		lhs = dst.NewIdent(id.Name)
	}
	s := st.selectStmt(&dst.AssignStmt{Lhs: []dst.Expr{lhs}, Tok: token.ASSIGN, Rhs: as.Rhs})
	s.Body.List[1].(*dst.CommClause).Decs.Colon, s.Decs.End = splitLine(as.Decs.End)
	if len(pre) > 0 {
		pre[0].Decorations().Before, pre[0].Decorations().Start = as.Decs.Before, as.Decs.Start
		if !insertBefore(root, as, pre...) {
			return fmt.Errorf("%s: receive is not in a statement list", rw.pkg.Fset.Position(aas.Pos()))
		}
	} else {
		s.Decs.Before, s.Decs.Start = as.Decs.Before, as.Decs.Start
	}
	s.Decs.After = as.Decs.After
	if !replace(root, as, s) {
		return fmt.Errorf("%s: receive not found in its goroutine", rw.pkg.Fset.Position(aas.Pos()))
	}
	return nil
}

// splitLine splits end-of-statement decorations into those on the
// statement's own line and those on the lines after it.
func splitLine(decs dst.Decorations) (line, below dst.Decorations) {
	for i, d := range decs {
		if d == "\n" {
			return decs[:i], decs[i:]
		}
		if strings.HasPrefix(d, "//") && i+1 < len(decs) {
			// A line comment ends its line: what follows starts a new one.
			return decs[:i+1], append(dst.Decorations{"\n"}, decs[i+1:]...)
		}
	}
	return decs, nil
}

// rangeLoop rewrites a range over a timer channel into a loop that selects
// on the channel and the stop signal. The body stays after the select, so
// break, continue and labels keep their meaning and the diff stays small.
func (rw *rewriter) rangeLoop(root dst.Node, w rules.Wait, rs *dst.RangeStmt, st stop, taken map[string]bool) error {
	ars := w.Node.(*ast.RangeStmt)
	var ch dst.Expr = rs.X
	var pre []dst.Stmt
	if tick, ok := rs.X.(*dst.CallExpr); ok && w.Kind == rules.RangeTick {
		d := tick.Args[0]
		if isPositive(rw.pkg.Info, ars.X.(*ast.CallExpr).Args[0]) {
			// A positive constant interval: a Ticker that stops with the loop.
			name := fresh(taken, "ticker")
			pre = []dst.Stmt{
				define(name, call(qual("time", "NewTicker"), d)),
				&dst.DeferStmt{Call: call(sel(dst.NewIdent(name), "Stop"))},
			}
			ch = sel(dst.NewIdent(name), "C")
		} else {
			// time.Tick returns nil for d <= 0 where NewTicker panics; keep it.
			name := fresh(taken, "tick")
			pre = []dst.Stmt{define(name, tick)}
			ch = dst.NewIdent(name)
		}
	} else if nt, ok := newTickerC(rw.pkg.Info, ars.X, rs.X); ok {
		// range time.NewTicker(d).C: the ticker is taken into a variable
		// and stopped with the loop, which matters before go 1.23, where
		// a ticker nobody stops ticks for ever.
		name := fresh(taken, "ticker")
		pre = []dst.Stmt{
			define(name, nt),
			&dst.DeferStmt{Call: call(sel(dst.NewIdent(name), "Stop"))},
		}
		ch = sel(dst.NewIdent(name), "C")
	} else if hasCall(ars.X) || assignsTo(rw.pkg.Info, ars.Body, ars.X) {
		// range evaluates its channel once; a select evaluates its case on
		// every pass, which for a ticker made in the expression (a clock
		// library's) would start a new one each time and turn a fixed rate
		// into a fixed delay, and for a ticker the body replaces would
		// follow the new one where range kept reading the old.
		name := fresh(taken, "ticks")
		pre = []dst.Stmt{define(name, rs.X)}
		ch = dst.NewIdent(name)
	}

	var head, after []dst.Stmt
	var lhs []dst.Expr // what the receive assigns
	elemType := func() (dst.Expr, error) {
		if elem := rw.typeExpr(rw.pkg.Info.TypeOf(ars.X).Underlying().(*types.Chan).Elem()); elem != nil {
			return elem, nil
		}
		return nil, fmt.Errorf("%s: cannot spell the type of the values of %s", rw.pkg.Fset.Position(ars.Pos()), rw.pkg.Fset.Position(ars.X.Pos()))
	}
	// Of the channels of times, only a Ticker's or Timer's and time.Tick's
	// are never closed; range ends when another is (a clock library's, a
	// fan-out of ticks), so the select must end the loop too instead of
	// receiving zero values for ever.
	closable := w.Kind == rules.RangeChan && !timeC(rw.pkg.Info, ars.X) &&
		isTime(rw.pkg.Info.TypeOf(ars.X).Underlying().(*types.Chan).Elem())
	if key, ok := rs.Key.(*dst.Ident); rs.Key != nil && !(ok && key.Name == "_") {
		switch {
		case rs.Tok == token.DEFINE:
			elem, err := elemType()
			if err != nil {
				return err
			}
			head = append(head, varDecl(key.Name, elem))
			lhs = []dst.Expr{dst.NewIdent(key.Name)}
		case closable:
			// range assigns nothing once the channel is closed.
			elem, err := elemType()
			if err != nil {
				return err
			}
			v := fresh(taken, "next")
			head = append(head, varDecl(v, elem))
			lhs = []dst.Expr{dst.NewIdent(v)}
			after = append(after, &dst.AssignStmt{Lhs: []dst.Expr{rs.Key}, Tok: token.ASSIGN, Rhs: []dst.Expr{dst.NewIdent(v)}})
		default:
			lhs = []dst.Expr{rs.Key}
		}
	}
	if closable {
		ok := fresh(taken, "ok")
		head = append(head, varDecl(ok, dst.NewIdent("bool")))
		if lhs == nil {
			lhs = []dst.Expr{dst.NewIdent("_")}
		}
		lhs = append(lhs, dst.NewIdent(ok))
		after = append([]dst.Stmt{&dst.IfStmt{
			Cond: &dst.UnaryExpr{Op: token.NOT, X: dst.NewIdent(ok)},
			Body: &dst.BlockStmt{List: []dst.Stmt{&dst.BranchStmt{Tok: token.BREAK}}},
		}}, after...)
	}
	var comm dst.Stmt = &dst.ExprStmt{X: recv(ch)}
	if lhs != nil {
		comm = &dst.AssignStmt{Lhs: lhs, Tok: token.ASSIGN, Rhs: []dst.Expr{recv(ch)}}
	}
	head = append(head, st.selectStmt(comm))
	head = append(head, after...)

	if len(pre) > 0 {
		target, err := rw.listStmt(ars)
		if err != nil {
			return err
		}
		if !insertBefore(root, target, pre...) {
			return fmt.Errorf("%s: loop not found in a statement list", rw.pkg.Fset.Position(ars.Pos()))
		}
	}
	body := rs.Body
	body.List = append(head, body.List...)
	fs := &dst.ForStmt{Body: body}
	fs.Decs.NodeDecs = rs.Decs.NodeDecs
	// Comments inside the old header have nowhere better to go than after "for".
	for _, d := range [][]string{rs.Decs.For, rs.Decs.Key, rs.Decs.Value, rs.Decs.Range, rs.Decs.X} {
		fs.Decs.For = append(fs.Decs.For, d...)
	}
	if !replace(root, rs, fs) {
		return fmt.Errorf("%s: loop not found in its goroutine", rw.pkg.Fset.Position(ars.Pos()))
	}
	return nil
}

// timeC reports whether x is the C of a time.Ticker or time.Timer.
func timeC(info *types.Info, x ast.Expr) bool {
	s, ok := ast.Unparen(x).(*ast.SelectorExpr)
	if !ok || s.Sel.Name != "C" {
		return false
	}
	t := info.TypeOf(s.X)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && (n.Obj().Name() == "Ticker" || n.Obj().Name() == "Timer")
}

func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// remove deletes target from the statement list holding it under root.
func remove(root, target dst.Node) bool {
	done := false
	dstutil.Apply(root, func(c *dstutil.Cursor) bool {
		if done {
			return false
		}
		if c.Node() == target && c.Index() >= 0 {
			c.Delete()
			done = true
			return false
		}
		return true
	}, nil)
	return done
}

// newTickerC reports whether the ranged expression x (dx in dst) is
// time.NewTicker(d).C, and returns the call.
func newTickerC(info *types.Info, x ast.Expr, dx dst.Expr) (dst.Expr, bool) {
	s, ok := x.(*ast.SelectorExpr)
	if !ok || s.Sel.Name != "C" {
		return nil, false
	}
	c, ok := s.X.(*ast.CallExpr)
	if !ok {
		return nil, false
	}
	id, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr)
	if !ok {
		return nil, false
	}
	fn, ok := info.Uses[id.Sel].(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "time" || fn.Name() != "NewTicker" {
		return nil, false
	}
	ds, ok := dx.(*dst.SelectorExpr)
	if !ok {
		return nil, false
	}
	return ds.X, true
}

// listStmt returns the statement that holds s in a statement list: s itself,
// or the labeled statement around it.
func (rw *rewriter) listStmt(s ast.Stmt) (dst.Stmt, error) {
	var outer ast.Stmt = s
	for _, f := range rw.pkg.Files {
		if f.FileStart <= s.Pos() && s.Pos() < f.FileEnd {
			ast.Inspect(f, func(n ast.Node) bool {
				if l, ok := n.(*ast.LabeledStmt); ok && l.Stmt == s {
					outer = l
				}
				return outer == s
			})
		}
	}
	n, err := rw.node(outer)
	if err != nil {
		return nil, err
	}
	return n.(dst.Stmt), nil
}

// hasCall reports whether evaluating e calls a function.
func hasCall(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if _, ok := n.(*ast.CallExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

// assignsTo reports whether body assigns a variable or field that e reads.
func assignsTo(info *types.Info, body *ast.BlockStmt, e ast.Expr) bool {
	read := map[types.Object]bool{}
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if v, ok := info.Uses[id].(*types.Var); ok {
				read[v] = true
			}
		}
		return true
	})
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok {
			for _, lhs := range as.Lhs {
				switch lhs := ast.Unparen(lhs).(type) {
				case *ast.Ident:
					found = found || read[info.Uses[lhs]]
				case *ast.SelectorExpr:
					found = found || read[info.Uses[lhs.Sel]]
				}
			}
		}
		return !found
	})
	return found
}

// isPositive reports whether e is a constant greater than zero.
func isPositive(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	return ok && tv.Value != nil && constant.Sign(tv.Value) > 0
}

// A stop says how a loop ends: the channel it receives its stop signal
// from (ctx.Done(), s.quit), and whether its function must return a nil
// error.
type stop struct {
	ch        func() dst.Expr
	errResult bool
}
