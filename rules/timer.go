package rules

import (
	"go/ast"
	"go/types"
	"strings"
)

const discardedTimer = "discarded-timer"

// A Timer is the fix plan for a time.AfterFunc whose *Timer is discarded.
type Timer struct {
	Site
	Stmt ast.Stmt      // the statement that discards the timer
	Call *ast.CallExpr // the time.AfterFunc call
}

// DiscardedTimer reports time.AfterFunc timers that a long-lived type (or
// init) starts and then loses, so that nothing can stop them.
//
//	time.AfterFunc(d, c.refresh)   // in NewCache, (*Cache).Start or init
//	=> c.refreshTimer = time.AfterFunc(d, c.refresh), stopped by Shutdown
var DiscardedTimer = &Rule{
	// Needs: nothing is reported in package main (nor, by findTimers, in a
	// cmd/ tree), and only on a call of time.AfterFunc itself.
	Name:  discardedTimer,
	Needs: Needs{NotMain: true, Calls: []string{"time.AfterFunc"}},
	Doc: Doc{
		Title: "time.AfterFunc timer discarded by a long-lived type",
		Text: `time.AfterFunc returns the *Timer that is the only way to cancel the call. A
constructor, Start method or init that discards it schedules work that nothing
can cancel: tests that build the type see the callback fire after they ended,
and a server that shuts down still runs it.

The fix stores the timer in a field (or a package variable) and stops it in the
type's cleanup method, adding Shutdown when there is none. Stop does not wait
for a callback that is already running. A callback that arms a new timer for
itself is reported without a fix: the next timer would be discarded again.`,
		Before: `func NewCache() *Cache {
	c := &Cache{}
	time.AfterFunc(time.Minute, c.refresh)
	return c
}`,
		After: `func NewCache() *Cache {
	c := &Cache{}
	c.refreshTimer = time.AfterFunc(time.Minute, c.refresh)
	return c
}

// Shutdown stops the background work started by NewCache and waits for it to end.
// It is safe to call more than once.
func (c *Cache) Shutdown() {
	if c.refreshTimer != nil {
		c.refreshTimer.Stop()
	}
}`,
	},
	Find: findTimers,
}

// startLike are the prefixes of method names that start long-lived work:
// StartPolling and ConnectAll count as well as Start. timerName cuts them
// off to name the timer (StartPolling gives polling).
var startLike = []string{"Start", "Open", "Init", "Run", "Serve", "Listen", "Connect", "Begin"}

// findTimers reports the discarded timers of every function of the
// package. A package whose code runs for the life of the process has no
// later moment at which a timer outlives its owner, so it is skipped.
func findTimers(pass *Pass) []*Finding {
	if processWide(pass.Pkg) {
		return nil
	}
	f := newLoopFinder(pass)
	var out []*Finding
	for fn := range funcs(pass.Files) {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				return false // a callback's own timers are the callback's business
			}
			// Statements at any depth: a discard under an if or in a case
			// counts too, and timer refuses one inside a loop.
			stmt, ok := n.(ast.Stmt)
			if !ok {
				return true
			}
			if call := discarded(pass.Info, stmt); call != nil {
				if finding := f.timer(fn, stmt, call); finding != nil {
					out = append(out, finding)
				}
			}
			return true
		})
	}
	return out
}

// discarded returns the time.AfterFunc call whose result stmt throws away:
// the call as a statement, or assigned to _.
func discarded(info *types.Info, stmt ast.Stmt) *ast.CallExpr {
	// Only a call as a statement, or assigned to _, discards the timer; one
	// kept in any variable, even a local that is then dropped, is not
	// reported.
	var e ast.Expr
	switch s := stmt.(type) {
	case *ast.ExprStmt:
		e = s.X
	case *ast.AssignStmt:
		if len(s.Lhs) == 1 && len(s.Rhs) == 1 {
			if id, ok := s.Lhs[0].(*ast.Ident); ok && id.Name == "_" {
				e = s.Rhs[0]
			}
		}
	}
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if ok && isAfterFunc(info, call) {
		return call
	}
	return nil
}

// isAfterFunc reports whether call is time.AfterFunc(d, f) with its two
// arguments written out, so that its callers may read call.Args[1], the
// callback. time.AfterFunc(pair()), one argument of two values, has no
// callback to read and is not one.
func isAfterFunc(info *types.Info, call *ast.CallExpr) bool {
	return len(call.Args) == 2 && isPkgCall(info, call, "time", "AfterFunc")
}

// timer reports a discarded timer in fn if fn is long-lived work's starter.
func (f *loopFinder) timer(fn *ast.FuncDecl, stmt ast.Stmt, call *ast.CallExpr) *Finding {
	t := &Timer{Site: Site{Starter: fn}, Stmt: stmt, Call: call}
	var why string
	switch {
	// init runs once: the package owns the timer, and its state needs no
	// guard.
	case fn.Recv == nil && fn.Name.Name == "init":
		t.Owner = f.packageOwner(false)
	case fn.Recv != nil:
		// Only a method named as starting long-lived work starts the
		// type's work; an AfterFunc in an ordinary method is not reported.
		// A command's Run runs once for the process, as main does.
		if !hasPrefix(fn.Name.Name, startLike) || isCommandRun(f.pass.Info, fn) {
			return nil
		}
		// The fix stores the timer in a field of the receiver
		// (c.refreshTimer = ...), guarded: Start may run again, or while
		// Shutdown runs.
		recv := fn.Recv.List[0]
		if len(recv.Names) != 1 || recv.Names[0].Name == "_" {
			why = "the starting method has no receiver name"
		} else if _, ok := f.pass.Info.TypeOf(recv.Type).(*types.Pointer); !ok {
			why = "the starting method has a value receiver, so a timer stored in it would be lost"
		} else {
			why = f.setOwner(&t.Site, recv.Names[0], true)
		}
	default:
		// A plain function starts the work only as the constructor of the
		// callback's owner, which then holds the timer in a field:
		// time.AfterFunc(d, c.refresh) in a NewCache that returns c.
		x := f.returnedUse(fn, call.Args[1])
		if x == nil {
			return nil // not a constructor of the callback's owner
		}
		why = f.setOwner(&t.Site, x, false)
	}
	if why == "" && inLoop(fn.Body, stmt) {
		why = "the timer is set inside a loop, so one value owns several of them"
	}
	// A chain of timers: the field would hold only the first, and Stop
	// would miss every timer the callback arms after it fired.
	if why == "" && f.rearms(call.Args[1]) {
		why = "the callback arms a new timer for itself, which would be discarded again"
	}
	t.Name = f.timerName(call.Args[1], fn)
	finding := &Finding{
		Rule:    discardedTimer,
		Pos:     call.Pos(),
		Message: "time.AfterFunc in " + FuncName(fn) + " discards its *Timer, so nothing can stop it",
	}
	if why != "" {
		finding.Unfixable = why
	} else {
		finding.Fix = t
	}
	return finding
}

// returnedUse returns the first use inside e of a pointer variable that
// the constructor fn returns.
func (f *loopFinder) returnedUse(fn *ast.FuncDecl, e ast.Expr) ast.Expr {
	// c in c.refresh, or in func() { c.refresh(ctx) }: the value whose
	// work the callback does.
	returned := f.returned(fn)
	var owner ast.Expr
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && owner == nil {
			if obj := f.pass.Info.Uses[id]; obj != nil && returned[obj] {
				if _, ok := obj.Type().(*types.Pointer); ok {
					owner = id
				}
			}
		}
		return owner == nil
	})
	return owner
}

// callback returns the body of a callback: a function literal's, or the
// declaration's of a function or method of this package.
func (f *loopFinder) callback(e ast.Expr) (string, *ast.BlockStmt) {
	switch e := ast.Unparen(e).(type) {
	// A literal has no name of its own; timerName takes the first call in
	// its body instead.
	case *ast.FuncLit:
		return "", e.Body
	case *ast.Ident, *ast.SelectorExpr:
		// calleeOf gives the generic declaration for a method of an
		// instantiated type: the one declaration the package holds.
		if fn := calleeOf(f.pass.Info, e); fn != nil {
			if decl := f.methods[fn]; decl != nil {
				return fn.Name(), decl.Body
			}
			// No declaration in the package (another package's function,
			// an interface method): the name still names the timer, but
			// there is no body to read.
			return fn.Name(), nil
		}
	}
	return "", nil
}

// rearms reports whether a callback calls time.AfterFunc itself.
func (f *loopFinder) rearms(e ast.Expr) bool {
	// Anywhere in the body, under a condition too: even a chain that may
	// end arms timers the stored one does not stop. A callback without a
	// body in view is taken not to re-arm.
	_, body := f.callback(e)
	found := false
	if body != nil {
		ast.Inspect(body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isPkgCall(f.pass.Info, call, "time", "AfterFunc") {
				found = true
			}
			return !found
		})
	}
	return found
}

// timerName names a timer after its callback (c.refresh gives "refresh"),
// or else after the method that sets it (StartPolling gives "polling").
func (f *loopFinder) timerName(e ast.Expr, starter *ast.FuncDecl) string {
	name, body := f.callback(e)
	if name == "" && body != nil {
		name = f.firstCall(body)
	}
	// refreshAll gives refresh; a generic name (run, work) says nothing of
	// the work, and the starter's name is tried instead.
	if name = lowerFirst(firstWord(name)); name != "" && !genericNames[name] {
		return name
	}
	// StartPolling gives polling; Start alone, or init, leaves nothing to
	// name the timer after.
	for _, p := range startLike {
		if rest, ok := strings.CutPrefix(starter.Name.Name, p); ok && rest != "" {
			return lowerFirst(firstWord(rest))
		}
	}
	return "timer"
}

// hasPrefix reports whether s starts with one of prefixes.
func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
