package rules

import (
	"go/ast"
	"go/types"
)

// This file decides what to do with a signal.Notify registration that no
// unstoppable loop reads: its reader may already stop (then the fix is
// `defer signal.Stop(c)` in the reader), or it may be the process's own
// signal trap, which ends the process and needs no stop.

// A SignalStop is the fix plan for a registration whose reading goroutine
// already returns when its owner stops it, but leaves the channel
// registered: `defer signal.Stop(c)` as the goroutine's first statement, so
// that no signal is delivered to the channel once nothing reads it.
type SignalStop struct {
	Site
	Lit  *ast.FuncLit // the goroutine that reads the channel
	Chan ast.Expr     // the channel as the registration names it (c, s.sigc)
}

// signalReaders returns the go statements' function literals in fn that
// receive from obj, and whether obj is used anywhere else than in fn's
// registration, its assignment and those literals.
func (f *loopFinder) signalReaders(fn *ast.FuncDecl, obj types.Object, notify *ast.CallExpr) (readers []*ast.FuncLit, elsewhere bool) {
	info := f.pass.Info
	lits := f.goReaders(fn, obj)
	inLit := func(n ast.Node) bool {
		for _, lit := range lits {
			if lit.Pos() <= n.Pos() && n.End() <= lit.End() {
				return true
			}
		}
		return false
	}
	// Any other use, in any file, may read the channel once the reader has
	// returned (a Close that drains it), where a Stop in the reader would
	// come too early.
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok || elsewhere || info.Uses[id] != obj {
				return !elsewhere // a declaration is no use
			}
			// Allowed: the readers' uses, the registration's own, and fn
			// making the channel (c = make(...), s.sigc = make(...),
			// &Server{c: make(...)}).
			inFn := fn.Body.Pos() <= id.Pos() && id.End() <= fn.Body.End()
			switch {
			case inLit(id):
			case notify.Pos() <= id.Pos() && id.End() <= notify.End():
			case inFn && (f.assigned(fn.Body, id) || keyed(fn.Body, id)):
			default:
				elsewhere = true
			}
			return !elsewhere
		})
	}
	return lits, elsewhere
}

// goReaders returns the function literals that go statements in fn start
// and that receive from obj, in source order, literals inside literals
// too: the goroutines that read a signal channel.
//
// Only literals: a reader started by name (go s.readSignals()) is not
// followed, so its registration keeps its reason without a fix
// (signalReaders) and is not taken for a trap (trapReaders).
func (f *loopFinder) goReaders(fn *ast.FuncDecl, obj types.Object) []*ast.FuncLit {
	var lits []*ast.FuncLit
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			if lit, ok := ast.Unparen(g.Call.Fun).(*ast.FuncLit); ok && f.receives(lit.Body, obj) {
				lits = append(lits, lit)
			}
		}
		return true
	})
	return lits
}

// assigned reports whether id, in body, is the left side of an assignment
// or definition (c := make(chan os.Signal, 1), s.sigc = make(...)).
func (f *loopFinder) assigned(body *ast.BlockStmt, id *ast.Ident) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || found {
			return !found
		}
		for _, lhs := range as.Lhs {
			// A field's use is its selector's Sel (the sigc of s.sigc);
			// the s is another object's use.
			e := ast.Unparen(lhs)
			if sel, ok := e.(*ast.SelectorExpr); ok {
				e = sel.Sel
			}
			if e == ast.Expr(id) {
				found = true
			}
		}
		return !found
	})
	return found
}

// keyed reports whether id, in body, is a field's key in a composite
// literal (&Server{c: make(chan os.Signal, 1)}).
func keyed(body *ast.BlockStmt, id *ast.Ident) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if kv, ok := n.(*ast.KeyValueExpr); ok && kv.Key == ast.Expr(id) {
			found = true
		}
		return !found
	})
	return found
}

// receives reports whether the code under n, outside nested function
// literals, receives from obj (<-c, case v := <-c, for v := range c).
func (f *loopFinder) receives(n ast.Node, obj types.Object) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.UnaryExpr:
			if n.Op.String() == "<-" && f.objectOf(n.X) == obj {
				found = true
			}
		case *ast.RangeStmt:
			if f.objectOf(n.X) == obj {
				found = true
			}
		}
		return !found
	})
	return found
}

// stopsReading reports whether lit reads obj in a select loop that goes on
// after each signal and returns on another case (a quit channel, ctx.Done()):
// the goroutine ends only when its owner stops it.
func (f *loopFinder) stopsReading(lit *ast.FuncLit, obj types.Object) bool {
	ok := false
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if _, lit := n.(*ast.FuncLit); lit || ok {
			return false
		}
		// for { select { case <-c: s.reopen(); case <-s.quit: return } }:
		// the select must be in a loop, so that the reader goes on after a
		// signal, and have a case of its own that leaves it.
		sel, isSel := n.(*ast.SelectStmt)
		if !isSel || !inLoop(lit.Body, sel) {
			return true
		}
		sigCase, stopCase := false, false
		for _, c := range sel.Body.List {
			cc := c.(*ast.CommClause)
			ends := Leaves(cc.Body, 1)
			switch {
			case cc.Comm != nil && f.receives(cc.Comm, obj):
				// case <-c: cancel(); return: the reader ends on the signal,
				// and the registration outliving it swallows the next one.
				if ends {
					return false // it ends on a signal
				}
				sigCase = true
			// A default that leaves is a stop case too: the reader then
			// ends whenever no signal is waiting.
			case ends:
				stopCase = true
			}
		}
		ok = sigCase && stopCase
		return !ok
	})
	return ok
}

// returns reports whether the function literal can end other than by
// panicking: a return, a way out of its last loop, or a last statement
// that is not an endless for.
func returns(lit *ast.FuncLit) bool {
	// A body that does not end in for { ... } runs off its end, unless
	// something before blocks for ever, which this does not judge.
	n := len(lit.Body.List)
	if n == 0 {
		return true
	}
	loop, ok := lit.Body.List[n-1].(*ast.ForStmt)
	if !ok || loop.Cond != nil {
		return true
	}
	// A return before the loop, or a break, goto or return in it.
	return Leaves(lit.Body.List[:n-1], 0) || Leaves(loop.Body.List, 0)
}

// signalStop returns the fix for the registration notify of obj when the
// goroutine that reads obj already returns, or why there is none ("" with
// a nil plan: no reader of that form).
func (f *loopFinder) signalStop(obj types.Object, notify *ast.CallExpr) (*SignalStop, string) {
	fn := f.enclosing(notify)
	if fn == nil || !isPkgCall(f.pass.Info, notify, "os/signal", "Notify") {
		return nil, ""
	}
	// Each refusal says where signal.Stop belongs instead: the fix puts it
	// only in a single reader that is the channel's last user and stops
	// reading when it is told to.
	readers, elsewhere := f.signalReaders(fn, obj, notify)
	switch {
	case len(readers) == 0:
		return nil, ""
	case elsewhere:
		return nil, "the channel is also used outside the goroutine that reads it, which may go on reading it after that goroutine returns; call signal.Stop where the program stops listening"
	// A Stop in one reader would cut the others off.
	case len(readers) > 1:
		return nil, "several goroutines read the channel; call signal.Stop where the program stops listening"
	// A registration or reader made once per iteration has no one reader
	// to stop it.
	case inLoop(fn.Body, notify) || inLoop(fn.Body, readers[0]):
		return nil, "the channel is registered or read inside a loop; call signal.Stop where the program stops listening"
	// A deferred Stop runs only when the reader returns.
	case !returns(readers[0]):
		return nil, "the goroutine that reads the channel never returns; call signal.Stop where the program stops listening"
	case !f.stopsReading(readers[0], obj):
		// A reader that ends on a signal (<-quit; cancel()) may rely on
		// the registration outliving it: a second interrupt is swallowed,
		// where without it the default action would kill the process.
		return nil, "the goroutine does not read the channel until it is told to stop, and after it ends on a signal, signal.Stop would let the next one take its default action; call signal.Stop where the program stops listening"
	}
	// The channel is named in the goroutine as at the registration: by a
	// variable of fn, or a field of one, that no parameter of the
	// goroutine's function shadows.
	root := ast.Unparen(notify.Args[0])
	if sel, ok := root.(*ast.SelectorExpr); ok {
		root = ast.Unparen(sel.X)
	}
	// Anything else (s.chans[i], a call) is not followed: no plan and no
	// reason, as for no reader at all.
	id, ok := root.(*ast.Ident)
	if !ok {
		return nil, ""
	}
	// go func(c chan os.Signal) { ... }(other): the c of the Stop the fix
	// writes would be the parameter.
	for _, field := range readers[0].Type.Params.List {
		for _, name := range field.Names {
			if name.Name == id.Name {
				return nil, "the goroutine's parameter " + id.Name + " hides the channel's name; call signal.Stop where the program stops listening"
			}
		}
	}
	return &SignalStop{Site: Site{Starter: fn, Name: obj.Name()}, Lit: readers[0], Chan: notify.Args[0]}, ""
}

// exitFuncs end the process: a goroutine that calls one of them on a signal
// is the process's own signal trap.
var exitFuncs = map[string][]string{
	"os":      {"Exit"},
	"syscall": {"Exit"},
	"log":     {"Fatal", "Fatalf", "Fatalln"},
}

// exitsProcess reports whether the code under n ends the process, directly
// or through the package's functions (os.Exit, log.Fatal).
func (f *loopFinder) exitsProcess(n ast.Node) bool {
	// seen stops recursion; a function is walked once whatever calls it.
	seen := map[*types.Func]bool{}
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		found := false
		ast.Inspect(n, func(c ast.Node) bool {
			call, ok := c.(*ast.CallExpr)
			if !ok || found {
				return !found
			}
			for path, names := range exitFuncs {
				for _, name := range names {
					if isPkgCall(f.pass.Info, call, path, name) {
						found = true
					}
				}
			}
			if callee := calleeFunc(f.pass.Info, call); !found && callee != nil && !seen[callee] {
				seen[callee] = true
				if decl := f.methods[callee]; decl != nil && decl.Body != nil && walk(decl.Body) {
					found = true
				}
			}
			return !found
		})
		return found
	}
	return walk(n)
}

// trapReaders reports whether every goroutine that reads obj, the channel
// registered by notify, ends the process on some signal and never returns
// otherwise: the process's signal trap (caddy's TrapSignals, a log tailer's
// os.Exit on SIGINT), which lives as long as the process by design.
func (f *loopFinder) trapReaders(obj types.Object, notify *ast.CallExpr) bool {
	fn := f.enclosing(notify)
	if fn == nil {
		return false
	}
	readers := f.goReaders(fn, obj)
	// The registration may sit in the goroutine that reads it:
	// go func() { signal.Notify(c, os.Interrupt); <-c; os.Exit(1) }().
	// Each literal around it, outward, that receives from c is a reader.
	for n := ast.Node(notify); n != nil; {
		lit := f.litAround(fn, n)
		if lit == nil {
			break
		}
		if f.receives(lit.Body, obj) {
			readers = append(readers, lit)
		}
		n = lit
	}
	// A reader that may return leaves the registration behind, and one
	// that never exits the process is a listener like any other: either
	// makes the channel no trap.
	for _, r := range readers {
		// Depth 1: a return, a labelled break or a goto anywhere in the
		// reader; an unlabelled break is taken to leave only a select or
		// a switch.
		if Leaves(r.Body.List, 1) || !f.exitsProcess(r) {
			return false
		}
	}
	return len(readers) > 0
}

// litAround returns the innermost function literal in fn that holds n, not
// n itself.
func (f *loopFinder) litAround(fn *ast.FuncDecl, n ast.Node) *ast.FuncLit {
	// Inspect meets outer literals first, so the last one that holds n is
	// the innermost.
	var best *ast.FuncLit
	ast.Inspect(fn.Body, func(c ast.Node) bool {
		lit, ok := c.(*ast.FuncLit)
		if ok && c != n && lit.Pos() <= n.Pos() && n.End() <= lit.End() {
			best = lit
		}
		return true
	})
	return best
}

// A sigParam is a parameter that a helper registers with signal.Notify, or
// (stop set) passes to signal.Stop.
type sigParam struct {
	index int
	stop  bool
}

// signalParams records which of fn's parameters it passes to signal.Notify
// or signal.Stop, so that calls to fn count as registering or stopping the
// caller's channel.
func (f *loopFinder) signalParams(obj *types.Func, fn *ast.FuncDecl) {
	// index is each parameter's position among the call's arguments; an
	// unnamed parameter takes a position too.
	index := map[types.Object]int{}
	i := 0
	for _, field := range fn.Type.Params.List {
		for _, name := range field.Names {
			index[f.pass.Info.Defs[name]] = i
			i++
		}
		if len(field.Names) == 0 {
			i++
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		stop := isPkgCall(f.pass.Info, call, "os/signal", "Stop")
		if !stop && !isPkgCall(f.pass.Info, call, "os/signal", "Notify") {
			return true
		}
		// The channel is the first argument of both Notify(c, sigs...) and
		// Stop(c); only a parameter passed as it is makes fn a helper.
		if id, ok := ast.Unparen(call.Args[0]).(*ast.Ident); ok {
			if param := f.pass.Info.Uses[id]; param != nil {
				if i, ok := index[param]; ok {
					f.sigHelpers[obj] = append(f.sigHelpers[obj], sigParam{index: i, stop: stop})
					f.sigParamObjs[param] = true
				}
			}
		}
		return true
	})
}
