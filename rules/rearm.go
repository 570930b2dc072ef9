package rules

import (
	"go/ast"
	"go/types"
)

// This file finds timers that re-arm themselves: a callback that schedules
// itself again with time.AfterFunc, or that Resets the stored timer that
// runs it, with nothing that ever stops the chain. Each run schedules the
// next, so the work is periodic for the life of the process, as a loop
// on a ticker is; it is reported without a fix.
//
//	func sample() { collect(); time.AfterFunc(d, sample) }   // started from init
//	r.t = time.AfterFunc(d, func() { work(); r.t.Reset(d) }) // no r.t.Stop anywhere

// rearmNotFixed is why a self-re-arming timer is not fixed.
const rearmNotFixed = "the timer re-arms itself from its own callback, which can arm it again after a Stop; ending the chain needs a flag the callback checks under a lock, which the fix does not write"

// rearming reports the self-re-arming timers of fn.
func (f *loopFinder) rearming(fn *ast.FuncDecl) []*Finding {
	info := f.pass.Info
	var out []*Finding
	report := func(call *ast.CallExpr, how string) {
		out = append(out, &Finding{
			Rule:      unstoppableLoop,
			Pos:       call.Pos(),
			Message:   how + ", so it runs for ever with no way to stop it",
			Unfixable: rearmNotFixed,
		})
	}
	// A function or method that schedules itself: func sample() { ...;
	// time.AfterFunc(d, sample) }, started by a call. A chain started by
	// an AfterFunc elsewhere is discarded-timer's to report, at its start.
	// uses counts the AfterFunc's own reference; a second is what starts
	// the chain (init's sample()).
	if obj, ok := info.Defs[fn.Name].(*types.Func); ok && f.uses[obj] > 1 {
		// Only a re-arm every run makes: if p.closed.Load() { return }
		// ahead of it is a way out, and the chain is managed.
		var rearms []*ast.CallExpr
		for _, call := range f.unconditionalCalls(fn.Body) {
			if isAfterFunc(info, call) && calleeOf(info, call.Args[1]) == obj && !f.timerStopped(call) {
				rearms = append(rearms, call)
			}
		}
		// Asked last, and only of a function that re-arms itself: it
		// walks the whole package, and asking it of every function used
		// twice made the rule quadratic in the package's size.
		if len(rearms) > 0 && !f.scheduledElsewhere(fn, obj) {
			for _, call := range rearms {
				report(call, "time.AfterFunc in "+FuncName(fn)+" schedules "+fn.Name.Name+" again on every run")
			}
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			// tick = func() { ...; time.AfterFunc(d, tick) }, after var
			// tick func(): a literal can name itself only through a
			// variable declared before it.
			if len(n.Lhs) != 1 || len(n.Rhs) != 1 {
				return true
			}
			lit, ok := ast.Unparen(n.Rhs[0]).(*ast.FuncLit)
			// r.t = time.AfterFunc(d, func() { ...; r.t.Reset(d) }): the
			// other shape of chain, on the stored timer.
			if !ok {
				if call, ok := ast.Unparen(n.Rhs[0]).(*ast.CallExpr); ok {
					f.rearmReset(fn, n.Lhs[0], call, report)
				}
				return true
			}
			v := f.objectOf(n.Lhs[0])
			if v == nil {
				return true
			}
			for _, call := range f.unconditionalCalls(lit.Body) {
				if isAfterFunc(info, call) && f.objectOf(call.Args[1]) == v && !f.timerStopped(call) {
					report(call, "the callback "+v.Name()+" that "+FuncName(fn)+" makes schedules itself again on every run")
				}
			}
		}
		return true
	})
	return out
}

// rearmReset reports x = time.AfterFunc(d, func() { ...; x.Reset(d) })
// when nothing in the package calls x.Stop.
func (f *loopFinder) rearmReset(fn *ast.FuncDecl, x ast.Expr, call *ast.CallExpr, report func(*ast.CallExpr, string)) {
	info := f.pass.Info
	if !isAfterFunc(info, call) {
		return
	}
	lit, ok := ast.Unparen(call.Args[1]).(*ast.FuncLit)
	timer := f.objectOf(x)
	// A timer something stops (r.t.Stop() in Close) is a chain its owner
	// can end, and is left alone.
	if !ok || timer == nil || f.stoppedTimers()[timer] {
		return
	}
	// A Reset under a condition (if r.tries < 3 { r.t.Reset(d) }) may end
	// the chain by itself; only one every run makes is endless.
	for _, c := range f.unconditionalCalls(lit.Body) {
		if sel, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Reset" && f.objectOf(sel.X) == timer {
			name, _ := exprString(x)
			report(call, "the timer "+name+" that "+FuncName(fn)+" starts is Reset by its own callback on every run")
			return
		}
	}
}

// unconditionalCalls returns the calls that body makes as top-level
// statements ahead of any return: those every run makes.
func (f *loopFinder) unconditionalCalls(body *ast.BlockStmt) []*ast.CallExpr {
	var out []*ast.CallExpr
	for _, st := range body.List {
		// b.t = time.AfterFunc(d, b.beat) re-arms as surely as the call
		// alone does.
		x := runValue(st)
		if d, ok := st.(*ast.DeferStmt); ok {
			// defer time.AfterFunc(d, sample) runs on every return.
			x = d.Call
		}
		if call, ok := ast.Unparen(x).(*ast.CallExpr); ok {
			out = append(out, call)
		}
		if hasReturn(st) {
			break // what follows may not run
		}
	}
	return out
}

// timerStopped reports whether the timer a time.AfterFunc call makes is
// stored where something calls its Stop: then the chain can be ended.
func (f *loopFinder) timerStopped(call *ast.CallExpr) bool {
	// The assignment whose value is this very call: b.t = time.AfterFunc(d,
	// b.beat), with b.t.Stop() in Close.
	stopped := false
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 && ast.Unparen(as.Rhs[0]) == ast.Expr(call) {
				if obj := f.objectOf(as.Lhs[0]); obj != nil && f.stoppedTimers()[obj] {
					stopped = true
				}
			}
			return !stopped
		})
	}
	return stopped
}

// stoppedTimers returns the variables and fields whose Stop method some
// code of the package calls.
func (f *loopFinder) stoppedTimers() map[types.Object]bool {
	if f.stopped != nil {
		return f.stopped
	}
	f.stopped = map[types.Object]bool{}
	// Any x.Stop() counts, whatever x's type and wherever it is called:
	// erring this way leaves a chain unreported rather than reporting one
	// its owner ends.
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Stop" {
					if obj := f.objectOf(sel.X); obj != nil {
						f.stopped[obj] = true
					}
				}
			}
			return true
		})
	}
	return f.stopped
}

// calleeOf returns the function or method a function value names: sample,
// or s.sample; nil for anything else (a literal, a call, a variable). A
// method of an instantiated generic type or an instance of a generic
// function gives its generic declaration, which f.methods, f.uses and
// index's tables are keyed by, so every rule that asks which function a
// call or a value means gets the same answer.
func calleeOf(info *types.Info, e ast.Expr) *types.Func {
	var id *ast.Ident
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = e
	case *ast.SelectorExpr:
		id = e.Sel
	default:
		return nil
	}
	fn, _ := info.Uses[id].(*types.Func)
	if fn == nil {
		return nil
	}
	// The generic declaration, which f.methods and f.uses are keyed by.
	return fn.Origin()
}

// scheduledElsewhere reports whether code outside fn passes obj, fn's
// function, to time.AfterFunc.
func (f *loopFinder) scheduledElsewhere(fn *ast.FuncDecl, obj *types.Func) bool {
	found := false
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			// fn's own re-arm is the chain itself, not its start.
			if n == ast.Node(fn) {
				return false
			}
			if call, ok := n.(*ast.CallExpr); ok && isAfterFunc(f.pass.Info, call) && calleeOf(f.pass.Info, call.Args[1]) == obj {
				found = true
			}
			return !found
		})
	}
	return found
}
