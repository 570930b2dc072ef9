package rules

import (
	"go/ast"
	"go/token"
	"go/types"
)

// This file reads one loop: how it waits (a ticker, time.Tick, time.After,
// time.Sleep, a timer), and whether anything the owner controls can end it.

// verb describes how the loop waits, for the finding's message.
func (l *Loop) verb() string {
	for _, w := range l.Waits {
		switch w.Kind {
		case RangeTick, RangeChan:
			return "ticks"
		case Sleep:
			return "sleeps and wakes"
		case Select:
			for _, c := range w.Node.(*ast.SelectStmt).Body.List {
				if recv := commRecv(c.(*ast.CommClause).Comm); recv != nil {
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
			return false
		case *ast.ForStmt, *ast.RangeStmt:
			loops = append(loops, n.(ast.Stmt))
			return false
		case *ast.BlockStmt:
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
	for j := i + 1; j < len(stmts); j++ {
		if br, ok := stmts[j].(*ast.BranchStmt); ok && br.Tok == token.GOTO && br.Label.Name == ls.Label.Name {
			return &ast.BlockStmt{Lbrace: ls.Pos(), List: stmts[i : j+1], Rbrace: br.End() - 1}
		}
	}
	return nil
}

// headerWait returns the wait a statement of a for header does, when it is
// a sleep or a receive from a channel of time (for ; ; time.Sleep(d), for
// time.Sleep(d); ; <-ticker.C), or false.
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
func (f *loopFinder) analyse(loop ast.Stmt) *Loop {
	l := &Loop{Stmt: loop}
	var body *ast.BlockStmt
	var header []ast.Stmt // the loop's init and post statements that do not wait
	switch loop := loop.(type) {
	case *ast.ForStmt:
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

	managed := false
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
	// statements', and those a wrapper or time.AfterFunc starts.
	apart := map[*ast.FuncLit]bool{}
	// depth counts the statements between a node and the loop that an
	// unlabeled break would leave instead of the loop.
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
				managed = !failed(n)
			case *ast.BranchStmt:
				switch {
				case n.Tok == token.GOTO && !labels[n.Label.Name],
					n.Tok == token.BREAK && n.Label == nil && depth == 0,
					n.Tok == token.BREAK && n.Label != nil && !labels[n.Label.Name]:
					managed = !failed(n)
				}
			case *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt:
				header, children := parts(n)
				for _, h := range header {
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
				blocking := true
				for _, c := range n.Body.List {
					cc := c.(*ast.CommClause)
					if cc.Comm == nil {
						blocking = false
					}
					recv := commRecv(cc.Comm)
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
				if blocking {
					l.Waits = append(l.Waits, Wait{Kind: Select, Node: n})
					for _, c := range n.Body.List {
						if recv := commRecv(c.(*ast.CommClause).Comm); recv != nil && f.waitChan(l, recv) {
							l.timed = true
						}
					}
				}
				return false
			case *ast.ExprStmt:
				if call, ok := n.X.(*ast.CallExpr); ok && f.isTimeCall(call, "Sleep") {
					l.Waits = append(l.Waits, Wait{Kind: Sleep, Node: n})
					l.timed = true
					return false
				}
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
					l.blocks = append(l.blocks, n)
				}
			case *ast.SendStmt:
				l.blocks = append(l.blocks, n)
			}
			return true
		})
	}
	for _, s := range body.List {
		walk(s, 0)
	}
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
	if isPkgCall(f.pass.Info, call, "time", "AfterFunc") && len(call.Args) == 2 {
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
			waits := true // until a default or a stop case
			for _, c := range n.Body.List {
				cc := c.(*ast.CommClause)
				if recv := commRecv(cc.Comm); cc.Comm == nil || recv != nil && f.stops(recv) {
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

// parts splits a loop or switch into its header (init, condition, tag...)
// and the statements of its body.
func parts(n ast.Node) (header []ast.Node, body []ast.Stmt) {
	add := func(ns ...ast.Node) {
		for _, n := range ns {
			if n != nil {
				header = append(header, n)
			}
		}
	}
	switch n := n.(type) {
	case *ast.ForStmt:
		add(n.Init, n.Cond, n.Post)
		return header, n.Body.List
	case *ast.RangeStmt:
		add(n.X)
		return header, n.Body.List
	case *ast.SwitchStmt:
		add(n.Init, n.Tag)
		body = n.Body.List
	case *ast.TypeSwitchStmt:
		add(n.Init, n.Assign)
		body = n.Body.List
	}
	return header, body
}

// commRecv returns the channel a select case receives from, or nil.
func commRecv(comm ast.Stmt) ast.Expr {
	var e ast.Expr
	switch c := comm.(type) {
	case *ast.ExprStmt:
		e = c.X
	case *ast.AssignStmt:
		if len(c.Rhs) == 1 {
			e = c.Rhs[0]
		}
	}
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.ARROW {
		return u.X
	}
	return nil
}

// continueTo returns a continue statement in loop's body that starts loop's
// next iteration, and so runs its post statement, or nil. body is the
// function that holds loop, where its label would be declared.
func continueTo(body ast.Node, loop *ast.ForStmt) *ast.BranchStmt {
	label := ""
	ast.Inspect(body, func(n ast.Node) bool {
		if ls, ok := n.(*ast.LabeledStmt); ok && ls.Stmt == ast.Stmt(loop) {
			label = ls.Label.Name
		}
		return label == ""
	})
	var found *ast.BranchStmt
	var walk func(n ast.Node, inner bool)
	walk = func(n ast.Node, inner bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			if found != nil {
				return false
			}
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ForStmt, *ast.RangeStmt:
				_, body := parts(n)
				for _, s := range body {
					walk(s, true)
				}
				return false
			case *ast.BranchStmt:
				if n.Tok == token.CONTINUE && (n.Label == nil && !inner || n.Label != nil && n.Label.Name == label) {
					found = n
				}
			}
			return true
		})
	}
	for _, s := range loop.Body.List {
		walk(s, false)
	}
	return found
}

// waitsIn returns the function of this package that call runs when that
// function always waits for time before it returns: a time.Sleep or a
// receive from a channel of time among its top-level statements, ahead of
// any return, or a call of another such function (for { p.wait(); ... }).
// It returns nil otherwise, and for waits under a condition or in a select,
// which may be the helper's own way out.
func (f *loopFinder) waitsIn(call *ast.CallExpr, depth int) *types.Func {
	fn := calleeFunc(f.pass.Info, call)
	if fn == nil || fn.Pkg() != f.pass.Pkg || depth > 3 {
		return nil
	}
	decl := f.methods[fn]
	if decl == nil || decl.Body == nil {
		return nil
	}
	for _, st := range decl.Body.List {
		var x ast.Expr
		switch st := st.(type) {
		case *ast.ExprStmt:
			x = st.X
		case *ast.AssignStmt:
			if len(st.Rhs) == 1 {
				x = st.Rhs[0]
			}
		}
		switch x := ast.Unparen(x).(type) {
		case *ast.CallExpr:
			if f.isTimeCall(x, "Sleep") || f.waitsIn(x, depth+1) != nil {
				return fn
			}
		case *ast.UnaryExpr:
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
