package rules

import (
	"go/ast"
	"go/types"
	"slices"
)

// A Loop is the fix plan for one goroutine whose loop can never be stopped.
type Loop struct {
	Site
	// Start is the statement in Starter that starts the goroutine: a go
	// statement, or a call to a wrapper such as errgroup's Go.
	Start ast.Stmt
	Lit   *ast.FuncLit // the goroutine's function when it is a literal
	// Method is the goroutine's function when it is started by name: a
	// method (go s.loop()), or a package function (go gcLoop()).
	Method *ast.FuncDecl
	// Stmt is the loop itself: an *ast.ForStmt or *ast.RangeStmt, or for a
	// loop made with goto, a block (not in the syntax tree) holding the
	// statements from the label to the goto back to it.
	Stmt  ast.Stmt
	Waits []Wait // where the loop blocks; each becomes a select on the stop signal

	// ErrResult is set when the goroutine's function returns an error (as
	// errgroup's does): the stop case returns nil.
	ErrResult bool

	// Ctx names a context.Context already in scope at Start. When set the loop
	// is made to honour it, and Owner is nil: no state or method is added.
	Ctx string

	// Signal is the channel registered with signal.Notify that the loop
	// reads, when it reads one; the fix also undoes the registration.
	Signal ast.Expr

	// Starts are the go statements that start Method (Start among them)
	// when several constructors do, each on a value it makes itself, so
	// that every value runs the loop once. Their fixes share one stop state
	// and one change to Method, so they are made together or not at all.
	Starts []*ast.GoStmt

	// DeadReturn is a return right after a range that never ends (over
	// time.Tick or a Ticker's C): it never ran, and once the range becomes
	// for { select ... } it is unreachable code, so the fix removes it.
	DeadReturn *ast.ReturnStmt

	note   string     // a judgement the plan made, for the finding's message
	timed  bool       // some wait is on time or on signals, not only on other channels
	blocks []ast.Node // channel operations a stop signal cannot interrupt
	// via are the package's functions the loop calls that wait for time
	// (for { p.wait(); ... }): the fix would have to reach into them.
	via []*types.Func
	// failing are the calls whose failure is the loop's only way out; the
	// fix keeps those exits. leaves is set when one of them leaves the loop
	// (a break) rather than the function: the code after it then runs.
	failing []*ast.CallExpr
	leaves  bool
}

// An Owner holds a loop's stop and done state: a named struct type, which
// gets fields and a Shutdown method, or (Type nil) the package, which gets
// variables and a Shutdown function.
type Owner struct {
	Type *types.Named
	Spec *ast.TypeSpec // the declaration of Type
	Expr ast.Expr      // names the owner value where the work starts: s in `go s.loop()`

	// Guarded is set when the starter may run again, or concurrently with
	// Shutdown (a Start method, a free function): the state then needs a
	// mutex, and the goroutine closes its own done channel.
	Guarded bool

	// Cleanup is the method of Type that the fix extends to stop the work:
	// one of CleanupNames that ends the value's life. It is nil when a new
	// method is generated (Type has none, or its Stop only pauses).
	Cleanup *ast.FuncDecl
	// Promoted is set when Type's cleanup is promoted from an embedded
	// field of a type of this package (a Queue whose Close is its
	// *journal's): the fix gives Type a method of that name and signature
	// that stops the work and then calls the embedded one.
	Promoted *ast.FuncDecl
	// Via is the embedded field Promoted comes through.
	Via string

	// Existing is set when Type already has a stop signal that its way out
	// fires: the loop then honours it, and no state or method is added.
	Existing *Existing
}

// Existing is a stop mechanism an owner type already has: a channel field
// its cleanup closes, or a context field whose cancel function it calls,
// and the WaitGroup field that cleanup waits on.
type Existing struct {
	Signal string // the field: "quit", or "ctx" (then Ctx is set)
	Ctx    bool   // Signal is a context.Context: the loop receives from its Done
	Group  string // the sync.WaitGroup field the cleanup waits on, or ""
	By     string // the method that fires the signal: "stopping", "Close"
}

// WaitKind says how a loop waits for time to pass.
type WaitKind int

// The ways a loop waits.
const (
	RangeTick  WaitKind = iota // for range time.Tick(d)
	RangeChan                  // for range ticker.C, or any other channel of time.Time
	Sleep                      // time.Sleep(d) as a statement
	Recv                       // <-ch as a statement, ch a channel of time.Time or the owner's
	RecvAssign                 // v := <-ch or v = <-ch, ch a channel of time.Time or the owner's
	Select                     // a select without default
	Send                       // ch <- v as a statement, ch a channel the owner made
)

// A Wait is one place where a loop blocks.
type Wait struct {
	Kind WaitKind
	Node ast.Node // *ast.RangeStmt, *ast.ExprStmt, *ast.AssignStmt, *ast.SendStmt or *ast.SelectStmt
	// Header is the for statement whose init or post statement Node is
	// (for ; ; time.Sleep(d)): the wait moves before the loop, or to the
	// end of its body, since a select cannot stand in a loop's header.
	Header *ast.ForStmt

	// op is the channel operation, for a send or a receive on a channel
	// that is no channel of time: the channel is the owner's (see
	// chanWaits).
	op ast.Node
}

// UnstoppableLoop reports goroutines whose timed loop has no way out.
//
//	go func() { for range time.Tick(d) { work() } }()   // in NewT or (*T).Start
//	=> a stop case on every wait, stop/done fields on T, and T.Shutdown
var UnstoppableLoop = &Rule{
	Name: unstoppableLoop,
	// A goroutine whose loop waits on time or on a signal channel, a
	// time.AfterFunc callback that re-arms itself, or an exported function
	// that blocks in such a loop. In package main only a goroutine handed
	// a context it ignores is reported.
	Needs: Needs{MainGoCalls: true, DependsOn: []string{"time", "os/signal"}, Go: true, BlocksForever: true, Calls: []string{"time.AfterFunc"}},
	Doc: Doc{
		Title: "Goroutine loops on a timer with no way to stop it",
		Text: `A goroutine that loops on time.Tick, a Ticker, time.After or time.Sleep and never
returns wakes up for the life of the process and keeps everything it references
alive. Tests that build the type leak it, and a server cannot shut down cleanly.

The fix keeps the timing (a ticker stays fixed-rate, a sleep stays fixed-delay)
and the meaning of break, continue and the tick value. Every wait becomes a
select that also returns when the work is stopped. The stop function and a
channel closed when the goroutine returns live in fields of the type that owns
the goroutine, and a Shutdown method (or the type's existing Close, Stop,
Shutdown or Destroy) stops the work and waits for it to end. When a
context.Context is already in scope, the loop honours it instead.`,
		Before: `func NewServer() *Server {
	s := &Server{}
	go func() {
		for range time.Tick(time.Minute) {
			s.cleanup()
		}
	}()
	return s
}`,
		After: `func NewServer() *Server {
	s := &Server{}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopCleanup, s.cleanupDone = cancel, make(chan struct{})
	go func() {
		defer close(s.cleanupDone)
		ticker := time.NewTicker(time.Minute)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			s.cleanup()
		}
	}()
	return s
}

// Shutdown stops the background work started by NewServer and waits for it to end.
// It is safe to call more than once.
func (s *Server) Shutdown() {
	if s.stopCleanup != nil {
		s.stopCleanup()
		<-s.cleanupDone
	}
}`,
	},
	Find: findLoops(unstoppableLoop),
}

const unstoppableLoop = "unstoppable-loop"

// CleanupNames are the methods, in order of preference, that an owner type
// may already have for releasing its resources. A fix extends the first one
// found instead of adding Shutdown.
var CleanupNames = []string{"Shutdown", "Close", "Stop", "Destroy"}

// findLoops returns the loop findings of one rule; the analysis they share
// runs once per package.
func findLoops(rule string) func(*Pass) []*Finding {
	return func(pass *Pass) []*Finding {
		all := memoized(pass, unstoppableLoop, analyseLoops)
		var out []*Finding
		for _, f := range all {
			if f.Rule == rule {
				out = append(out, f)
			}
		}
		return out
	}
}

// analyseLoops finds, in one package, the work of every rule that shares
// the loop analysis: unstoppable-loop's goroutines, re-arming timers and
// blocking functions, and unstopped-signal's loops and registrations.
// findLoops then hands each rule its own.
func analyseLoops(pass *Pass) []*Finding {
	// Work in package main, or a cmd/ tree, lives as long as the process;
	// only a context handed in and ignored is reported there.
	pkgWide := processWide(pass.Pkg)
	f := finder(pass)
	var out []*Finding
	read := map[types.Object]bool{} // signal channels some reported loop reads
	starters := slices.Collect(funcs(pass.Files))
	// var startJanitor = sync.OnceFunc(func() { go ... }) starts work in no
	// function declaration; onceStarters gives each such literal a stand-in.
	starters = append(starters, f.onceStarters()...)
	for _, fn := range starters {
		if pkgWide {
			out = append(out, f.ignoredCtxIn(fn, fn.Body)...)
			continue
		}
		// A timer chain in a function that only command actions run lasts
		// as long as the command.
		if !f.processWide(fn, fn.Body) {
			out = append(out, f.rearming(fn)...)
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			var found []*Finding
			// Code inside a command's action (RunE: func(...) error { go
			// ... }) lives as long as the process, as main does: only a
			// context it hands on and ignores is reported there, and its
			// goroutines are not taken for an owner's work.
			if stmt, ok := n.(ast.Stmt); ok && f.processWide(fn, stmt) {
				out = append(out, f.ignoredCtxIn(fn, stmt)...)
				return false
			}
			switch n := n.(type) {
			case *ast.CallExpr:
				found = f.timerCallback(fn, n)
			case *ast.GoStmt:
				found = f.goroutine(fn, n, n.Call.Fun)
			case *ast.ExprStmt:
				// g.Go(func() error { ... }) or the package's own
				// s.spawn(name, func() { ... }): a goroutine started
				// through a wrapper, whose start is the whole statement.
				if call, ok := n.X.(*ast.CallExpr); ok {
					if lit := f.wrapped(call); lit != nil {
						found = f.goroutine(fn, n, lit)
						// A wrapper that returns early (if s.disabled[name] {
						// return }) would leave the done channel open, and
						// the generated Shutdown would wait on it for ever.
						if w := f.skipping(call); w != "" {
							for _, finding := range found {
								if finding.Fix != nil {
									finding.Fix, finding.Unfixable = nil, w+" may return without starting the function, and its done signal would then never come"
								}
							}
						}
					}
				}
			}
			{
				// A reported loop speaks for the signal channel it reads:
				// the registrations below leave that channel alone.
				for _, finding := range found {
					out = append(out, finding)
					if finding.signal != nil {
						read[finding.signal] = true
					}
				}
			}
			return true
		})
	}
	if pkgWide {
		return out
	}
	// Every goroutine of the package has been read: only now can the
	// starts of a shared loop method be judged together.
	Together(pass.Fset, out)
	out = append(out, f.blockingFuncs()...)
	// Registrations whose channel no goroutine loop reads in a way we can follow.
	// This must come after the walk above, which fills read and f.trapped.
	for obj, call := range f.notified {
		// Undone somewhere, read by a loop reported above, read by the
		// process's own signal trap, or registered in a file the pass does
		// not report on.
		if f.sigStopped[obj] || read[obj] || f.trapped[obj] || !f.inFiles(call) {
			continue
		}
		if fn := f.enclosing(call); fn != nil && f.processWide(fn, call) {
			continue // a command's registration lasts as long as the command
		}
		if f.trapReaders(obj, call) {
			continue // the process's signal trap: it ends the process, not the other way round
		}
		how := "signal.Notify"
		// Registered through a helper (watchForSignal(reload, syscall.SIGHUP)):
		// the message names the helper, which is what the reported line calls.
		if !isPkgCall(f.pass.Info, call, "os/signal", "Notify") {
			how = "signal.Notify (in " + calleeFunc(f.pass.Info, call).Name() + ")"
		}
		finding := &Finding{
			Rule:      unstoppedSignal,
			Pos:       call.Pos(),
			Message:   how + " registers " + obj.Name() + " for the life of the process and nothing calls signal.Stop",
			Related:   []Note{{obj.Pos(), obj.Name() + " is declared here; no goroutine loop leakfix can stop reads it"}},
			Unfixable: unreadSignal,
		}
		// A reader that already returns on its owner's stop (case <-s.quit:
		// return) needs only signal.Stop on its way out.
		if plan, why := f.signalStop(obj, call); plan != nil {
			finding.Message = how + " registers " + obj.Name() + " and the goroutine that reads it returns without calling signal.Stop"
			finding.Related = []Note{{plan.Lit.Pos(), "this goroutine reads " + obj.Name() + " and returns when it is stopped"}}
			finding.Unfixable, finding.Fix = "", plan
		} else if why != "" {
			finding.Unfixable = why
		}
		out = append(out, finding)
	}
	return out
}

// unreadSignal is why a registration no loop reads is not fixed. The
// message names the channel; this does not, so that a summary of a whole
// codebase counts them together.
const unreadSignal = "the channel is not read by a goroutine loop leakfix can stop; call signal.Stop where the program stops listening"

// inFiles reports whether n lies in a file the pass reports on.
func (f *loopFinder) inFiles(n ast.Node) bool {
	for _, file := range f.pass.Files {
		if file.FileStart <= n.Pos() && n.Pos() < file.FileEnd {
			return true
		}
	}
	return false
}

type loopFinder struct {
	pass         *Pass
	methods      map[*types.Func]*ast.FuncDecl  // method and function declarations of the package
	closed       map[types.Object]bool          // variables and fields passed to close()
	uses         map[types.Object]int           // how often each function or method is referenced
	notified     map[types.Object]*ast.CallExpr // channels passed to signal.Notify, and the call
	wrappers     map[*types.Func][]int          // functions that run some of their arguments in a goroutine
	skips        map[*types.Func]bool           // wrappers that may return without starting their function
	process      []ast.Node                     // command actions, which live as long as the process
	processFuncs []*types.Func                  // functions used as command actions
	processOnly  map[*types.Func]bool           // functions that run only for the life of the process
	trapped      map[types.Object]bool          // signal channels read by the process's own signal trap
	sigStopped   map[types.Object]bool          // channels passed to signal.Stop
	// sigHelpers are the functions that pass one of their parameters to
	// signal.Notify or signal.Stop (func watch(c chan os.Signal) {
	// signal.Notify(c, ...) }); sigParamObjs are those parameters.
	sigHelpers   map[*types.Func][]sigParam
	sigParamObjs map[types.Object]bool
	life         lifetimeFacts // where contexts come from, which channels can fire
	mfacts       map[*types.Func]*methodFacts
	// onceVars maps the declarations standing for the function literals
	// of package variables' sync.OnceFunc (see onceStarters) to the
	// variables' declaration.
	onceVars map[*ast.FuncDecl]*ast.GenDecl
	starts   map[*types.Func][]*ast.GoStmt // go statements that start each method; see methodStarts
	written  map[*types.Var]bool           // package variables functions set; see pkgWritten
	stopped  map[types.Object]bool         // variables and fields whose Stop is called; see stoppedTimers
}

// calleeFunc returns the function or method a call calls, or nil.
func calleeFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	return calleeOf(info, call.Fun)
}

// finder returns the package's loop finder, which several rules share,
// making it on first use.
func finder(pass *Pass) *loopFinder {
	return memoized(pass, "finder", newLoopFinder)
}

// memoized returns what compute gives for pass, computing it only the first
// time key is asked for in the package: the analyses that several rules
// share run once per package. compute runs before the memo is touched, so
// it may itself ask for another key (analyseLoops asks for the finder).
func memoized[T any](pass *Pass, key string, compute func(*Pass) T) T {
	if v, ok := pass.memo[key].(T); ok {
		return v
	}
	v := compute(pass)
	if pass.memo == nil {
		pass.memo = map[string]any{}
	}
	pass.memo[key] = v
	return v
}

// newLoopFinder indexes the package of pass. Its facts cover AllFiles, so
// that a channel closed or a function called in a file not reported on
// still counts.
func newLoopFinder(pass *Pass) *loopFinder {
	f := &loopFinder{
		pass:         pass,
		methods:      map[*types.Func]*ast.FuncDecl{},
		closed:       map[types.Object]bool{},
		uses:         map[types.Object]int{},
		notified:     map[types.Object]*ast.CallExpr{},
		sigStopped:   map[types.Object]bool{},
		wrappers:     map[*types.Func][]int{},
		skips:        map[*types.Func]bool{},
		sigHelpers:   map[*types.Func][]sigParam{},
		sigParamObjs: map[types.Object]bool{},
		life:         newLifetimeFacts(),
		mfacts:       map[*types.Func]*methodFacts{},
		onceVars:     map[*ast.FuncDecl]*ast.GenDecl{},
		processOnly:  map[*types.Func]bool{},
		trapped:      map[types.Object]bool{},
		starts:       map[*types.Func][]*ast.GoStmt{},
	}
	// processCalls reads the declarations and command actions that index
	// records.
	f.index()
	f.processCalls()
	return f
}

// index records the package-wide facts the finder needs: declarations,
// channels that something closes, and how often each function is referenced.
func (f *loopFinder) index() {
	info := f.pass.Info
	// Declarations first: the walk below needs every signal helper known
	// (sigHelpers, sigParamObjs) before it reads the calls of any file.
	for _, file := range f.pass.AllFiles {
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok {
				if obj, ok := info.Defs[fn.Name].(*types.Func); ok {
					f.methods[obj] = fn
					if fn.Body != nil {
						if params := goParams(info, fn); params != nil {
							f.wrappers[obj] = params
							f.skips[obj] = !startsAlways(fn)
						}
						f.signalParams(obj, fn)
						f.indexLifetimes(fn)
					}
				}
			}
		}
	}
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				if obj, ok := info.Uses[n].(*types.Func); ok {
					f.uses[obj.Origin()]++ // a generic method is used through its instances
				}
			case *ast.CompositeLit:
				f.commandActions(n)
			case *ast.CallExpr:
				if len(n.Args) > 0 {
					// A helper's parameter is its caller's channel: the
					// registration is recorded at the helper's call instead.
					if obj := f.objectOf(n.Args[0]); obj != nil && !f.sigParamObjs[obj] {
						switch {
						case isPkgCall(info, n, "os/signal", "Notify"):
							f.notified[obj] = n
						case isPkgCall(info, n, "os/signal", "Stop"):
							f.sigStopped[obj] = true
						}
					}
				}
				// watchForSignal(reload, sig) registers reload, the caller's
				// channel. A direct signal.Notify of the same channel is
				// kept over a helper's call as the place to report.
				if callee := calleeFunc(info, n); callee != nil {
					for _, p := range f.sigHelpers[callee] {
						if p.index >= len(n.Args) {
							continue
						}
						if obj := f.objectOf(n.Args[p.index]); obj != nil {
							if p.stop {
								f.sigStopped[obj] = true
							} else if f.notified[obj] == nil {
								f.notified[obj] = n
							}
						}
					}
				}
				// The builtin close, by its object: a local func named close
				// closes nothing.
				if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && len(n.Args) == 1 {
					if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "close" {
						if obj := f.objectOf(n.Args[0]); obj != nil {
							f.closed[obj] = true
						}
					}
				}
			}
			return true
		})
	}
}
