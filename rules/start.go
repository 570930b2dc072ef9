package rules

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"
)

// This file follows how work is started: go statements, the wrappers and
// once helpers around them, and timer callbacks.

// objectOf returns the variable or field an expression names, or nil. Only
// a name or a selector names one: s.conns[k], f() and <-c do not.
func (f *loopFinder) objectOf(e ast.Expr) types.Object {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return f.pass.Info.ObjectOf(e)
	case *ast.SelectorExpr:
		if sel, ok := f.pass.Info.Selections[e]; ok {
			return sel.Obj()
		}
		// A qualified name (pkg.Var) has no selection: its Sel is the
		// object.
		return f.pass.Info.ObjectOf(e.Sel)
	}
	return nil
}

// goDecl returns the declaration, with a body, of the function or method
// that fun names when a go statement runs it by name: go scan(ctx), go
// s.loop(). Only code the package declares can be read and changed: go
// http.ListenAndServe(...), a method of an interface or of another
// package's type, a method expression, a function value and a literal give
// nil. goroutine and ignoredCtx both find what a go statement runs here.
func (f *loopFinder) goDecl(fun ast.Expr) *ast.FuncDecl {
	var decl *ast.FuncDecl
	switch fun := ast.Unparen(fun).(type) {
	case *ast.Ident:
		decl = f.methods[calleeOf(f.pass.Info, fun)]
	case *ast.SelectorExpr:
		// By its selection, not calleeOf: go s.loop(), not a method
		// expression (go (*T).loop(s)) whose receiver is an argument; a
		// qualified name (go pkg.Run()) has no selection.
		// Origin: go l.run() on a List[int] runs the one declaration of
		// (*List[T]).run.
		if sel, ok := f.pass.Info.Selections[fun]; ok && sel.Kind() == types.MethodVal {
			decl = f.methods[sel.Obj().(*types.Func).Origin()]
		}
	}
	if decl == nil || decl.Body == nil {
		return nil
	}
	return decl
}

// goroutine reports the unstoppable loops of fun, the function that the
// statement start, in starter, runs in a goroutine: a go statement's
// function, or the literal a wrapper is handed (start is then the wrapper's
// call statement). Each loop of fun's body that is not inside another loop
// or a function literal is a finding of its own.
func (f *loopFinder) goroutine(starter *ast.FuncDecl, start ast.Stmt, fun ast.Expr) []*Finding {
	var (
		body   *ast.BlockStmt
		lit    *ast.FuncLit
		method *ast.FuncDecl
		ftype  *ast.FuncType
	)
	if l, ok := ast.Unparen(fun).(*ast.FuncLit); ok {
		lit, body, ftype = l, l.Body, l.Type
	} else if method = f.goDecl(fun); method != nil {
		body, ftype = method.Body, method.Type
	} else {
		return nil
	}

	var out []*Finding
	for _, stmt := range outerLoops(body) {
		l := f.analyse(stmt)
		// nil: the loop has a way out, or does not wait on time. A
		// method's way out may still be dead for this start, on a
		// channel field its starter leaves nil (see nilStop).
		if l == nil {
			if method != nil {
				if why := f.nilStop(starter, start, fun, method, stmt); why != "" {
					out = append(out, &Finding{
						Rule:      unstoppableLoop,
						Pos:       start.Pos(),
						Message:   "goroutine started in " + FuncName(starter) + " loops forever with no way to stop it",
						Unfixable: why,
					})
				}
			}
			continue
		}
		if l.Signal != nil && f.exitsProcess(stmt) {
			// The process's own signal trap: it ends the process on a
			// signal, and its registration is meant to last as long.
			f.trapped[f.objectOf(l.Signal)] = true
			continue
		}
		// The plan skeleton from analyse knows the loop alone; where it was
		// started, and by whom, is this start's.
		l.Start, l.Starter, l.Lit, l.Method = start, starter, lit, method
		l.Site.start = start
		finding := &Finding{
			Rule:    unstoppableLoop,
			Pos:     start.Pos(),
			Message: "goroutine started in " + FuncName(starter) + " " + l.verb() + " forever with no way to stop it",
			loop:    l,
		}
		// Its only exits are failures of calls the owner cannot make fail
		// (see errorExits): the message says so, and the fix keeps them.
		if len(l.failing) > 0 {
			finding.Message += " (" + f.failingNote(l.failing[0]) + ")"
		}
		// A loop that reads a registered signal channel is unstopped-signal's:
		// its fix also undoes the registration.
		if l.Signal != nil {
			finding.signal = f.objectOf(l.Signal)
			finding.Rule = unstoppedSignal
			finding.Message = "goroutine started in " + FuncName(starter) + " reads signals forever and nothing calls signal.Stop"
		}
		why := ""
		if f.inGoroutine(starter, start) {
			// The state would be stored by that goroutine, unordered with
			// a cleanup, which would also miss loops started after it ran.
			why = "it is started by a goroutine that " + FuncName(starter) + " starts, which nothing can stop or wait for"
		}
		// In this order: selfStop asks which cleanup the plan chose, and
		// shadowedBuiltin whether it adds a done channel and an error
		// result.
		if why == "" {
			why = f.plan(l, ftype, body)
		}
		if why == "" {
			why = f.selfStop(&l.Site, body)
		}
		if why == "" {
			why = f.shadowedBuiltin(l)
		}
		if why == "" {
			why = f.unkeyedLiteral(l)
		}
		if why != "" {
			finding.Unfixable = why
		} else {
			finding.Fix = l
		}
		// A plan's judgement (a context not taken as the lifetime) is said
		// whether or not a fix came of it.
		if l.note != "" {
			finding.Message += " (" + l.note + ")"
		}
		out = append(out, finding)
	}
	return out
}

// unkeyedLiteral says why the fix cannot add its fields to the type that
// owns l: a composite literal of the type that lists its values without
// field names (&Counter{sync.Mutex{}, name, 0}) must give every field, and
// would no longer compile. "" when the package has none. (Another
// package's such literal, possible when every field is exported, is the
// verifier's to catch.)
func (f *loopFinder) unkeyedLiteral(l *Loop) string {
	if l.Owner == nil || l.Owner.Type == nil {
		return ""
	}
	var found *ast.CompositeLit
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if found != nil || !ok || len(lit.Elts) == 0 {
				return found == nil
			}
			if _, keyed := lit.Elts[0].(*ast.KeyValueExpr); keyed {
				return true
			}
			// TypeOf, not lit.Type: an element of []Counter{{...}} has no
			// type written. An instance of a generic type is its origin.
			if n, ok := types.Unalias(f.pass.Info.TypeOf(lit)).(*types.Named); ok && n.Origin() == l.Owner.Type {
				found = lit
			}
			return found == nil
		})
	}
	if found == nil {
		return ""
	}
	name := l.Owner.Type.Obj().Name()
	return fmt.Sprintf("%s is built at %s with a literal that lists its field values without names, which the fields the fix adds would break; name the fields there (%s{name: ...})",
		name, shortPos(f.pass.Fset, found.Pos()), name)
}

// shadowedBuiltin says why l's fix cannot use the builtins it writes, or
// "": make and close for the done channel (in the starter, and close in
// the goroutine's function), bool for a receive's ok, nil for an error
// result. The starter or the goroutine's function may declare one of
// those names (close := func() {...}), or the package may. (The packages
// the fix refers to can be imported under another name; a builtin cannot.)
func (f *loopFinder) shadowedBuiltin(l *Loop) string {
	// declared says why in cannot use the builtins names, or "".
	declared := func(in ast.Node, names ...string) string {
		for _, name := range names {
			// var close = ... at the package's top level hides the builtin
			// in every file.
			if f.pass.Pkg.Scope().Lookup(name) != nil {
				return "the package declares " + name + ", and the fix needs the builtin " + name
			}
			// Any declaration inside in, whatever scope it has there: the
			// fix's code may land in that scope.
			found := false
			ast.Inspect(in, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && id.Name == name && f.pass.Info.Defs[id] != nil {
					found = true
				}
				return !found
			})
			if !found {
				continue
			}
			who := FuncName(l.Starter)
			if in == ast.Node(l.Method) {
				who = FuncLabel(f.pass.Info.Defs[l.Method.Name].(*types.Func))
			}
			return who + " declares its own " + name + ", and the fix needs the builtin " + name + " there"
		}
		return ""
	}
	owned := l.Owner != nil && l.Owner.Existing == nil // the fix adds a done channel
	// The function the goroutine runs, where the fix writes its stop case
	// and, when it adds one, closes the done channel.
	var fn ast.Node
	switch {
	case l.Method != nil:
		fn = l.Method
	case l.Lit != nil:
		fn = l.Lit
	default:
		return ""
	}
	names := []string{"bool"}
	if owned {
		names = append(names, "close")
	}
	if l.ErrResult {
		names = append(names, "nil")
	}
	// The starter's make and close matter only when the fix adds a done
	// channel; honouring a context or an existing signal adds none.
	if why := declared(fn, names...); why != "" || !owned {
		return why
	}
	return declared(l.Starter, "make", "close")
}

// timerCallback reports the endless timed loops of a function literal that
// fn schedules with time.AfterFunc. The callback runs in a goroutine of its
// own once the timer fires, and stopping the timer then ends nothing, so
// storing the timer (the discarded-timer fix) does not make such a loop
// stoppable; they are reported without a fix.
func (f *loopFinder) timerCallback(fn *ast.FuncDecl, call *ast.CallExpr) []*Finding {
	if !isAfterFunc(f.pass.Info, call) {
		return nil
	}
	lit, ok := ast.Unparen(call.Args[1]).(*ast.FuncLit)
	if !ok {
		return nil
	}
	// Each endless loop of the callback is a finding of its own, placed at
	// the AfterFunc call.
	var out []*Finding
	for _, stmt := range outerLoops(lit.Body) {
		l := f.analyse(stmt)
		if l == nil {
			continue
		}
		if l.Signal != nil && f.exitsProcess(stmt) {
			// The process's own signal trap: it ends the process on a
			// signal, and its registration is meant to last as long.
			f.trapped[f.objectOf(l.Signal)] = true
			continue
		}
		out = append(out, &Finding{
			Rule:      unstoppableLoop,
			Pos:       call.Pos(),
			Message:   "the callback that " + FuncName(fn) + " schedules with time.AfterFunc " + l.verb() + " forever with no way to stop it",
			Unfixable: "the loop runs in a time.AfterFunc callback, which stopping the timer does not end once it has fired",
		})
	}
	return out
}

// inTimerCallback reports whether n lies in a function literal that fn
// passes to time.AfterFunc: code that runs later, in the timer's goroutine.
func (f *loopFinder) inTimerCallback(fn *ast.FuncDecl, n ast.Node) bool {
	// time.AfterFunc(d, func() { go s.poll() }): the callback may fire
	// after Shutdown has run, and start work nothing then stops.
	found := false
	ast.Inspect(fn.Body, func(m ast.Node) bool {
		if call, ok := m.(*ast.CallExpr); ok && !found && isAfterFunc(f.pass.Info, call) {
			if lit, ok := ast.Unparen(call.Args[1]).(*ast.FuncLit); ok && lit.Pos() <= n.Pos() && n.End() <= lit.End() {
				found = true
			}
		}
		return !found
	})
	return found
}

// wrapped returns the function literal a call runs in a new goroutine: the
// argument of errgroup's (or conc's) Go, or the argument that a function of
// this package passes to a go statement (func goSafe(f func()) { go ... f() ... }).
func (f *loopFinder) wrapped(call *ast.CallExpr) *ast.FuncLit {
	if fun, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		// g.Go(func() error { ... }) on errgroup's Group (any package path
		// ending in /errgroup), one of conc's types, or Go 1.25's
		// sync.WaitGroup: known to run their one argument in a goroutine.
		if sel, ok := f.pass.Info.Selections[fun]; ok && sel.Kind() == types.MethodVal && fun.Sel.Name == "Go" {
			recv := derefType(sel.Recv())
			if n, ok := types.Unalias(recv).(*types.Named); ok && n.Obj().Pkg() != nil {
				path := n.Obj().Pkg().Path()
				if strings.HasSuffix(path, "/errgroup") || strings.HasPrefix(path, "github.com/sourcegraph/conc") || path == "sync" && n.Obj().Name() == "WaitGroup" {
					// Only a literal is followed: g.Go(s.poll) is not.
					if len(call.Args) == 1 {
						lit, _ := ast.Unparen(call.Args[0]).(*ast.FuncLit)
						return lit
					}
				}
			}
		}
	}
	// The package's own wrappers (func goSafe(f func()) { go ... f() }),
	// by function or method (s.spawn(name, f)): index found which of
	// their parameters they run.
	fn := calleeOf(f.pass.Info, call.Fun)
	if fn == nil {
		return nil
	}
	for _, i := range f.wrappers[fn] {
		if i < len(call.Args) {
			if lit, ok := ast.Unparen(call.Args[i]).(*ast.FuncLit); ok {
				return lit
			}
		}
	}
	return nil
}

// inGoroutine reports whether start runs in a goroutine that starter starts
// (in a function literal given to a go statement or to a wrapper), rather
// than in starter itself.
func (f *loopFinder) inGoroutine(starter *ast.FuncDecl, start ast.Stmt) bool {
	// stack holds the ancestors of the node visited. Inspect calls f(nil)
	// after the children of a node only when f returned true for it, so a
	// node is pushed exactly when true is returned, and popped at its nil.
	var stack []ast.Node
	found := false
	ast.Inspect(starter.Body, func(n ast.Node) bool {
		if found {
			return false
		}
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		// Any literal among the ancestors that a go statement runs as its
		// function (go func() { ... go s.loop() ... }()), or that a wrapper
		// is handed. A literal passed to something else (sync.Once's Do, a
		// callback) runs in starter's goroutine, or is judged elsewhere.
		if n == start {
			for i, a := range stack {
				lit, ok := a.(*ast.FuncLit)
				if !ok || i == 0 {
					continue
				}
				switch p := stack[i-1].(type) {
				case *ast.CallExpr:
					if i >= 2 {
						if g, ok := stack[i-2].(*ast.GoStmt); ok && g.Call == p && p.Fun == lit {
							found = true
						}
					}
					if f.wrapped(p) == lit {
						found = true
					}
				}
			}
			return false
		}
		stack = append(stack, n)
		return true
	})
	return found
}

// skipping returns the name of the package's wrapper call calls when it may
// return without starting its function, or "".
func (f *loopFinder) skipping(call *ast.CallExpr) string {
	// What index's startsAlways found of the wrapper is in f.skips; a
	// wrapper of another package (errgroup's Go) is taken to start it
	// always. A method counts as a function does: s.spawn(name, f).
	if fn := calleeOf(f.pass.Info, call.Fun); fn != nil && f.skips[fn] {
		return fn.Name()
	}
	return ""
}

// startsAlways reports whether fn's body starts a goroutine on every path: a
// go statement of the body's own list, with no return (or goto) before it.
// A wrapper that returns first when a job is turned off may not start it.
func startsAlways(fn *ast.FuncDecl) bool {
	// The first go statement of the body's own list, reached with nothing
	// before it that may return, jump, or start a goroutine only under a
	// condition: every call gets that far.
	for _, stmt := range fn.Body.List {
		if _, ok := stmt.(*ast.GoStmt); ok {
			return true
		}
		found := false
		ast.Inspect(stmt, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt, *ast.GoStmt:
				found = true // a return, or a go statement under a condition
			case *ast.BranchStmt:
				found = found || n.Tok == token.GOTO
			}
			return !found
		})
		if found {
			return false
		}
	}
	// No go statement of its own list: it starts nothing for certain.
	return false
}

// goParams returns the indices of fn's function parameters that its body
// calls inside a go statement.
//
// nil means fn is no wrapper: it has no function parameter, or runs none
// in a go statement.
func goParams(info *types.Info, fn *ast.FuncDecl) []int {
	// The function-typed parameters by object, with their positions among
	// the arguments (an unnamed parameter takes one too).
	params := map[types.Object]int{}
	i := 0
	for _, field := range fn.Type.Params.List {
		for _, name := range field.Names {
			if _, ok := info.TypeOf(field.Type).Underlying().(*types.Signature); ok {
				params[info.Defs[name]] = i
			}
			i++
		}
		if len(field.Names) == 0 {
			i++
		}
	}
	if len(params) == 0 {
		return nil
	}
	var out []int
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		g, ok := n.(*ast.GoStmt)
		if !ok {
			return true
		}
		// go f(), or go func() { defer recoverPanic(); f() }(): a call of
		// the parameter anywhere in the go statement, its literal included.
		ast.Inspect(g.Call, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok {
					if i, ok := params[info.Uses[id]]; ok && !slices.Contains(out, i) {
						out = append(out, i)
					}
				}
			}
			return true
		})
		return false
	})
	return out
}

// isOnceHelper reports whether call is sync.OnceFunc, sync.OnceValue or
// sync.OnceValues, whose function argument runs on the first call of the
// function they return, not where they are called.
func isOnceHelper(info *types.Info, call *ast.CallExpr) bool {
	fun := ast.Unparen(call.Fun)
	switch x := fun.(type) {
	case *ast.IndexExpr: // sync.OnceValue[T](...)
		fun = x.X
	case *ast.IndexListExpr:
		fun = x.X
	}
	// A call with the type arguments stripped, so that isPkgCall can read
	// its function.
	c := &ast.CallExpr{Fun: fun, Args: call.Args}
	for _, name := range []string{"OnceFunc", "OnceValue", "OnceValues"} {
		if isPkgCall(info, c, "sync", name) {
			return len(call.Args) == 1
		}
	}
	return false
}

// inOnceHelper reports whether n lies in a function literal that the code
// under root passes to sync.OnceFunc, OnceValue or OnceValues: it runs
// later, whenever the returned function is first called, which may be
// after or while the owner's cleanup runs.
// It also returns, as written, what the helper's result is assigned to
// (c.connect), or "".
func (f *loopFinder) inOnceHelper(root, n ast.Node) (bool, string) {
	found, name := false, ""
	ast.Inspect(root, func(m ast.Node) bool {
		// c.connect = sync.OnceFunc(func() { go ... }): the name the work's
		// fix reports as what starts it. Inspect meets the assignment
		// before the helper's call inside it.
		if as, ok := m.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) && !found {
			for i, r := range as.Rhs {
				if call, ok := ast.Unparen(r).(*ast.CallExpr); ok && isOnceHelper(f.pass.Info, call) && call.Pos() <= n.Pos() && n.End() <= call.End() {
					name, _ = exprString(as.Lhs[i])
				}
			}
		}
		if call, ok := m.(*ast.CallExpr); ok && !found && isOnceHelper(f.pass.Info, call) {
			if lit, ok := ast.Unparen(call.Args[0]).(*ast.FuncLit); ok && lit.Pos() <= n.Pos() && n.End() <= lit.End() {
				found = true
			}
		}
		return !found
	})
	// Inside the helper's call but not in its literal argument
	// (sync.OnceFunc(wrap(func() { go ... }))): not known to be the
	// helper's to run, so the name says nothing either.
	if !found {
		name = ""
	}
	return found, name
}

// onceStarters returns, for each function literal that a package
// variable's initializer passes to sync.OnceFunc, OnceValue or OnceValues
// (var startJanitor = sync.OnceFunc(func() { go ... })), a declaration
// standing for it: named after the variable, with the literal's type and
// body. It is no part of the syntax tree; the literal's body is. Such work
// starts once per process, whichever caller is first, so it belongs to the
// package.
func (f *loopFinder) onceStarters() []*ast.FuncDecl {
	var out []*ast.FuncDecl
	for _, file := range f.pass.Files {
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					call, ok := ast.Unparen(v).(*ast.CallExpr)
					if !ok || i >= len(vs.Names) || !isOnceHelper(f.pass.Info, call) {
						continue
					}
					// The stand-in's name is a new identifier, at the
					// variable's position for messages. The type information
					// knows nothing of it: Defs[fn.Name] is nil, and no
					// lookup by object takes the stand-in for a function of
					// the package.
					if lit, ok := ast.Unparen(call.Args[0]).(*ast.FuncLit); ok {
						fn := &ast.FuncDecl{Name: ast.NewIdent(vs.Names[i].Name), Type: lit.Type, Body: lit.Body}
						fn.Name.NamePos = vs.Names[i].Pos()
						f.onceVars[fn] = gd
						out = append(out, fn)
					}
				}
			}
		}
	}
	return out
}

// failingNote says what the only way out of a loop is: "it ends only when
// poll fails".
func (f *loopFinder) failingNote(call *ast.CallExpr) string {
	// call is one errorExits kept, whose callee outsideCall found: fn is
	// not nil.
	fn := calleeFunc(f.pass.Info, call)
	name := FuncLabel(fn)
	// Another package's function by its qualified name (http.Get); a
	// method by its receiver type ((*Conn).Read), as FuncLabel gives it.
	if fn.Pkg() != f.pass.Pkg && fn.Signature().Recv() == nil {
		name = fn.Pkg().Name() + "." + name
	}
	return "it ends only when " + name + " fails"
}
