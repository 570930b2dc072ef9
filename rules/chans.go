package rules

import (
	"go/ast"
	"go/types"
)

// This file holds the predicates on what a loop receives from: a stop
// signal, data, a channel of time or of signals.

// stops reports whether receiving from ch can be a stop signal: ctx.Done()
// or a similar Done method, a channel something closes, or a chan struct{}.
//
// A signal that can never fire is no stop: the Done of a context nothing
// can cancel (context.Background, directly or through a variable), or a
// chan struct{} of the package that nothing closes, sends on or hands on.
func (f *loopFinder) stops(ch ast.Expr) bool {
	// Any x.Done() counts, a context's or a type's own (<-w.Done()); a
	// context's only when something can cancel it.
	if call, ok := ast.Unparen(ch).(*ast.CallExpr); ok {
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" {
			return !f.ctxNeverDone(call)
		}
	}
	obj := f.objectOf(ch)
	if obj != nil && f.closed[obj] {
		return true
	}
	if c, ok := f.pass.Info.TypeOf(ch).Underlying().(*types.Chan); ok {
		// A chan struct{} carries nothing but its signal. One that names
		// no variable (s.quitChan()) cannot be judged, and counts.
		if s, ok := c.Elem().Underlying().(*types.Struct); ok && s.NumFields() == 0 {
			return obj == nil || f.canFire(obj)
		}
	}
	return false
}

// carriesData reports whether ch's elements are values, not an empty
// struct: a receive from it is taken for data, and its close for the end
// of the data, not of the loop.
func (f *loopFinder) carriesData(ch ast.Expr) bool {
	c, ok := f.pass.Info.TypeOf(ch).Underlying().(*types.Chan)
	if !ok {
		return false
	}
	s, ok := c.Elem().Underlying().(*types.Struct)
	return !ok || s.NumFields() > 0
}

// isTimeChan reports whether e is a channel of time.Time: a ticker's or
// timer's C, time.Tick, time.After, or a clock library's equivalent.
func (f *loopFinder) isTimeChan(e ast.Expr) bool {
	t := f.pass.Info.TypeOf(e)
	if t == nil {
		return false
	}
	c, ok := t.Underlying().(*types.Chan)
	return ok && c.Dir() != types.SendOnly && isNamed(c.Elem(), "time", "Time")
}

// isTimeCall reports whether e calls the function time.<name>.
func (f *loopFinder) isTimeCall(e ast.Expr, name string) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	return ok && isPkgCall(f.pass.Info, call, "time", name)
}

// isPkgCall reports whether call calls the package-level function path.name.
func isPkgCall(info *types.Info, call *ast.CallExpr, path, name string) bool {
	var id *ast.Ident
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.Ident:
		// Another package's function called bare: a dot import (import .
		// "time"; Sleep(d)).
		id = fun
	default:
		return false
	}
	// The object, not the spelling: an import alias (import t "time") or
	// a local variable named time cannot fool it, and a method of the same
	// name has a receiver: t.After(u) is time.Time's After, no time.After.
	fn, ok := info.Uses[id].(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == path && fn.Name() == name &&
		fn.Type().(*types.Signature).Recv() == nil
}

// isSignalChan reports whether e is a channel registered with signal.Notify
// and never passed to signal.Stop.
func (f *loopFinder) isSignalChan(e ast.Expr) bool {
	obj := f.objectOf(e)
	return obj != nil && f.notified[obj] != nil && !f.sigStopped[obj]
}

// waitChan reports whether receiving from e waits for time or for a signal,
// and records a signal channel in l.
func (f *loopFinder) waitChan(l *Loop, e ast.Expr) bool {
	if f.isSignalChan(e) {
		l.Signal = e
		return true
	}
	return f.isTimeChan(e)
}

// isNamed reports whether t is the named type pkg.name ("" for a predeclared type).
func isNamed(t types.Type, pkg, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Name() != name {
		return false
	}
	if n.Obj().Pkg() == nil {
		return pkg == ""
	}
	return n.Obj().Pkg().Path() == pkg
}
