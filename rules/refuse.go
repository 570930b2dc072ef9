package rules

import (
	"fmt"
	"go/ast"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
)

// This file holds the refusals: the shapes where a fix would change what
// the program does (the work calls the cleanup, the owner escapes before
// an error return, a callback reaches the cleanup).

// earlierCaller returns, spelled as written, the function of a go
// statement that l's starter runs before l's start and that may call
// cleanup: it could then read the stop state while the starter writes it.
//
//	go s.acceptLoop()    // calls s.Close() at once when binding failed
//	go func() { for range time.Tick(d) { ... } }()   // the work
//
// A Close that ran first would also find no stop state, and miss the work.
// Only go statements count; a wrapper's start (g.Go) is not read here.
func (f *loopFinder) earlierCaller(l *Site, cleanup *types.Func) string {
	found := ""
	ast.Inspect(l.Starter.Body, func(n ast.Node) bool {
		g, ok := n.(*ast.GoStmt)
		if !ok || found != "" {
			return found == ""
		}
		var body ast.Node
		switch fun := ast.Unparen(g.Call.Fun).(type) {
		case *ast.FuncLit:
			body = fun.Body
		default:
			if fn := calleeFunc(f.pass.Info, g.Call); fn != nil {
				if decl := f.methods[fn]; decl != nil {
					body = decl.Body
				}
			}
		}
		// Ended before the work's start: a go statement after it runs once
		// the stop state is set.
		if body != nil && g.End() <= l.startPos() {
			if _, ok := f.reaches(body, cleanup); ok {
				// A method by its name; a function literal, which would
				// spread the reason over lines, by where it starts.
				if _, lit := ast.Unparen(g.Call.Fun).(*ast.FuncLit); lit {
					pos := f.pass.Fset.Position(g.Pos())
					found = fmt.Sprintf("at %s:%d", filepath.Base(pos.Filename), pos.Line)
				} else {
					found, _ = exprString(g.Call.Fun)
				}
			}
		}
		return found == ""
	})
	return found
}

// callbackReaching returns, spelled as written, a function value the code
// under body calls that may call cleanup, a method of owner (or, owner
// nil, a function of the package): one it hands the owner to
// (r.onGiveUp(r)), or one whose type is cleanup's method value type (a
// func() that may be r.Close). It returns "" if there is none.
func (f *loopFinder) callbackReaching(body ast.Node, owner *types.Named, cleanup *types.Func) string {
	info := f.pass.Info
	var ptr types.Type
	if owner != nil {
		ptr = types.NewPointer(owner)
	}
	// method is the type of the method value r.Close: cleanup's signature
	// without its receiver.
	method := types.NewSignatureType(nil, nil, nil, cleanup.Signature().Params(), cleanup.Signature().Results(), cleanup.Signature().Variadic())
	found := ""
	// The package's call graph cannot see through a function value: a
	// callback a caller supplies (onGiveUp: func(r *Retrier) { r.Close() })
	// is judged by its type alone.
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found != "" {
			return found == ""
		}
		if _, isGo := n.(*ast.GoStmt); isGo {
			return false
		}
		if calleeFunc(info, call) != nil {
			return true // a declared function: the call graph follows it
		}
		if tv, ok := info.Types[call.Fun]; !ok || !tv.IsValue() {
			return true // a conversion or a builtin
		}
		sig, ok := info.TypeOf(call.Fun).Underlying().(*types.Signature)
		if !ok {
			return true
		}
		// A func() may be r.Close itself; a callback handed the owner, as
		// r.onGiveUp(r) is, may call r.Close on it. By type alone, every
		// callback of Close's type counts: the refusal errs that way
		// rather than let Close wait for its own caller.
		hands := types.Identical(sig, method)
		for _, a := range call.Args {
			if t := info.TypeOf(a); t != nil && ptr != nil && types.Identical(t, ptr) {
				hands = true
			}
		}
		if hands {
			found, _ = exprString(call.Fun)
		}
		return found == ""
	})
	return found
}

// abandon fills in l.Abandon: the returns after start, in the block that
// holds start or one inside it, that do not return the owner, whose
// variable x names. It returns why the fix cannot keep its promise on the
// starter's failure paths, or "": a panic after the start would leave the
// work running with no owner to stop it.
func (f *loopFinder) abandon(l *Site, start ast.Stmt, x ast.Expr) string {
	// A method's caller still holds the receiver after a failed return,
	// and can stop the work through it.
	id, ok := ast.Unparen(x).(*ast.Ident)
	if !ok || l.Starter.Recv != nil && f.isReceiver(l.Starter, x) {
		return ""
	}
	owner := f.pass.Info.Uses[id]
	// The returns looked at are those after the start in its own block, or
	// in blocks inside it; one in an enclosing block after it is not.
	block := enclosingBlock(l.Starter.Body, start)
	if block == nil || f.escapes(l.Starter, start, owner) {
		// Handed elsewhere (stored, passed on), the owner may live on
		// after a failed return: stopping its work there would change
		// what the program does, so such returns are left as they were.
		return ""
	}
	why := ""
	ast.Inspect(block, func(n ast.Node) bool {
		if n == nil || why != "" {
			return false
		}
		if n != ast.Node(block) && n.End() <= start.End() {
			return false // the start, or code before it
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its returns leave the literal, not the starter
		case *ast.ReturnStmt:
			returnsOwner := false
			for _, r := range n.Results {
				ast.Inspect(r, func(m ast.Node) bool {
					if rid, ok := m.(*ast.Ident); ok && f.pass.Info.Uses[rid] == owner {
						returnsOwner = true // return s, or return &Wrapper{s}
					}
					return !returnsOwner
				})
			}
			// return nil, err after go func() { ... }(): the caller gets
			// nothing to call Shutdown on, so the fix stops the work there.
			if !returnsOwner {
				l.Abandon = append(l.Abandon, n)
			}
		case *ast.CallExpr:
			// regexp.MustCompile of a caller's pattern panics on a bad one;
			// with constant arguments a Must call panics on every run or
			// on none, so it is no failure path.
			if fn := calleeFunc(f.pass.Info, n); fn != nil && strings.HasPrefix(fn.Name(), "Must") && !constantArgs(f.pass.Info, n) {
				why = FuncName(l.Starter) + " may panic in " + fn.Name() + " after starting the work, which would then run with nothing to stop it"
			}
			// A panic has no return to put a stop before; one in a called
			// function is not seen.
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok {
				if b, ok := f.pass.Info.Uses[id].(*types.Builtin); ok && b.Name() == "panic" {
					why = FuncName(l.Starter) + " may panic after starting the work, which would then run with nothing to stop it"
				}
			}
		}
		return true
	})
	return why
}

// escapes reports whether fn, outside the goroutine start starts and its
// return statements, uses the variable owner as a value: passes it to a
// call, assigns or stores it, sends it. Uses as the receiver of a field
// or method selection (s.mu, s.dial()) do not hand it on.
func (f *loopFinder) escapes(fn *ast.FuncDecl, start ast.Stmt, owner types.Object) bool {
	// walk descends one level at a time, so that each identifier is seen
	// with its parent: s in s.mu stays, s in f(s) is handed on. The returns
	// are abandon's to judge.
	found := false
	var walk func(n ast.Node, parent ast.Node)
	walk = func(n ast.Node, parent ast.Node) {
		if n == nil || found {
			return
		}
		switch n := n.(type) {
		case *ast.ReturnStmt:
			return
		case *ast.Ident:
			// registry[name] = s, f(s), x := s: handed on. s.mu, s.tick()
			// and s.items[k] = v only reach into it.
			if f.pass.Info.Uses[n] == owner {
				if sel, ok := parent.(*ast.SelectorExpr); !ok || sel.X != n {
					found = true
				}
			}
			return
		}
		// The goroutine's own uses of the owner are the work's, which the
		// fix stops.
		if n == ast.Node(start) {
			return
		}
		ast.Inspect(n, func(c ast.Node) bool {
			if c == nil || c == n {
				return c == n
			}
			walk(c, n)
			return false
		})
	}
	walk(fn.Body, nil)
	return found
}

// constantArgs reports whether every argument of call is a constant or nil.
func constantArgs(info *types.Info, call *ast.CallExpr) bool {
	for _, a := range call.Args {
		if tv, ok := info.Types[a]; !ok || (tv.Value == nil && !tv.IsNil()) {
			return false
		}
	}
	return true
}

// enclosingBlock returns the innermost block of body that holds s in its
// list, not looking into function literals.
func enclosingBlock(body *ast.BlockStmt, s ast.Stmt) *ast.BlockStmt {
	var found *ast.BlockStmt
	ast.Inspect(body, func(n ast.Node) bool {
		if found != nil {
			return false
		}
		switch n := n.(type) {
		// A statement of a nested literal is in another function's body.
		case *ast.FuncLit:
			return false
		case *ast.BlockStmt:
			if slices.Contains(n.List, s) {
				found = n
				return false
			}
		case *ast.CaseClause:
			// A case body has no block of its own: one is made up to
			// hold its list.
			if slices.Contains(n.Body, s) {
				found = &ast.BlockStmt{List: n.Body}
				return false
			}
		}
		return true
	})
	return found
}

// selfStop says why the work, whose goroutine runs body, cannot be stopped
// by waiting in the cleanup l's owner will use: the goroutine calls that
// cleanup itself, and would then wait for its own end. It returns "" when
// that cannot happen.
func (f *loopFinder) selfStop(l *Site, body ast.Node) string {
	if l.Owner == nil {
		return ""
	}
	// The method that will wait for the work: the cleanup the fix extends,
	// or the existing method that fires the signal and waits. A generated
	// Shutdown (decl nil) is new, so nothing in the package calls it yet.
	decl := l.Owner.Cleanup
	if decl == nil {
		// A cleanup promoted from an embedded field (q.Close is
		// q.journal.Close) is declared on the type by the fix, which then
		// waits for the work: the work's own q.Close() would call it.
		decl = l.Owner.Promoted
	}
	if ex := l.Owner.Existing; ex != nil {
		if ex.Group == "" {
			return "" // firing the signal does not wait for the work
		}
		// The existing method that fires the signal is the one that
		// waits.
		decl = f.methodNamed(l.Owner.Type, ex.By)
	}
	if decl == nil {
		return ""
	}
	cleanup, ok := f.pass.Info.Defs[decl.Name].(*types.Func)
	if !ok {
		return ""
	}
	// Each check names a different way the cleanup can be reached while
	// the work runs; the first that holds gives the reason.
	if earlier := f.earlierCaller(l, cleanup); earlier != "" {
		name := decl.Name.Name
		return "a goroutine " + FuncName(l.Starter) + " starts before this one (" + earlier + ") may call " + name + " before the work's stop state is set"
	}
	// (*Fleet).Remove locks f.mu and calls Stop, while the work locks f.mu
	// too: Stop would wait for work that waits for f.mu.
	if caller, lock := f.callerHolding(cleanup, f.locksTaken(body)); caller != "" {
		name := decl.Name.Name
		return caller + " calls " + name + " while holding " + lock + ", which the goroutine takes, so " + name + " cannot wait for it to end"
	}
	if cb := f.callbackReaching(body, l.Owner.Type, cleanup); cb != "" {
		name := decl.Name.Name
		return "the goroutine calls " + cb + ", a function value that may call " + name + ", so " + name + " cannot wait for it to end"
	}
	// for range t.C { if s.expired() { s.expire() } } where expire calls
	// s.Close(): Close would wait for the goroutine it runs in.
	if path, ok := f.reaches(body, cleanup); ok {
		name := decl.Name.Name
		through := ""
		if len(path) > 0 {
			through = " through " + strings.Join(path, " and ")
		}
		return "the goroutine calls " + name + " itself" + through + ", so " + name + " cannot wait for it to end"
	}
	return ""
}

// isReceiver reports whether x is the receiver of fn.
func (f *loopFinder) isReceiver(fn *ast.FuncDecl, x ast.Expr) bool {
	id, ok := ast.Unparen(x).(*ast.Ident)
	if !ok || fn.Recv == nil || len(fn.Recv.List[0].Names) != 1 {
		return false
	}
	// By object, not by name: a local s that shadows the receiver is not
	// it.
	return f.pass.Info.Uses[id] == f.pass.Info.Defs[fn.Recv.List[0].Names[0]]
}

// isReturned reports whether x is a variable fn returns.
func (f *loopFinder) isReturned(fn *ast.FuncDecl, x ast.Expr) bool {
	id, ok := ast.Unparen(x).(*ast.Ident)
	return ok && f.returned(fn)[f.pass.Info.Uses[id]]
}

// returned returns the variables fn returns.
func (f *loopFinder) returned(fn *ast.FuncDecl) map[types.Object]bool {
	out := map[types.Object]bool{}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false // a literal's returns are its own
		}
		// Only a result that is a variable: return s, not return &Wrapper{s}
		// or return s.inner.
		if r, ok := n.(*ast.ReturnStmt); ok {
			for _, e := range r.Results {
				if id, ok := ast.Unparen(e).(*ast.Ident); ok {
					if obj := f.pass.Info.Uses[id]; obj != nil {
						out[obj] = true
					}
				}
			}
		}
		return true
	})
	return out
}

// returnedIn returns the first use, inside lit, of a pointer variable that
// the constructor fn returns: the value the goroutine belongs to.
func (f *loopFinder) returnedIn(fn *ast.FuncDecl, lit *ast.FuncLit) ast.Expr {
	returned := f.returned(fn)
	var owner ast.Expr
	// Declared before the literal, so captured from the constructor rather
	// than the literal's own; a pointer, so that the state the fix stores
	// through it is in the value the caller gets.
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && owner == nil {
			if obj := f.pass.Info.Uses[id]; obj != nil && returned[obj] && obj.Pos() < lit.Pos() {
				if _, ok := obj.Type().(*types.Pointer); ok {
					owner = id
				}
			}
		}
		return owner == nil
	})
	return owner
}

// inLoop reports whether n sits inside a loop of body (not counting loops in
// function literals that contain n themselves).
func inLoop(body *ast.BlockStmt, n ast.Node) bool {
	found := false
	var walk func(ast.Node, bool)
	walk = func(root ast.Node, looping bool) {
		ast.Inspect(root, func(m ast.Node) bool {
			if found {
				return false
			}
			if m == n {
				found = looping
				return false
			}
			switch m := m.(type) {
			case *ast.ForStmt:
				walk(m.Body, true)
				return false
			case *ast.RangeStmt:
				walk(m.Body, true)
				return false
			// A literal's body starts afresh: a loop around the literal
			// does not say how often it runs (once.Do(func() { go ... })
			// in a loop starts once).
			case *ast.FuncLit:
				walk(m.Body, false)
				return false
			}
			return true
		})
	}
	walk(body, false)
	return found
}
