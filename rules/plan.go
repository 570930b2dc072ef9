package rules

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"
)

// This file plans a fix: who owns the loop, which context is its lifetime,
// and which cleanup ends it.

// plan completes l: who owns the loop, which context it honours and what
// the generated names are based on. It returns why no fix is possible, or "".
func (f *loopFinder) plan(l *Loop, ftype *ast.FuncType, body *ast.BlockStmt) string {
	if why := f.planLoop(l, ftype, body); why != "" {
		return why
	}
	// A channel the loop's own method closes on its way out (defer
	// close(s.out)) is how the work says it ended, not a way to end it.
	if o := l.Owner; o != nil && o.Existing != nil && l.Method != nil && f.methodNamed(o.Type, o.Existing.By) == l.Method {
		o.Existing = nil
	}
	// Only now is the owner known, and with it whose channels the loop's
	// interrupted sends and receives must be (see chanWaits).
	return f.ownedOps(l)
}

// planLoop is plan up to the check that the channel operations the loop's
// stop will interrupt are its owner's.
func (f *loopFinder) planLoop(l *Loop, ftype *ast.FuncType, body *ast.BlockStmt) string {
	// for now := time.Now(); ; now = <-t.C { ... }: a select cannot stand
	// in a for statement's header, and moving the assignment into the
	// body would change what a continue runs. (A bare wait there, as in
	// for ; ; <-t.C, is a header wait the fix moves: see headerWait.)
	if inHeader(l) {
		return "the loop waits in the init or post statement of a for statement, where the fix cannot put a select"
	}
	if len(l.via) > 0 {
		l.note = "it waits in " + FuncLabel(l.via[0])
		return "the loop waits inside a function it calls, which the fix does not rewrite"
	}
	// for { t.work(); s.out <- x }: a send or receive beside the timer
	// blocks too, and a stop that cannot interrupt it would leave the
	// cleanup waiting for a loop stuck on it.
	if op := f.chanWaits(l); op != nil {
		return f.blocksWhy(op)
	}
	if op := f.deferredOps(body); op != nil {
		return "a function the goroutine defers blocks on a channel operation that would keep the cleanup waiting once the loop stops (" +
			f.pass.Fset.Position(op.Pos()).String() + ")"
	}
	for _, w := range l.Waits {
		// for ; ; time.Sleep(d) { if skip() { continue }; work() }: the
		// wait moves to the end of the body, since a select cannot stand in
		// a header, and a continue would then jump past it and spin.
		if w.Header != nil && w.Node == ast.Node(w.Header.Post) {
			// The reason names no line, so that a summary counts these together.
			if continueTo(body, w.Header) != nil {
				return "the loop waits in its post statement, which a continue runs too, so the wait cannot move to the end of the body"
			}
		}
		// The stop case returns where the loop waits, so what is held there
		// stays held: c.mu.Lock(); time.Sleep(d) would leave c.mu locked. A
		// held channel is a semaphore slot (c.slots <- struct{}{}).
		held, wg := f.heldLock(body, w.Node)
		_, isChan := f.typeOfLock(body, held).(*types.Chan)
		switch {
		case held == "":
		case isChan:
			return "the loop waits while holding a slot of " + held + ", which returning there would never give back"
		case wg:
			return "the loop waits between " + held + ".Add and " + held + ".Done, so returning there would leave " + held + ".Wait blocked for ever"
		default:
			return "the loop waits while holding " + held + ", which returning there would leave locked"
		}
	}
	// The stop case must return something: nil for the one error of
	// g.Go(func() error { ... }); any other result would be made up.
	if results := ftype.Results; results != nil && len(results.List) > 0 {
		if len(results.List) > 1 || len(results.List[0].Names) > 1 || !isNamed(f.pass.Info.TypeOf(results.List[0].Type), "", "error") {
			return "the goroutine's function returns results other than an error"
		}
		l.ErrResult = true
	}
	// for _, p := range peers { go ... }: one pair of stop and done fields
	// would hold only the last goroutine's.
	if inLoop(l.Starter.Body, l.Start) {
		return "the goroutine is started inside a loop, so one value owns several of them"
	}
	if why := f.afterRange(l, body); why != "" {
		return why
	}
	if isHandler(f.pass.Info, l.Starter) {
		return "the goroutine is started by the HTTP handler " + FuncName(l.Starter) + ", once per request that needs it, and its owner could hold only the last one's state"
	}
	if f.inTimerCallback(l.Starter, l.Start) {
		return "the goroutine is started from a time.AfterFunc callback, which may run while or after the work is shut down"
	}
	// The names the fix adds (stopCleanup, cleanupDone) come from the work.
	l.Name = f.baseName(l)
	// Work started from sync.OnceFunc's function starts whenever the
	// function it returns is first called: as a Start method's, its state
	// is guarded, and the starter's own returns do not abandon it.
	once, startedBy := f.inOnceHelper(l.Starter.Body, l.Start)
	l.StartedBy = startedBy
	switch {
	case l.Method != nil && l.Method.Recv == nil:
		// go gcLoop(): a package function started by name.
		return f.planFunc(l)
	case l.Method != nil:
		// go s.loop(): the stop signal becomes a parameter of the method,
		// so every start of it must be known and changed with it.
		obj := f.pass.Info.Defs[l.Method.Name].(*types.Func)
		starts := f.methodStarts(obj)
		if name, i := ctxParam(f.pass.Info, l.Method.Type); name != "" {
			// The method takes its lifetime from the caller, unless the
			// context the starter hands it cannot be that: then the loop
			// keeps it for its calls and gets a stop signal of its own.
			why := f.givenCtx(l.Start.(*ast.GoStmt), i, l.Starter)
			// Either change to the method serves all its starts. A start
			// outside any declared function cannot be judged, and counts as
			// one that differs.
			for _, g := range starts {
				if fn := f.enclosing(g); g != l.Start && (fn == nil || (f.givenCtx(g, i, fn) == "") != (why == "")) {
					life, not := l.Start.Pos(), g.Pos()
					if why != "" {
						life, not = not, life
					}
					return "the loop's method " + obj.Name() + " is given a context that is the work's lifetime at " + shortPos(f.pass.Fset, life) +
						" and one that is not at " + shortPos(f.pass.Fset, not) + ", so no one change to " + obj.Name() + " suits both starts"
				}
			}
			if why == "" {
				l.Ctx = name
				return ""
			}
			l.note = "the context it is given " + why + ", so it is not the work's lifetime"
		}
		// Callers in other packages, or a method value (f := s.loop) or a
		// direct call here, would all need the new parameter too.
		if obj.Exported() {
			return "the loop's method " + obj.Name() + " is exported, so a stop parameter cannot be added"
		}
		if at := f.otherUse(obj, starts); at.IsValid() {
			return "the loop's method " + obj.Name() + " is also used at " + shortPos(f.pass.Fset, at) + ", not by a go statement, so a stop parameter cannot be added"
		}
		if len(starts) > 1 {
			if why := f.sharedStarts(obj, starts); why != "" {
				return why
			}
			l.Starts = starts
		}
		// The method's changes (defer close(s.cleanupDone)) name the
		// receiver.
		if recv := l.Method.Recv.List[0]; len(recv.Names) == 0 || recv.Names[0].Name == "_" {
			return "the loop's method has no receiver name"
		}
		// x is the value the method runs on: s in go s.loop(). A Start
		// method runs it on its receiver, a constructor on the value it
		// returns; either way someone holds x after the starter returns.
		x := ast.Unparen(l.Start.(*ast.GoStmt).Call.Fun).(*ast.SelectorExpr).X
		started := f.isReceiver(l.Starter, x)
		if !started && !f.isReturned(l.Starter, x) {
			if v := packageVar(f.pass, x); v != nil {
				// Reachable from everywhere, so that reason would be wrong:
				// the work is the package's, shared by every caller.
				return "the loop runs on the package variable " + v.Name() + ", which every caller of " + l.Starter.Name.Name + " shares; its work belongs to the package, which has no cleanup to stop it"
			}
			return "the value whose method runs the loop is not reachable once " + l.Starter.Name.Name + " returns"
		}
		// A Start method may run again, or while Shutdown runs, and so may
		// a once helper's function: their state is guarded.
		if why := f.setOwner(&l.Site, x, started || once); why != "" {
			return why
		}
		if once {
			return ""
		}
		return f.abandon(&l.Site, l.Start, x)
	}
	// From here on the goroutine is a function literal (go func() { ... }(),
	// or one a wrapper starts).
	// Work started under a package-level sync.Once runs once per process
	// and serves every value: it belongs to the package, never to the
	// value that happened to start it first.
	if f.inPackageOnce(l.Starter, l.Start) || f.onceVars[l.Starter] != nil {
		l.Owner = f.packageOwner(true)
		return ""
	}
	// A context in scope is the work's lifetime only where the code shows
	// it: the goroutine already reads it, or its cancel function is kept to
	// end the work later. A parameter the goroutine ignores may be a dial or
	// load timeout; then the owner's own state, which cannot end the work
	// early, is the safer choice, and only a free function with no owner
	// honours its caller's context.
	ctx, life, used := f.lifetimeCtx(l.Start, l.Lit)
	// A member of an errgroup.WithContext group lives as long as the group:
	// the group's context ends when ctx does or when a member fails.
	if gctx := f.groupCtx(l.Starter, l.Start); gctx != "" {
		ctx, life, used = gctx, lifeOwned, true
	}
	if ctx != "" && (used || life == lifeOwned) {
		l.Ctx = ctx
		return ""
	}
	// An ignored parameter passed over for an owner is said in the message,
	// so that a reader who meant it as the lifetime sees why it is not.
	if ctx != "" && life == lifeParam && (l.Starter.Recv != nil || f.returnedIn(l.Starter, l.Lit) != nil) {
		l.note = ctx + " is not taken as the work's lifetime: the goroutine never reads it, and it may be a timeout for " + FuncName(l.Starter) + " alone"
	}
	// A constructor: s := &Server{}; go func() { ... s.cleanup() ... }();
	// return s. The value it returns owns the work; taken for a value the
	// constructor makes, which nobody else holds yet, its state is not
	// guarded.
	if x := f.returnedIn(l.Starter, l.Lit); x != nil {
		if why := f.setOwner(&l.Site, x, once); why != "" {
			return why
		}
		if once {
			return ""
		}
		return f.abandon(&l.Site, l.Start, x)
	}
	// A Start-style method owns the work on its receiver, guarded: Start
	// may run again, or while Shutdown runs.
	if l.Starter.Recv != nil {
		recv := l.Starter.Recv.List[0]
		if len(recv.Names) != 1 || recv.Names[0].Name == "_" {
			return "the starting method has no receiver name"
		}
		if _, ok := f.pass.Info.TypeOf(recv.Type).(*types.Pointer); !ok {
			return "the starting method has a value receiver, so state stored in it would be lost"
		}
		return f.setOwner(&l.Site, recv.Names[0], true)
	}
	// A free function that returns no owner takes the context its caller
	// hands it as the lifetime, read or not, ahead of a value it is given.
	if ctx != "" && life == lifeParam {
		l.Ctx = ctx
		return ""
	}
	// A free function's work done for a value it is given belongs to that
	// value (startKeepalive(c) pings c); the function may run again for the
	// same value, so the state is guarded.
	if x := f.paramOwnerIn(l.Starter, l.Lit); x != nil {
		return f.setOwner(&l.Site, x, true)
	}
	// A free function or init: the state lives in package variables, which
	// hold one run's state. That is right only for work that starts once.
	if !f.runsOnce(l.Starter) {
		return FuncName(l.Starter) + " may run more than once and returns nothing to own the work, so package variables could stop only the last run"
	}
	// init runs exactly once, before main: its state needs no guard. The
	// other functions that run once are guarded all the same.
	l.Owner = f.packageOwner(l.Starter.Name.Name != "init")
	return ""
}

// paramOwnerIn returns the first use, inside lit, of a parameter of fn that
// points to a struct: the value a helper such as startKeepalive(c) works for.
func (f *loopFinder) paramOwnerIn(fn *ast.FuncDecl, lit *ast.FuncLit) ast.Expr {
	var owner ast.Expr
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		// A parameter of fn itself, declared within its signature: isParam
		// alone also holds for the literal's own parameters.
		if id, ok := n.(*ast.Ident); ok && owner == nil {
			if v, ok := f.pass.Info.Uses[id].(*types.Var); ok && f.isParam(v) && v.Pos() >= fn.Type.Pos() && v.Pos() < fn.Type.End() {
				if f.owner(id) != nil {
					owner = id
				}
			}
		}
		return owner == nil
	})
	return owner
}

// notLifetime says why the context e, handed to work that fn starts, cannot
// be the work's lifetime ("is cancelled when NewClient returns"), or "".
func (f *loopFinder) notLifetime(e ast.Expr, fn *ast.FuncDecl) string {
	life := lifeUnknown
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		life = f.ctxLifetime(f.pass.Info.Uses[e])
	case *ast.CallExpr:
		// go s.watch(context.Background()): the value made in the call.
		life = f.valueLife(ctxDef{fn: fn, value: e}, 0)
	}
	// Only what is known to be too short or endless is refused; a context
	// of unknown origin (a field, another package's) is given the benefit
	// of the doubt, as a parameter is.
	switch life {
	case lifeShort:
		return "is cancelled when " + FuncName(fn) + " returns or at a deadline"
	case lifeNever:
		return "can never be cancelled"
	}
	return ""
}

// lifetimeCtx returns the context variable visible at start that may be the
// lifetime of the work lit does: its name, how long it lives, and whether lit
// reads it. Contexts that end when the starter returns, or never, are
// skipped; one that lit reads is preferred.
func (f *loopFinder) lifetimeCtx(start ast.Node, lit *ast.FuncLit) (name string, life lifetime, used bool) {
	for _, v := range f.ctxsInScope(start) {
		l := f.ctxLifetime(v)
		if l == lifeShort || l == lifeNever {
			continue
		}
		u := false
		ast.Inspect(lit.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && f.pass.Info.Uses[id] == v {
				u = true
			}
			return !u
		})
		if name == "" || (u && !used) {
			name, life, used = v.Name(), l, u
		}
	}
	return name, life, used
}

// setOwner makes the value x names own l, if its type can, and decides
// which of the type's methods will stop the work.
func (f *loopFinder) setOwner(l *Site, x ast.Expr, guarded bool) string {
	l.Owner = f.owner(x)
	if l.Owner == nil {
		return "the loop's owner is not a pointer to a struct type declared in this package"
	}
	l.Owner.Guarded = guarded
	// A Start method that starts this work is not what undoes the cleanup:
	// it starts the work again after it (see undoneBy).
	var starters []*types.Func
	if fn, ok := f.pass.Info.Defs[l.Starter.Name].(*types.Func); ok && l.Starter.Recv != nil {
		starters = append(starters, fn)
	}
	// Why a cleanup only pauses is not needed here: Cleanup stays nil, and
	// a Shutdown is generated beside the pausing method.
	l.Owner.Cleanup, _ = f.cleanup(l.Owner.Type, starters)
	// A value-receiver Close works on a copy: a mutex there would guard
	// nothing, and vet's copylocks reports the copy.
	if c := l.Owner.Cleanup; c != nil && guarded {
		if _, ptr := f.pass.Info.TypeOf(c.Recv.List[0].Type).(*types.Pointer); !ptr {
			return c.Name.Name + " has a value receiver, so the state " + FuncName(l.Starter) + " stores cannot be guarded against it"
		}
	}
	l.Owner.Existing = f.existingStop(l.Owner.Type, starters)
	// Type's own cleanup comes first; a promoted one is wrapped only when
	// Type declares none that ends its life.
	if l.Owner.Cleanup == nil {
		l.Owner.Promoted, l.Owner.Via = f.promotedCleanup(l.Owner.Type)
	}
	return ""
}

// groupCtx returns the context that errgroup.WithContext made together with
// the group whose Go method start calls, or "".
func (f *loopFinder) groupCtx(fn *ast.FuncDecl, start ast.Stmt) string {
	es, ok := start.(*ast.ExprStmt)
	if !ok {
		return ""
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return ""
	}
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Go" {
		return ""
	}
	// g, gctx := errgroup.WithContext(ctx) in fn, for the g of g.Go.
	group := f.objectOf(sel.X)
	name := ""
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 2 || len(as.Rhs) != 1 || name != "" {
			return name == ""
		}
		c, ok := ast.Unparen(as.Rhs[0]).(*ast.CallExpr)
		if !ok {
			return true
		}
		// Any package whose path ends in /errgroup, as wrapped accepts its
		// Go.
		if callee := calleeFunc(f.pass.Info, c); callee == nil || callee.Name() != "WithContext" || callee.Pkg() == nil || !strings.HasSuffix(callee.Pkg().Path(), "/errgroup") {
			return true
		}
		if f.objectOf(as.Lhs[0]) == group {
			if id, ok := as.Lhs[1].(*ast.Ident); ok && id.Name != "_" {
				name = id.Name
			}
		}
		return name == ""
	})
	return name
}

// afterRange decides what becomes of the code after a ranging loop, which
// the fix turns into for { select ... }: a range over time.Tick or a
// Ticker's C never ends, so a return right after it is dead and is
// removed, and other statements there would become unreachable code that
// go vet reports. (A range over another channel still ends when it is
// closed: the rewrite receives with ok and breaks.) It returns why the fix
// is refused, or "".
func (f *loopFinder) afterRange(l *Loop, body *ast.BlockStmt) string {
	rs, ok := l.Stmt.(*ast.RangeStmt)
	if !ok || l.leaves {
		return "" // a failure that breaks out runs the code after the loop
	}
	// A labeled loop is held in its block by the labeled statement.
	var stmt ast.Stmt = rs
	ast.Inspect(body, func(n ast.Node) bool {
		if ls, ok := n.(*ast.LabeledStmt); ok && ls.Stmt == ast.Stmt(rs) {
			stmt = ls
		}
		return stmt == ast.Stmt(rs)
	})
	block := enclosingBlock(body, stmt)
	if block == nil {
		return ""
	}
	i := slices.Index(block.List, stmt)
	rest := block.List[i+1:]
	if len(rest) == 0 {
		return ""
	}
	// Waits[0] is the range itself (analyse puts it first). Only a lone
	// return of constants (return, return nil) is removed: it names no
	// variable, so removing it cannot leave one unused.
	endless := l.Waits[0].Kind == RangeTick || f.isTickerC(rs.X)
	if ret, ok := rest[0].(*ast.ReturnStmt); ok && len(rest) == 1 && endless && constantArgs(f.pass.Info, &ast.CallExpr{Args: ret.Results}) {
		l.DeadReturn = ret
		return ""
	}
	if endless {
		return "the statements after the loop never run, and the fix would leave them unreachable (go vet reports that)"
	}
	return ""
}

// isTickerC reports whether e is the C of a *time.Ticker, a channel that
// is never closed.
func (f *loopFinder) isTickerC(e ast.Expr) bool {
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "C" && isNamed(derefType(f.pass.Info.TypeOf(sel.X)), "time", "Ticker")
}

// isHandler reports whether fn serves HTTP requests: it takes an
// http.ResponseWriter and an *http.Request.
func isHandler(info *types.Info, fn *ast.FuncDecl) bool {
	w, r := false, false
	for _, field := range fn.Type.Params.List {
		t := info.TypeOf(field.Type)
		w = w || isNamed(t, "net/http", "ResponseWriter")
		r = r || isNamed(derefType(t), "net/http", "Request")
	}
	return w && r
}

// ctxParam returns the name and index of a context.Context parameter of
// ft, or "". A context named _ cannot be read, so it is none.
func ctxParam(info *types.Info, ft *ast.FuncType) (string, int) {
	// i counts arguments: a field declares one per name, and one when its
	// parameter is unnamed.
	i := 0
	for _, field := range ft.Params.List {
		if isNamed(info.TypeOf(field.Type), "context", "Context") {
			for _, name := range field.Names {
				if name.Name != "_" {
					return name.Name, i
				}
				i++
			}
			continue
		}
		i += max(len(field.Names), 1)
	}
	return "", 0
}

// ctxsInScope returns the context.Context variables visible at n, the
// innermost first. A name shadowed by an inner declaration is left out.
func (f *loopFinder) ctxsInScope(n ast.Node) []*types.Var {
	var out []*types.Var
	seen := map[string]bool{}
	scope := f.pass.Pkg.Scope().Innermost(n.Pos())
	for ; scope != nil && scope != f.pass.Pkg.Scope(); scope = scope.Parent() {
		for _, name := range scope.Names() {
			obj := scope.Lookup(name)
			// Declared after n is not yet in scope at n; a name seen in an
			// inner scope hides the outer one, whatever its type.
			if obj.Pos() >= n.Pos() || seen[name] {
				continue
			}
			seen[name] = true
			if v, ok := obj.(*types.Var); ok && name != "_" && isNamed(v.Type(), "context", "Context") {
				out = append(out, v)
			}
		}
	}
	return out
}

// owner returns the owner of a loop whose value expr names: a struct type
// declared in this package, reached through a pointer.
func (f *loopFinder) owner(expr ast.Expr) *Owner {
	t := f.pass.Info.TypeOf(expr)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	} else {
		return nil
	}
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || named.Obj().Pkg() != f.pass.Pkg {
		return nil
	}
	if _, ok := named.Underlying().(*types.Struct); !ok {
		return nil
	}
	// The fix adds fields to the type's declaration, so the declaration
	// must be in view; a generic type's fields go on its one declaration.
	spec := f.typeSpec(named.Origin().Obj())
	if spec == nil {
		return nil
	}
	return &Owner{Type: named.Origin(), Spec: spec, Expr: expr}
}

// typeSpec returns the declaration of the type obj in the package's files,
// or nil.
func (f *loopFinder) typeSpec(obj *types.TypeName) *ast.TypeSpec {
	for _, file := range f.pass.AllFiles {
		for _, decl := range file.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					if f.pass.Info.Defs[ts.Name] == obj {
						return ts
					}
				}
			}
		}
	}
	return nil
}

// inHeader reports whether one of l's waits that is no header wait lies in
// the init or post statement of a for statement of the loop.
func inHeader(l *Loop) bool {
	found := false
	ast.Inspect(l.Stmt, func(n ast.Node) bool {
		fs, ok := n.(*ast.ForStmt)
		if !ok || found {
			return !found
		}
		for _, h := range []ast.Stmt{fs.Init, fs.Post} {
			for _, w := range l.Waits {
				if h != nil && w.Header == nil && w.Node.Pos() >= h.Pos() && w.Node.End() <= h.End() {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
