package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/dstutil"

	"github.com/leakfix/leakfix/rules"
)

// honourCtx makes a loop return once a context already in scope is done.
//
// The context is the work's lifetime only because the rules said so
// (promise 8: a defer cancel() in the starter or context.Background() is
// no lifetime, and such a loop gets an owner instead); the rewrite adds no
// state and no method, so nothing else changes.
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
//
// The owner's cleanup is left as it is (promise 4): it already fires the
// signal and, with a WaitGroup, already waits; the loop is the part that
// did not listen.
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
		// Inside a literal the owner must be a variable the literal captures:
		// a selector (s.inner) would be read again inside the goroutine, and
		// this transform spells only a name.
		return fmt.Errorf("%s: the owner is not named by a variable", rw.pkg.Fset.Position(l.Start.Pos()))
	}
	// A channel field is received from as it is; a context field through its
	// Done, which its cancel closes.
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
	// A cleanup that fires the signal without waiting keeps not waiting:
	// adding a wait would change its contract (promise 4).
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
	// Add before the go statement, never inside the goroutine: a cleanup
	// that runs in between would otherwise Wait on a counter the goroutine
	// has not joined yet, return, and leave it running. The owner is cloned:
	// a dst node may stand in one place only.
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
	// Prepended after stoppableWith's defer signal.Stop, so it runs after
	// it: the cleanup's Wait returns only once the channel is unregistered.
	prepend(root, &dst.DeferStmt{Call: call(sel(sel(dst.NewIdent(inside), ex.Group), "Done"))})
	return nil
}

// stopTicker adds `defer t.Stop()` right after a ticker is made.
//
// A defer, so that every way out of the function stops the ticker, a
// panic included; right after the assignment, so that no return in
// between can skip it. This fix exists only for modules below Go 1.23,
// where a ticker nobody stops is never collected.
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
		// Index >= 0: the assignment must be an element of a list; a ticker made
		// in an if's init has no place after it for the defer.
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
	// The goroutine already returns when its owner stops it (the rules
	// checked): only the registration is missing from its way out.
	//
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
	// [:i:i] makes the outer append copy into a new array instead of writing
	// over the statements it is moving.
	body.List = append(body.List[:i:i], append([]dst.Stmt{stop}, body.List[i:]...)...)
	return nil
}

// goroutine returns the declaration whose identifiers generated names inside
// the goroutine must avoid, and the dst node of the goroutine's function.
//
// A method's new names live in the method; a literal's must also avoid
// every name of its starter, since a closure sees them all.
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
//
// The body of each pass is not touched: only the waits change, so the
// loop runs its work at the same times as before (promise 2), and only
// stops where it used to block.
func (rw *rewriter) stoppable(l *rules.Loop, ctx string) error {
	return rw.stoppableWith(l, stop{errResult: l.ErrResult, ch: func() dst.Expr { return call(sel(dst.NewIdent(ctx), "Done")) }})
}

// stoppableWith is stoppable for any stop signal st receives from.
//
// Every wait the rules found must get its stop case: one left out would
// block the loop past its stop, and the cleanup waiting for it would never
// return (promise 3).
func (rw *rewriter) stoppableWith(l *rules.Loop, st stop) error {
	decl, root, err := rw.goroutine(l)
	if err != nil {
		return err
	}
	if l.DeadReturn != nil {
		// A return after a range that never ended is dead code, and once
		// the range is a for without a condition it is unreachable, which
		// go vet's unreachable check reports (promise 1).
		ret, err := rw.node(l.DeadReturn)
		if err != nil {
			return err
		}
		if !remove(root, ret) {
			return fmt.Errorf("%s: return after the loop not found", rw.pkg.Fset.Position(l.DeadReturn.Pos()))
		}
	}
	// One taken map for all the waits, so that two rewritten ranges get
	// ticker and ticker2 rather than two tickers named alike.
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
			// An existing select gets the stop case beside its own cases, which
			// keep their bodies; a break in them still leaves only the select.
			// The stop case comes first for the reader only: select picks among
			// ready cases at random, so a tick ready together with the stop may run
			// the body once more, as a loop checking a flag would.
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
			// time.After(d) starts its timer when the select is reached, as Sleep
			// did, so the delay stays fixed from the end of the previous pass. Before
			// Go 1.23 the timer a stop abandons lives until it fires: at most d, and
			// nothing runs then.
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
		// A send the stop interrupts is lost; the rules allow that only on a
		// channel the owner holds and the package made, since one handed in may
		// have someone waiting on it.
		case rules.Send:
			// ch <- v  =>  select { case <-ctx.Done(): return; case ch <- v: }
			ss := n.(*dst.SendStmt)
			s := st.selectStmt(&dst.SendStmt{Chan: ss.Chan, Value: ss.Value})
			s.Decs.Before, s.Decs.Start, s.Decs.After = ss.Decs.Before, ss.Decs.Start, ss.Decs.After
			s.Body.List[1].(*dst.CommClause).Decs.Colon, s.Decs.End = splitLine(ss.Decs.End)
			if !replace(root, ss, s) {
				return fmt.Errorf("%s: send not found in its goroutine", rw.pkg.Fset.Position(w.Node.Pos()))
			}
		// The same for a receive into a variable, which must stay in scope for the
		// code after it: see recvAssign.
		case rules.RecvAssign:
			if err := rw.recvAssign(root, w.Node.(*ast.AssignStmt), n.(*dst.AssignStmt), st); err != nil {
				return err
			}
		// A range has no statement to wrap: the loop itself is rewritten.
		case rules.RangeTick, rules.RangeChan:
			if err := rw.rangeLoop(root, w, n.(*dst.RangeStmt), st, taken); err != nil {
				return err
			}
		default:
			// A wait the rules learn to find before the rewrite learns to
			// stop it would otherwise be left waiting, and Shutdown would
			// wait for a loop that never sees the stop.
			return fmt.Errorf("%s: no stop for a wait of kind %d", rw.pkg.Fset.Position(w.Node.Pos()), w.Kind)
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
		// The post statement ran after each pass, before the condition:
		// at the end of the body it runs at the same point.
		fs.Post = nil
		fs.Body.List = append(fs.Body.List, s)
	case fs.Init:
		// The init statement ran once, before the first pass: right before the
		// loop (above its label, if any) it runs at the same point.
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
//
// The variable is declared before the select, not in its case: a variable
// declared in a case clause ends with the clause, and the code after the
// receive uses it. Its type must be spelled, which the rules checked it
// can be.
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
		// The comments above the receive go above the first new line, which is
		// where the receive's line now starts.
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
//
// A comment at the end of a wait's line describes the wait: it moves to
// the line of the case that now waits, and what was below the statement
// stays below the select (promise 5: comments stay where they were).
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

// A stop says how a loop ends: the channel it receives its stop signal
// from (ctx.Done(), s.quit), and whether its function must return a nil
// error.
// ch builds a new expression for each stop case, since a dst node may
// stand in one place of the tree only. With errResult the stop case
// returns nil: for g.Go(func() error) a stop is no failure, and errgroup's
// Wait would otherwise report it.
type stop struct {
	ch        func() dst.Expr
	errResult bool
}
