package rules

import (
	"go/ast"
	"go/token"
	"go/types"
)

// This file reads one loop: how it waits (a ticker, time.Tick, time.After,
// time.Sleep, a timer), and whether anything the owner controls can end it.

// verb describes how the loop waits, for the finding's message. The first
// wait that says something decides; a loop whose waits say nothing (plain
// receives and sends, a select on time.After) "waits on a timer".
func (l *Loop) verb() string {
	for _, w := range l.Waits {
		switch w.Kind {
		case RangeTick, RangeChan:
			return "ticks"
		case Sleep:
			return "sleeps and wakes"
		case Select:
			// A case on a ticker's or timer's C (case <-t.C:) counts as
			// ticking; only the message reads the field's name, so the
			// spelling is enough.
			for _, c := range w.Node.(*ast.SelectStmt).Body.List {
				if recv := CommRecv(c.(*ast.CommClause).Comm); recv != nil {
					if t, ok := recv.(*ast.SelectorExpr); ok && t.Sel.Name == "C" {
						return "ticks"
					}
				}
			}
		}
	}
	return "waits on a timer"
}

// outerLoops returns the loops of body that are not inside another loop or a
// function literal: for and range statements, and loops made with goto (a
// labeled statement and, later in the same list, a goto back to it), each
// given as a block holding the statements from the label to the goto.
func outerLoops(body *ast.BlockStmt) []ast.Stmt {
	var loops []ast.Stmt
	var visit func(n ast.Node) bool
	// list reads a statement list, where a goto loop can be: a label and
	// the goto back to it are statements of one list. The region's
	// statements are skipped, so that a loop inside it is part of it.
	list := func(stmts []ast.Stmt) {
		for i := 0; i < len(stmts); i++ {
			if region := gotoLoop(stmts, i); region != nil {
				loops = append(loops, region)
				i += len(region.List) - 1
				continue
			}
			ast.Inspect(stmts[i], visit)
		}
	}
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			// A literal is other code: one started with go is read at its
			// own go statement, as every go statement of the package is.
			return false
		case *ast.ForStmt, *ast.RangeStmt:
			// A loop inside this one is part of its work: for range t.C {
			// for _, s := range sessions { ... } } is one loop to stop.
			loops = append(loops, n.(ast.Stmt))
			return false
		case *ast.BlockStmt:
			// Blocks (an if's body) and case bodies are statement lists
			// too, so a goto loop under an if (if retry { again: ...; goto
			// again }) is found as well as one at the top of the function.
			list(n.List)
			return false
		case *ast.CaseClause:
			list(n.Body)
			return false
		case *ast.CommClause:
			if n.Comm != nil {
				ast.Inspect(n.Comm, visit)
			}
			list(n.Body)
			return false
		}
		return true
	}
	list(body.List)
	return loops
}

// gotoLoop returns the loop made with goto that starts at stmts[i]:
//
//	again:
//		time.Sleep(d)
//		work()
//		goto again
//
// as a block of the statements from the label to the unconditional goto
// back to it, or nil. The block is not part of the syntax tree; the loop's
// waits, which the fix rewrites, are.
func gotoLoop(stmts []ast.Stmt, i int) *ast.BlockStmt {
	ls, ok := stmts[i].(*ast.LabeledStmt)
	if !ok {
		return nil
	}
	switch ls.Stmt.(type) {
	case *ast.ForStmt, *ast.RangeStmt:
		return nil // a loop already; its label is for break and continue
	}
	// Only a goto that is itself a statement of the list jumps back every
	// time: one under a condition (if !done { goto again }) falls through
	// when it does not jump, so the code can leave the "loop".
	for j := i + 1; j < len(stmts); j++ {
		if br, ok := stmts[j].(*ast.BranchStmt); ok && br.Tok == token.GOTO && br.Label.Name == ls.Label.Name {
			return &ast.BlockStmt{Lbrace: ls.Pos(), List: stmts[i : j+1], Rbrace: br.End() - 1}
		}
	}
	return nil
}

// headerWait returns the wait a statement of a for header does, when it is
// a sleep or a receive from a channel of time (for ; ; time.Sleep(d), for
// time.Sleep(d); ; <-ticker.C), or false. s may be nil, for a header
// without that statement.
func (f *loopFinder) headerWait(l *Loop, loop *ast.ForStmt, s ast.Stmt) (Wait, bool) {
	es, ok := s.(*ast.ExprStmt)
	if !ok {
		return Wait{}, false
	}
	if call, ok := es.X.(*ast.CallExpr); ok && f.isTimeCall(call, "Sleep") {
		return Wait{Kind: Sleep, Node: es, Header: loop}, true
	}
	if u, ok := es.X.(*ast.UnaryExpr); ok && u.Op == token.ARROW && f.waitChan(l, u.X) {
		return Wait{Kind: Recv, Node: es, Header: loop}, true
	}
	return Wait{}, false
}

// analyse returns the plan skeleton for loop if it waits on time and has no
// way out, or nil.
//
// loop is one of outerLoops: a for or range statement, or a goto loop's
// block. The skeleton holds the loop's waits, and what the plan must judge
// before it offers a fix: the channel operations a stop could not
// interrupt (blocks), the helpers it waits in (via), and the failure exits
// it keeps (failing). nil means the loop is not this rule's: it can end
// (a condition, a return, a break out of it, a stop signal it receives),
// or it is a worker waiting for channels, not for time.
func (f *loopFinder) analyse(loop ast.Stmt) *Loop {
	l := &Loop{Stmt: loop}
	var body *ast.BlockStmt
	var header []ast.Stmt // the loop's init and post statements that do not wait
	switch loop := loop.(type) {
	case *ast.ForStmt:
		// for !p.closed() { ... } ends when its condition does; only the
		// loop without one (for { ... }, for ; ; time.Sleep(d) { ... })
		// runs until something leaves it.
		if loop.Cond != nil {
			return nil
		}
		body = loop.Body
		for _, h := range []ast.Stmt{loop.Init, loop.Post} {
			if w, ok := f.headerWait(l, loop, h); ok {
				l.Waits = append(l.Waits, w)
				l.timed = true
			} else if h != nil {
				header = append(header, h)
			}
		}
	case *ast.BlockStmt: // a loop made with goto
		body = loop
	case *ast.RangeStmt:
		// A range over a slice or a count ends; one over a channel of
		// jobs ends when the channel is closed, and waits for work, not
		// for time. Only a range over time (time.Tick, t.C) or over a
		// registered signal channel is this rule's.
		if !f.waitChan(l, loop.X) {
			return nil
		}
		kind := RangeChan
		if f.isTimeCall(loop.X, "Tick") {
			kind = RangeTick
		}
		l.Waits = append(l.Waits, Wait{Kind: kind, Node: loop})
		body = loop.Body
	}

	// managed is set by the first way out the walk finds, which ends it.
	managed := false
	// A break or goto to a label declared inside the loop stays in it; a
	// goto loop's own label is among them, so its goto back is no way out.
	labels := map[string]bool{} // labels declared inside the loop
	ast.Inspect(body, func(n ast.Node) bool {
		if l, ok := n.(*ast.LabeledStmt); ok {
			labels[l.Label.Name] = true
		}
		return true
	})
	// Exits taken only when a call that the owner cannot make fail fails
	// are no stop: the loop runs for as long as the source is healthy.
	errExits := f.errorExits(body)
	// failed reports whether the exit n is one of those, and records its
	// call: the fix keeps the exit, and the message names the call. A
	// break or goto out (not a return) runs the code after the loop, which
	// the plan must then not take for dead (see afterRange).
	failed := func(n ast.Node) bool {
		call, ok := errExits[n]
		if ok {
			l.failing = append(l.failing, call)
			if br, isBranch := n.(*ast.BranchStmt); isBranch && br.Tok != token.CONTINUE {
				l.leaves = true
			}
		}
		return ok
	}
	// Function literals whose code runs in another goroutine: go
	// statements', and those a wrapper or time.AfterFunc starts. A return
	// there ends that goroutine, and a send there blocks it, not the loop.
	// ast.Inspect visits the go statement or call before the literal in
	// it, so a literal is marked before the walk reaches it.
	apart := map[*ast.FuncLit]bool{}
	// depth counts the statements between a node and the loop that an
	// unlabeled break would leave instead of the loop.
	// It grows inside a nested for, range, switch or select: for range
	// t.C { switch { case full: break } } leaves only the switch.
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		ast.Inspect(n, func(n ast.Node) bool {
			if managed {
				return false
			}
			switch n := n.(type) {
			case *ast.GoStmt:
				f.markApart(apart, n.Call, true)
			case *ast.CallExpr:
				f.markApart(apart, n, false)
			case *ast.FuncLit:
				// The loop's goroutine runs the literal (in place, deferred,
				// or through the function it is handed to), and a return
				// there would leave the literal, not the loop.
				if !apart[n] {
					l.blocks = append(l.blocks, f.closureOps(n)...)
				}
				return false
			case *ast.ReturnStmt:
				// Any return of the loop's own function is a way out (if
				// s.closed.Load() { return }), unless it is taken only on a
				// failure the owner cannot cause.
				managed = !failed(n)
			case *ast.BranchStmt:
				// The jumps that leave the loop: a goto or labeled break to
				// a label outside it, and a plain break not inside a nested
				// statement. continue never leaves: it names this loop or
				// one inside it, since the loops analysed are outermost in
				// their function.
				switch {
				case n.Tok == token.GOTO && !labels[n.Label.Name],
					n.Tok == token.BREAK && n.Label == nil && depth == 0,
					n.Tok == token.BREAK && n.Label != nil && !labels[n.Label.Name]:
					managed = !failed(n)
				}
			case *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt:
				header, children := parts(n)
				for _, h := range header {
					// A nested loop's init or post statement may wait, as
					// the analysed loop's may (for ; i < n; time.Sleep(d)).
					// Its condition is an expression, not a statement.
					if fs, ok := n.(*ast.ForStmt); ok && h != ast.Node(fs.Cond) {
						if w, ok := f.headerWait(l, fs, h.(ast.Stmt)); ok {
							l.Waits = append(l.Waits, w)
							l.timed = true
							continue
						}
					}
					walk(h, depth)
				}
				for _, child := range children {
					walk(child, depth+1)
				}
				// A nested range over a channel blocks the loop between its
				// waits (for range t.C { for j := range s.jobs { ... } }),
				// where no stop case can be added: the plan refuses it.
				if r, ok := n.(*ast.RangeStmt); ok {
					if _, isChan := f.pass.Info.TypeOf(r.X).Underlying().(*types.Chan); isChan {
						if f.stops(r.X) {
							managed = true
						}
						l.blocks = append(l.blocks, r)
					}
				}
				return false
			case *ast.SelectStmt:
				// A select with a default never blocks: it polls, and is no
				// wait of the loop's.
				blocking := true
				for _, c := range n.Body.List {
					cc := c.(*ast.CommClause)
					if cc.Comm == nil {
						blocking = false
					}
					recv := CommRecv(cc.Comm)
					if recv != nil && f.neverFires(recv) {
						continue // a case that can never run: its exits are none
					}
					// Receiving is no stop by itself: a kick or wake-up
					// channel (of any element type) beside the timer only
					// runs its case, and the loop goes on unless the
					// case's body leaves it.
					for _, s := range cc.Body {
						walk(s, depth+1)
					}
				}
				// Only a select that waits on time or on a signal makes the
				// loop timed work; select { case j := <-s.jobs: ... } alone
				// is a worker's (see the end of analyse). The comm clauses
				// themselves are not walked: the fix adds its stop case to
				// the select, so its own sends and receives need no more.
				if blocking {
					l.Waits = append(l.Waits, Wait{Kind: Select, Node: n})
					for _, c := range n.Body.List {
						if recv := CommRecv(c.(*ast.CommClause).Comm); recv != nil && f.waitChan(l, recv) {
							l.timed = true
						}
					}
				}
				return false
			case *ast.ExprStmt:
				// The waits that stand as statements, each of which the fix
				// turns into a select on the stop signal in place. Anything
				// else is walked on for the exits and channel operations in
				// it.
				if call, ok := n.X.(*ast.CallExpr); ok && f.isTimeCall(call, "Sleep") {
					l.Waits = append(l.Waits, Wait{Kind: Sleep, Node: n})
					l.timed = true
					return false
				}
				// for { p.wait(); ... } waits in the package's own helper,
				// whose wait the fix would have to rewrite: the plan
				// refuses it, naming the helper.
				if call, ok := n.X.(*ast.CallExpr); ok {
					if fn := f.waitsIn(call, 0); fn != nil {
						l.via = append(l.via, fn)
						return false
					}
				}
				if u, ok := n.X.(*ast.UnaryExpr); ok && u.Op == token.ARROW && f.waitChan(l, u.X) {
					l.Waits = append(l.Waits, Wait{Kind: Recv, Node: n})
					l.timed = true
					return false
				}
			case *ast.AssignStmt:
				if len(n.Lhs) == 2 && len(n.Rhs) == 1 {
					// v, ok := <-ch: the loop can tell a close, and ends on it.
					if u, ok := n.Rhs[0].(*ast.UnaryExpr); ok && u.Op == token.ARROW && f.stops(u.X) {
						managed = true
					}
				}
				// now := <-t.C, or now = <-t.C: a wait whose value the body
				// uses. The fix declares now before the select it makes.
				if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
					if u, ok := n.Rhs[0].(*ast.UnaryExpr); ok && u.Op == token.ARROW && f.waitChan(l, u.X) {
						l.Waits = append(l.Waits, Wait{Kind: RecvAssign, Node: n})
						l.timed = true
						return false
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.ARROW {
					// A close ends a loop that waits for it on a signal
					// channel; a receive of data from a closed channel
					// yields a zero value at once, and the loop goes on.
					if f.stops(n.X) && !f.carriesData(n.X) {
						managed = true
					}
					// Any other receive (n := <-w.jobs, or f(<-t.C) inside an
					// expression) blocks with no stop case beside it yet;
					// chanWaits decides whether the fix can give it one.
					l.blocks = append(l.blocks, n)
				}
			case *ast.SendStmt:
				// s.out <- v waits for a reader: chanWaits decides whether
				// the fix can reach it.
				l.blocks = append(l.blocks, n)
			}
			return true
		})
	}
	for _, s := range body.List {
		walk(s, 0)
	}
	// The header's other statements are the loop's code too: for x :=
	// <-s.in; ; x = <-s.in blocks in its post statement on every pass.
	for _, h := range header {
		walk(h, 0)
	}
	if managed {
		return nil
	}
	if len(l.Waits) == 0 {
		// A loop that waits only in the functions it calls is timed work
		// when nothing else blocks it; beside a loop's own waits, a
		// helper's are part of the work.
		if len(l.via) == 0 || len(l.blocks) > 0 {
			return nil
		}
		return l
	}
	l.via = nil
	// A range reached here ranges over time or signals (see the switch
	// above); any other loop must have one wait on them. A loop whose only
	// waits are on channels of data (select { case j := <-s.jobs: ...
	// case s.out <- v: }) is a worker, busy when it is given work: not
	// the periodic work this rule is about.
	if _, isRange := loop.(*ast.RangeStmt); !isRange && !l.timed {
		return nil // a worker loop on channels, not timed work
	}
	return l
}

// markApart records the function literals that call runs in a goroutine
// of their own: with isGo, the function and arguments of a go statement;
// otherwise those a wrapper (errgroup's Go, the package's own) or
// time.AfterFunc runs.
func (f *loopFinder) markApart(apart map[*ast.FuncLit]bool, call *ast.CallExpr, isGo bool) {
	// go func() { ... }() runs the literal away from the loop, and so does
	// go run(func() { ... }): the new goroutine may call a literal
	// argument at any time.
	if isGo {
		for _, e := range append([]ast.Expr{call.Fun}, call.Args...) {
			if lit, ok := ast.Unparen(e).(*ast.FuncLit); ok {
				apart[lit] = true
			}
		}
		return
	}
	if lit := f.wrapped(call); lit != nil {
		apart[lit] = true
	}
	if isAfterFunc(f.pass.Info, call) {
		if lit, ok := ast.Unparen(call.Args[1]).(*ast.FuncLit); ok {
			apart[lit] = true
		}
	}
}

// closureOps returns the channel operations of the function literal lit,
// which the loop's goroutine runs, that may block with no stop able to
// interrupt them: sends, receives and ranges over channels that are no stop
// signal, outside selects that have a default or a stop case. Code in
// goroutines the literal starts is left out.
func (f *loopFinder) closureOps(lit *ast.FuncLit) []ast.Node {
	var out []ast.Node
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			return false
		case *ast.SelectStmt:
			// A select is one operation: it blocks as a whole, and its
			// cases' channels are not read one by one. One with a default
			// never blocks, and one with a case on a stop signal (case
			// <-ctx.Done(): return) is taken to end when that fires.
			waits := true // until a default or a stop case
			for _, c := range n.Body.List {
				cc := c.(*ast.CommClause)
				if recv := CommRecv(cc.Comm); cc.Comm == nil || recv != nil && f.stops(recv) {
					waits = false
				}
			}
			if waits {
				out = append(out, n)
			}
			for _, c := range n.Body.List {
				for _, s := range c.(*ast.CommClause).Body {
					ast.Inspect(s, visit)
				}
			}
			return false
		case *ast.SendStmt:
			out = append(out, n)
		case *ast.UnaryExpr:
			if n.Op == token.ARROW && !f.stops(n.X) {
				out = append(out, n)
			}
		case *ast.RangeStmt:
			if _, isChan := f.pass.Info.TypeOf(n.X).Underlying().(*types.Chan); isChan {
				out = append(out, n)
			}
		}
		return true
	}
	ast.Inspect(lit.Body, visit)
	return out
}

// waitsIn returns the function of this package that call runs when that
// function always waits for time before it returns: a time.Sleep or a
// receive from a channel of time among its top-level statements, ahead of
// any return, or a call of another such function (for { p.wait(); ... }).
// It returns nil otherwise, and for waits under a condition or in a select,
// which may be the helper's own way out.
func (f *loopFinder) waitsIn(call *ast.CallExpr, depth int) *types.Func {
	// Only the package's own functions have bodies to read. depth bounds
	// the chain of helpers, which also ends a helper that calls itself.
	fn := calleeFunc(f.pass.Info, call)
	if fn == nil || fn.Pkg() != f.pass.Pkg || depth > 3 {
		return nil
	}
	decl := f.methods[fn]
	if decl == nil || decl.Body == nil {
		return nil
	}
	// Top-level statements only: they run on every call, in order, so the
	// first wait among them is reached unless a return comes before it.
	for _, st := range decl.Body.List {
		// now := <-p.t.C, or err := p.backoff(), waits as well.
		switch x := ast.Unparen(runValue(st)).(type) {
		case *ast.CallExpr:
			if f.isTimeCall(x, "Sleep") || f.waitsIn(x, depth+1) != nil {
				return fn
			}
		case *ast.UnaryExpr:
			// A channel of time only: a helper that receives a job
			// (<-p.jobs) waits for work, not for time.
			if x.Op == token.ARROW && f.isTimeChan(x.X) {
				return fn
			}
		}
		if hasReturn(st) {
			return nil // the wait may not be reached
		}
	}
	return nil
}
