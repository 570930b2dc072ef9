package rules

import (
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// A Loop is the fix plan for one goroutine whose loop can never be stopped.
type Loop struct {
	Site
	// Start is the statement in Starter that starts the goroutine: a go
	// statement, or a call to a wrapper such as errgroup's Go.
	Start  ast.Stmt
	Lit    *ast.FuncLit  // the goroutine's function when it is a literal
	Method *ast.FuncDecl // the goroutine's function when it is a method (go s.loop())
	Stmt   ast.Stmt      // the loop itself: *ast.ForStmt or *ast.RangeStmt
	Waits  []Wait        // where the loop blocks; each becomes a select on the stop signal

	// ErrResult is set when the goroutine's function returns an error (as
	// errgroup's does): the stop case returns nil.
	ErrResult bool

	// Ctx names a context.Context already in scope at Start. When set the loop
	// is made to honour it, and Owner is nil: no state or method is added.
	Ctx string

	// Signal is the channel registered with signal.Notify that the loop
	// reads, when it reads one; the fix also undoes the registration.
	Signal ast.Expr

	// DeadReturn is a return right after a range that never ends (over
	// time.Tick or a Ticker's C): it never ran, and once the range becomes
	// for { select ... } it is unreachable code, so the fix removes it.
	DeadReturn *ast.ReturnStmt

	note   string     // a judgement the plan made, for the finding's message
	timed  bool       // some wait is on time or on signals, not only on other channels
	blocks []ast.Node // channel operations a stop signal cannot interrupt
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
	Recv                       // <-ch as a statement, ch a channel of time.Time
	RecvAssign                 // v := <-ch or v = <-ch, ch a channel of time.Time
	Select                     // a select without default
)

// A Wait is one place where a loop blocks.
type Wait struct {
	Kind WaitKind
	Node ast.Node // *ast.RangeStmt, *ast.ExprStmt or *ast.SelectStmt
}

// UnstoppableLoop reports goroutines whose timed loop has no way out.
//
//	go func() { for range time.Tick(d) { work() } }()   // in NewT or (*T).Start
//	=> a stop case on every wait, stop/done fields on T, and T.Shutdown
var UnstoppableLoop = &Rule{
	Name: unstoppableLoop,
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
		all, ok := pass.memo[unstoppableLoop].([]*Finding)
		if !ok {
			all = analyseLoops(pass)
			if pass.memo == nil {
				pass.memo = map[string]any{}
			}
			pass.memo[unstoppableLoop] = all
		}
		var out []*Finding
		for _, f := range all {
			if f.Rule == rule {
				out = append(out, f)
			}
		}
		return out
	}
}

func analyseLoops(pass *Pass) []*Finding {
	if processWide(pass.Pkg) {
		return nil // work in package main lives as long as the process
	}
	f := newLoopFinder(pass)
	var out []*Finding
	read := map[types.Object]bool{} // signal channels some reported loop reads
	for fn := range funcs(pass.Files) {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			var found []*Finding
			if stmt, ok := n.(ast.Stmt); ok && f.processWide(fn, stmt) {
				return false
			}
			switch n := n.(type) {
			case *ast.CallExpr:
				found = f.timerCallback(fn, n)
			case *ast.GoStmt:
				found = f.goroutine(fn, n, n.Call.Fun)
			case *ast.ExprStmt:
				if call, ok := n.X.(*ast.CallExpr); ok {
					if lit := f.wrapped(call); lit != nil {
						found = f.goroutine(fn, n, lit)
					}
				}
			}
			{
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
	// Registrations whose channel no goroutine loop reads in a way we can follow.
	for obj, call := range f.notified {
		if !f.sigStopped[obj] && !read[obj] && f.inFiles(call) {
			how := "signal.Notify"
			if !isPkgCall(f.pass.Info, call, "os/signal", "Notify") {
				how = "signal.Notify (in " + calleeFunc(f.pass.Info, call).Name() + ")"
			}
			out = append(out, &Finding{
				Rule:      unstoppedSignal,
				Pos:       call.Pos(),
				Message:   how + " registers " + obj.Name() + " for the life of the process and nothing calls signal.Stop",
				Related:   []Note{{obj.Pos(), obj.Name() + " is declared here; no goroutine loop leakfix can stop reads it"}},
				Unfixable: unreadSignal,
			})
		}
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
	process      []ast.Node                     // command actions, which live as long as the process
	processFuncs []*types.Func                  // functions used as command actions
	sigStopped   map[types.Object]bool          // channels passed to signal.Stop
	// sigHelpers are the functions that pass one of their parameters to
	// signal.Notify or signal.Stop (func watch(c chan os.Signal) {
	// signal.Notify(c, ...) }); sigParamObjs are those parameters.
	sigHelpers   map[*types.Func][]sigParam
	sigParamObjs map[types.Object]bool
	life         lifetimeFacts // where contexts come from, which channels can fire
	mfacts       map[*types.Func]*methodFacts
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

// calleeFunc returns the function or method a call calls, or nil.
func calleeFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	var id *ast.Ident
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		id = fun
	case *ast.SelectorExpr:
		id = fun.Sel
	default:
		return nil
	}
	fn, _ := info.Uses[id].(*types.Func)
	if fn == nil {
		return nil
	}
	return fn.Origin()
}

func newLoopFinder(pass *Pass) *loopFinder {
	f := &loopFinder{
		pass:         pass,
		methods:      map[*types.Func]*ast.FuncDecl{},
		closed:       map[types.Object]bool{},
		uses:         map[types.Object]int{},
		notified:     map[types.Object]*ast.CallExpr{},
		sigStopped:   map[types.Object]bool{},
		wrappers:     map[*types.Func][]int{},
		sigHelpers:   map[*types.Func][]sigParam{},
		sigParamObjs: map[types.Object]bool{},
		life:         newLifetimeFacts(),
		mfacts:       map[*types.Func]*methodFacts{},
	}
	f.index()
	return f
}

// index records the package-wide facts the finder needs: declarations,
// channels that something closes, and how often each function is referenced.
func (f *loopFinder) index() {
	info := f.pass.Info
	for _, file := range f.pass.AllFiles {
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok {
				if obj, ok := info.Defs[fn.Name].(*types.Func); ok {
					f.methods[obj] = fn
					if fn.Body != nil {
						if params := goParams(info, fn); params != nil {
							f.wrappers[obj] = params
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

// commandFields are the fields of CLI command types whose functions run a
// command: work they start lives as long as the process, like main's.
var commandFields = map[string]bool{
	"Run": true, "RunE": true, "PreRun": true, "PreRunE": true, "PersistentPreRun": true,
	"PersistentPreRunE": true, "Action": true, "Before": true,
}

// commandActions records the functions a cobra or urfave/cli command literal
// runs as its action.
func (f *loopFinder) commandActions(lit *ast.CompositeLit) {
	t := f.pass.Info.TypeOf(lit)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return
	}
	path := n.Obj().Pkg().Path()
	if !(path == "github.com/spf13/cobra" && n.Obj().Name() == "Command") &&
		!(strings.HasPrefix(path, "github.com/urfave/cli") && (n.Obj().Name() == "Command" || n.Obj().Name() == "App")) {
		return
	}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if key, ok := kv.Key.(*ast.Ident); !ok || !commandFields[key.Name] {
			continue
		}
		switch v := ast.Unparen(kv.Value).(type) {
		case *ast.FuncLit:
			f.process = append(f.process, v)
		case *ast.Ident:
			if fn, ok := f.pass.Info.Uses[v].(*types.Func); ok {
				f.processFuncs = append(f.processFuncs, fn)
			}
		}
	}
}

// processWide reports whether n, in fn, runs for the life of the process:
// inside a command's action.
func (f *loopFinder) processWide(fn *ast.FuncDecl, n ast.Node) bool {
	if isCommandRun(f.pass.Info, fn) {
		return true
	}
	for _, obj := range f.processFuncs {
		if f.methods[obj] == fn {
			return true
		}
	}
	for _, p := range f.process {
		if p.Pos() <= n.Pos() && n.End() <= p.End() {
			return true
		}
	}
	return false
}

// commandTags are the struct tag keys that mark a command-line struct: kong
// (and go-arg) read them, and kong runs the chosen command by calling its
// Run method from main.
var commandTags = []string{"cmd", "arg", "help"}

// isCommandRun reports whether fn is the Run method of a command-line struct
// (a field tagged cmd:, arg: or help:), which runs a command for the life of
// the process, as a cobra command's RunE does. The field that makes the
// struct a subcommand is often declared in package main, out of sight, but
// the command's own flags carry the tags.
func isCommandRun(info *types.Info, fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) == 0 || fn.Name.Name != "Run" {
		return false
	}
	t := info.TypeOf(fn.Recv.List[0].Type)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if t == nil {
		return false
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	for i := range st.NumFields() {
		tag := reflect.StructTag(st.Tag(i))
		for _, key := range commandTags {
			if _, ok := tag.Lookup(key); ok {
				return true
			}
		}
	}
	return false
}

// objectOf returns the variable or field an expression names, or nil.
func (f *loopFinder) objectOf(e ast.Expr) types.Object {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return f.pass.Info.ObjectOf(e)
	case *ast.SelectorExpr:
		if sel, ok := f.pass.Info.Selections[e]; ok {
			return sel.Obj()
		}
		return f.pass.Info.ObjectOf(e.Sel)
	}
	return nil
}

// goStmt reports the unstoppable loops run by the goroutine g starts.
func (f *loopFinder) goroutine(starter *ast.FuncDecl, start ast.Stmt, fun ast.Expr) []*Finding {
	var (
		body   *ast.BlockStmt
		lit    *ast.FuncLit
		method *ast.FuncDecl
		ftype  *ast.FuncType
	)
	switch fun := ast.Unparen(fun).(type) {
	case *ast.FuncLit:
		lit, body, ftype = fun, fun.Body, fun.Type
	case *ast.SelectorExpr:
		sel, ok := f.pass.Info.Selections[fun]
		if !ok || sel.Kind() != types.MethodVal {
			return nil
		}
		decl := f.methods[sel.Obj().(*types.Func).Origin()]
		if decl == nil || decl.Body == nil {
			return nil
		}
		method, body, ftype = decl, decl.Body, decl.Type
	case *ast.Ident:
		fn, ok := f.pass.Info.Uses[fun].(*types.Func)
		if !ok {
			return nil
		}
		decl := f.methods[fn.Origin()]
		if decl == nil || decl.Body == nil {
			return nil
		}
		body, ftype = decl.Body, decl.Type
	default:
		return nil
	}

	var out []*Finding
	for _, stmt := range outerLoops(body) {
		l := f.analyse(stmt)
		if l == nil {
			continue
		}
		l.Start, l.Starter, l.Lit, l.Method = start, starter, lit, method
		l.Site.start = start
		finding := &Finding{
			Rule:    unstoppableLoop,
			Pos:     start.Pos(),
			Message: "goroutine started in " + FuncName(starter) + " " + l.verb() + " forever with no way to stop it",
		}
		if l.Signal != nil {
			finding.signal = f.objectOf(l.Signal)
			finding.Rule = unstoppedSignal
			finding.Message = "goroutine started in " + FuncName(starter) + " reads signals forever and nothing calls signal.Stop"
		}
		why := f.plan(l, ftype, body)
		if why == "" {
			why = f.selfStop(&l.Site, body)
		}
		if why != "" {
			finding.Unfixable = why
		} else {
			finding.Fix = l
		}
		if l.note != "" {
			finding.Message += " (" + l.note + ")"
		}
		out = append(out, finding)
	}
	return out
}

// timerCallback reports the endless timed loops of a function literal that
// fn schedules with time.AfterFunc. The callback runs in a goroutine of its
// own once the timer fires, and stopping the timer then ends nothing, so
// storing the timer (the discarded-timer fix) does not make such a loop
// stoppable; they are reported without a fix.
func (f *loopFinder) timerCallback(fn *ast.FuncDecl, call *ast.CallExpr) []*Finding {
	if !isPkgCall(f.pass.Info, call, "time", "AfterFunc") || len(call.Args) != 2 {
		return nil
	}
	lit, ok := ast.Unparen(call.Args[1]).(*ast.FuncLit)
	if !ok {
		return nil
	}
	var out []*Finding
	for _, stmt := range outerLoops(lit.Body) {
		l := f.analyse(stmt)
		if l == nil {
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
	found := false
	ast.Inspect(fn.Body, func(m ast.Node) bool {
		if call, ok := m.(*ast.CallExpr); ok && !found && isPkgCall(f.pass.Info, call, "time", "AfterFunc") && len(call.Args) == 2 {
			if lit, ok := ast.Unparen(call.Args[1]).(*ast.FuncLit); ok && lit.Pos() <= n.Pos() && n.End() <= lit.End() {
				found = true
			}
		}
		return !found
	})
	return found
}

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
// function literal.
func outerLoops(body *ast.BlockStmt) []ast.Stmt {
	var loops []ast.Stmt
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ForStmt, *ast.RangeStmt:
			loops = append(loops, n.(ast.Stmt))
			return false
		}
		return true
	})
	return loops
}

// analyse returns the plan skeleton for loop if it waits on time and has no
// way out, or nil.
func (f *loopFinder) analyse(loop ast.Stmt) *Loop {
	l := &Loop{Stmt: loop}
	var body *ast.BlockStmt
	switch loop := loop.(type) {
	case *ast.ForStmt:
		if loop.Cond != nil {
			return nil
		}
		body = loop.Body
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
	// depth counts the statements between a node and the loop that an
	// unlabeled break would leave instead of the loop.
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		ast.Inspect(n, func(n ast.Node) bool {
			if managed {
				return false
			}
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt:
				managed = true
			case *ast.BranchStmt:
				switch {
				case n.Tok == token.GOTO && !labels[n.Label.Name],
					n.Tok == token.BREAK && n.Label == nil && depth == 0,
					n.Tok == token.BREAK && n.Label != nil && !labels[n.Label.Name]:
					managed = true
				}
			case *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt:
				header, children := parts(n)
				for _, h := range header {
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
					if recv != nil && f.stops(recv) {
						managed = true
					}
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
				if u, ok := n.X.(*ast.UnaryExpr); ok && u.Op == token.ARROW && f.waitChan(l, u.X) {
					l.Waits = append(l.Waits, Wait{Kind: Recv, Node: n})
					l.timed = true
					return false
				}
			case *ast.AssignStmt:
				if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
					if u, ok := n.Rhs[0].(*ast.UnaryExpr); ok && u.Op == token.ARROW && f.waitChan(l, u.X) {
						l.Waits = append(l.Waits, Wait{Kind: RecvAssign, Node: n})
						l.timed = true
						return false
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.ARROW {
					if f.stops(n.X) {
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
	if managed || len(l.Waits) == 0 {
		return nil
	}
	if _, isFor := loop.(*ast.ForStmt); isFor && !l.timed {
		return nil // a worker loop on channels, not timed work
	}
	return l
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

// stops reports whether receiving from ch can be a stop signal: ctx.Done()
// or a similar Done method, a channel something closes, or a chan struct{}.
//
// A signal that can never fire is no stop: the Done of a context nothing
// can cancel (context.Background, directly or through a variable), or a
// chan struct{} of the package that nothing closes, sends on or hands on.
func (f *loopFinder) stops(ch ast.Expr) bool {
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
		if s, ok := c.Elem().Underlying().(*types.Struct); ok && s.NumFields() == 0 {
			return obj == nil || f.canFire(obj)
		}
	}
	return false
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
		id = fun
	default:
		return false
	}
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

// wrapped returns the function literal a call runs in a new goroutine: the
// argument of errgroup's (or conc's) Go, or the argument that a function of
// this package passes to a go statement (func goSafe(f func()) { go ... f() ... }).
func (f *loopFinder) wrapped(call *ast.CallExpr) *ast.FuncLit {
	var id *ast.Ident
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.SelectorExpr:
		id = fun.Sel
		if sel, ok := f.pass.Info.Selections[fun]; ok && sel.Kind() == types.MethodVal && fun.Sel.Name == "Go" {
			recv := sel.Recv()
			if p, ok := recv.(*types.Pointer); ok {
				recv = p.Elem()
			}
			if n, ok := types.Unalias(recv).(*types.Named); ok && n.Obj().Pkg() != nil {
				path := n.Obj().Pkg().Path()
				if strings.HasSuffix(path, "/errgroup") || strings.HasPrefix(path, "github.com/sourcegraph/conc") {
					if len(call.Args) == 1 {
						lit, _ := ast.Unparen(call.Args[0]).(*ast.FuncLit)
						return lit
					}
				}
			}
		}
	case *ast.Ident:
		id = fun
	}
	if id == nil {
		return nil
	}
	fn, ok := f.pass.Info.Uses[id].(*types.Func)
	if !ok {
		return nil
	}
	for _, i := range f.wrappers[fn.Origin()] {
		if i < len(call.Args) {
			if lit, ok := ast.Unparen(call.Args[i]).(*ast.FuncLit); ok {
				return lit
			}
		}
	}
	return nil
}

// goParams returns the indices of fn's function parameters that its body
// calls inside a go statement.
func goParams(info *types.Info, fn *ast.FuncDecl) []int {
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

// plan completes l: who owns the loop, which context it honours and what
// the generated names are based on. It returns why no fix is possible, or "".
func (f *loopFinder) plan(l *Loop, ftype *ast.FuncType, body *ast.BlockStmt) string {
	if len(l.blocks) > 0 {
		return "the loop also blocks on a channel operation that a stop signal cannot interrupt (" +
			f.pass.Fset.Position(l.blocks[0].Pos()).String() + ")"
	}
	for _, w := range l.Waits {
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
	if results := ftype.Results; results != nil && len(results.List) > 0 {
		if len(results.List) > 1 || len(results.List[0].Names) > 1 || !isNamed(f.pass.Info.TypeOf(results.List[0].Type), "", "error") {
			return "the goroutine's function returns results other than an error"
		}
		l.ErrResult = true
	}
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
	l.Name = f.baseName(l)
	switch {
	case l.Method != nil:
		obj := f.pass.Info.Defs[l.Method.Name].(*types.Func)
		if name, i := ctxParam(f.pass.Info, l.Method.Type); name != "" {
			// The method takes its lifetime from the caller, unless the
			// context the starter hands it cannot be that: then the loop
			// keeps it for its calls and gets a stop signal of its own.
			why := ""
			if g, ok := l.Start.(*ast.GoStmt); ok && i < len(g.Call.Args) {
				why = f.notLifetime(g.Call.Args[i], l.Starter)
			}
			if why == "" {
				l.Ctx = name
				return ""
			}
			l.note = "the context it is given " + why + ", so it is not the work's lifetime"
		}
		if obj.Exported() || f.uses[obj] != 1 {
			return "the loop's method " + obj.Name() + " is exported or called elsewhere, so a stop parameter cannot be added"
		}
		if recv := l.Method.Recv.List[0]; len(recv.Names) == 0 || recv.Names[0].Name == "_" {
			return "the loop's method has no receiver name"
		}
		x := ast.Unparen(l.Start.(*ast.GoStmt).Call.Fun).(*ast.SelectorExpr).X
		started := f.isReceiver(l.Starter, x)
		if !started && !f.isReturned(l.Starter, x) {
			return "the value whose method runs the loop is not reachable once " + l.Starter.Name.Name + " returns"
		}
		if why := f.setOwner(&l.Site, x, started); why != "" {
			return why
		}
		return f.abandon(&l.Site, l.Start, x)
	case l.Lit == nil:
		return "the loop runs in a function started by name; only methods and function literals are fixed"
	}
	// Work started under a package-level sync.Once runs once per process
	// and serves every value: it belongs to the package, never to the
	// value that happened to start it first.
	if f.inPackageOnce(l.Starter, l.Start) {
		l.Owner = &Owner{Guarded: true}
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
	if ctx != "" && life == lifeParam && (l.Starter.Recv != nil || f.returnedIn(l.Starter, l.Lit) != nil) {
		l.note = ctx + " is not taken as the work's lifetime: the goroutine never reads it, and it may be a timeout for " + FuncName(l.Starter) + " alone"
	}
	if x := f.returnedIn(l.Starter, l.Lit); x != nil {
		if why := f.setOwner(&l.Site, x, false); why != "" {
			return why
		}
		return f.abandon(&l.Site, l.Start, x)
	}
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
	l.Owner = &Owner{Guarded: l.Starter.Name.Name != "init"}
	return ""
}

// inPackageOnce reports whether start lies in a function literal that fn
// passes to the Do method of a package-level sync.Once.
func (f *loopFinder) inPackageOnce(fn *ast.FuncDecl, start ast.Node) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found || len(call.Args) != 1 {
			return !found
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Do" {
			return true
		}
		if t := f.pass.Info.TypeOf(sel.X); t == nil || !isNamed(t, "sync", "Once") {
			return true
		}
		v, ok := f.objectOf(sel.X).(*types.Var)
		if !ok || v.Parent() != f.pass.Pkg.Scope() {
			return true
		}
		if lit, ok := ast.Unparen(call.Args[0]).(*ast.FuncLit); ok && lit.Pos() <= start.Pos() && start.End() <= lit.End() {
			found = true
		}
		return !found
	})
	return found
}

// runsOnce reports whether the free function fn runs at most once: it is
// init, it starts its work under a package-level sync.Once, or it is
// unexported and called only from init and package variable initializers.
func (f *loopFinder) runsOnce(fn *ast.FuncDecl) bool {
	if fn.Name.Name == "init" || f.guardedByFlag(fn) {
		return true
	}
	obj, ok := f.pass.Info.Defs[fn.Name].(*types.Func)
	if !ok || obj.Exported() {
		return false
	}
	calls := 0
	for _, file := range f.pass.AllFiles {
		for _, decl := range file.Decls {
			inInit := false
			if fd, ok := decl.(*ast.FuncDecl); ok {
				inInit = fd.Name.Name == "init" && fd.Recv == nil
			} else if gd, ok := decl.(*ast.GenDecl); ok {
				inInit = gd.Tok == token.VAR
			}
			bad := false
			ast.Inspect(decl, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && f.pass.Info.Uses[id] == obj {
					calls++
					if !inInit {
						bad = true
					}
				}
				return !bad
			})
			if bad {
				return false
			}
		}
	}
	return calls > 0
}

// guardedByFlag reports whether fn returns early when a package variable
// says the work already started, and sets that variable itself:
//
//	if started { return }
//	started = true
//	go ...
//
// Such a function starts its work once however often it is called.
func (f *loopFinder) guardedByFlag(fn *ast.FuncDecl) bool {
	pkgVar := func(e ast.Expr) *types.Var {
		v, ok := f.objectOf(e).(*types.Var)
		if !ok || v.Parent() != f.pass.Pkg.Scope() {
			return nil
		}
		return v
	}
	guards := map[*types.Var]bool{}
	for _, st := range fn.Body.List {
		switch st := st.(type) {
		case *ast.IfStmt:
			if len(st.Body.List) == 0 {
				continue
			}
			if _, ok := st.Body.List[len(st.Body.List)-1].(*ast.ReturnStmt); !ok {
				continue
			}
			ast.Inspect(st.Cond, func(n ast.Node) bool {
				if e, ok := n.(ast.Expr); ok {
					if v := pkgVar(e); v != nil {
						guards[v] = true
					}
				}
				return true
			})
		case *ast.AssignStmt:
			for _, l := range st.Lhs {
				if v := pkgVar(l); v != nil && guards[v] {
					return true
				}
			}
		case *ast.GoStmt:
			return false // started before any flag was set
		}
	}
	return false
}

// paramOwnerIn returns the first use, inside lit, of a parameter of fn that
// points to a struct: the value a helper such as startKeepalive(c) works for.
func (f *loopFinder) paramOwnerIn(fn *ast.FuncDecl, lit *ast.FuncLit) ast.Expr {
	var owner ast.Expr
	ast.Inspect(lit.Body, func(n ast.Node) bool {
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
		life = f.valueLife(ctxDef{fn: fn, value: e}, 0)
	}
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
	var starters []*types.Func
	if fn, ok := f.pass.Info.Defs[l.Starter.Name].(*types.Func); ok && l.Starter.Recv != nil {
		starters = append(starters, fn)
	}
	l.Owner.Cleanup, _ = f.cleanup(l.Owner.Type, starters)
	if c := l.Owner.Cleanup; c != nil && guarded {
		if _, ptr := f.pass.Info.TypeOf(c.Recv.List[0].Type).(*types.Pointer); !ptr {
			return c.Name.Name + " has a value receiver, so the state " + FuncName(l.Starter) + " stores cannot be guarded against it"
		}
	}
	l.Owner.Existing = f.existingStop(l.Owner.Type, starters)
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
	if !ok {
		return ""
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

// earlierCaller returns, spelled as written, the function of a go
// statement that l's starter runs before l's start and that may call
// cleanup: it could then read the stop state while the starter writes it.
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
		if body != nil && g.End() <= l.startPos() {
			if _, ok := f.reaches(body, cleanup); ok {
				found, _ = exprString(g.Call.Fun)
			}
		}
		return found == ""
	})
	return found
}

// callbackReaching returns, spelled as written, a function value the code
// under body calls that may call cleanup, a method of owner: one it hands
// the owner to (r.onGiveUp(r)), or one whose type is cleanup's method value
// type (a func() that may be r.Close). It returns "" if there is none.
func (f *loopFinder) callbackReaching(body ast.Node, owner *types.Named, cleanup *types.Func) string {
	info := f.pass.Info
	ptr := types.NewPointer(owner)
	method := types.NewSignatureType(nil, nil, nil, cleanup.Signature().Params(), cleanup.Signature().Results(), cleanup.Signature().Variadic())
	found := ""
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
		hands := types.Identical(sig, method)
		for _, a := range call.Args {
			if t := info.TypeOf(a); t != nil && types.Identical(t, ptr) {
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
	id, ok := ast.Unparen(x).(*ast.Ident)
	if !ok || l.Starter.Recv != nil && f.isReceiver(l.Starter, x) {
		return ""
	}
	owner := f.pass.Info.Uses[id]
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
			return false
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
			if !returnsOwner {
				l.Abandon = append(l.Abandon, n)
			}
		case *ast.CallExpr:
			if fn := calleeFunc(f.pass.Info, n); fn != nil && strings.HasPrefix(fn.Name(), "Must") && !constantArgs(f.pass.Info, n) {
				why = FuncName(l.Starter) + " may panic in " + fn.Name() + " after starting the work, which would then run with nothing to stop it"
			}
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
			if f.pass.Info.Uses[n] == owner {
				if sel, ok := parent.(*ast.SelectorExpr); !ok || sel.X != n {
					found = true
				}
			}
			return
		}
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
		case *ast.FuncLit:
			return false
		case *ast.BlockStmt:
			if slices.Contains(n.List, s) {
				found = n
				return false
			}
		case *ast.CaseClause:
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
	decl := l.Owner.Cleanup
	if ex := l.Owner.Existing; ex != nil {
		if ex.Group == "" {
			return "" // firing the signal does not wait for the work
		}
		decl = f.methodNamed(l.Owner.Type, ex.By)
	}
	if decl == nil {
		return ""
	}
	cleanup, ok := f.pass.Info.Defs[decl.Name].(*types.Func)
	if !ok {
		return ""
	}
	if earlier := f.earlierCaller(l, cleanup); earlier != "" {
		name := decl.Name.Name
		return "a goroutine " + FuncName(l.Starter) + " starts before this one (" + earlier + ") may call " + name + " before the work's stop state is set"
	}
	if caller, lock := f.callerHolding(cleanup, f.locksTaken(body)); caller != "" {
		name := decl.Name.Name
		return caller + " calls " + name + " while holding " + lock + ", which the goroutine takes, so " + name + " cannot wait for it to end"
	}
	if cb := f.callbackReaching(body, l.Owner.Type, cleanup); cb != "" {
		name := decl.Name.Name
		return "the goroutine calls " + cb + ", a function value that may call " + name + ", so " + name + " cannot wait for it to end"
	}
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
			return false
		}
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

// ctxParam returns the name and index of a context.Context parameter of
// ft, or "".
func ctxParam(info *types.Info, ft *ast.FuncType) (string, int) {
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
	spec := f.typeSpec(named.Origin().Obj())
	if spec == nil {
		return nil
	}
	return &Owner{Type: named.Origin(), Spec: spec, Expr: expr}
}

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

// baseName names the loop after the work it does: the method it runs
// (cleanupLoop gives "cleanup"), or the first call into this package inside
// the loop (s.cleanupInactiveSessions() gives "cleanup").
func (f *loopFinder) baseName(l *Loop) string {
	if l.Method != nil {
		name := l.Method.Name.Name
		for _, affix := range []string{"Loop", "loop"} {
			if n := strings.TrimSuffix(name, affix); n != "" && n != name {
				name = n
			}
		}
		for _, affix := range []string{"run", "start"} {
			if n := strings.TrimPrefix(name, affix); n != "" && n != name && unicode.IsUpper(rune(n[0])) {
				name = n
			}
		}
		if name = lowerFirst(firstWord(name)); !genericNames[name] {
			return name
		}
	}
	var body ast.Node = l.Stmt // the loop's body, not its header: the work, not the wait
	switch loop := l.Stmt.(type) {
	case *ast.ForStmt:
		body = loop.Body
	case *ast.RangeStmt:
		body = loop.Body
	}
	if name := f.firstCall(body); name != "" {
		return name
	}
	return "loop"
}

// firstCall returns the first word of the first function of this package
// that n calls, skipping generic names, or "".
func (f *loopFinder) firstCall(n ast.Node) string {
	name := ""
	ast.Inspect(n, func(n ast.Node) bool {
		if name != "" && !genericNames[name] {
			return false
		}
		if call, ok := n.(*ast.CallExpr); ok {
			var id *ast.Ident
			switch fun := ast.Unparen(call.Fun).(type) {
			case *ast.Ident:
				id = fun
			case *ast.SelectorExpr:
				id = fun.Sel
			}
			if id != nil {
				if fn, ok := f.pass.Info.Uses[id].(*types.Func); ok && fn.Pkg() == f.pass.Pkg {
					name = lowerFirst(firstWord(fn.Name()))
				}
			}
		}
		return true
	})
	if genericNames[name] {
		return ""
	}
	return name
}

// genericNames say that a loop runs, not what it does; a loop method with
// such a name is named after the work it calls instead.
var genericNames = map[string]bool{"run": true, "loop": true, "start": true, "work": true, "worker": true, "background": true, "do": true, "go": true}

// firstWord returns the first word of a camelCase or snake_case name.
func firstWord(name string) string {
	name = strings.TrimLeft(name, "_")
	for i, r := range name {
		if i > 0 && (unicode.IsUpper(r) || r == '_') {
			prev := rune(name[i-1])
			if r == '_' || unicode.IsLower(prev) || unicode.IsDigit(prev) {
				return name[:i]
			}
		}
	}
	return name
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	// An initialism stays together: "HTTPPoll" gives "httpPoll" via firstWord's "HTTPPoll".
	r := []rune(s)
	for i := 0; i < len(r) && unicode.IsUpper(r[i]); i++ {
		if i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// FuncName names a function as messages and Go documentation do:
// NewServer, or (*Server).Start.
func FuncName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	name := "?"
	if id, ok := t.(*ast.Ident); ok {
		name = id.Name
	}
	if star != "" {
		return "(*" + name + ")." + fn.Name.Name
	}
	return name + "." + fn.Name.Name
}

// heldLock returns the lock (as written: "c.mu") that is held at target:
// locked by an earlier statement of an enclosing statement list of body and
// not unlocked before target, nor by a deferred call. A sync.WaitGroup
// counts as held between its Add and its Done: returning in between skips
// the Done, and whoever waits for the group waits for ever; wg reports that
// kind. It returns "" if nothing is held.
func (f *loopFinder) heldLock(body *ast.BlockStmt, target ast.Node) (held string, wg bool) {
	kind := map[string]bool{} // held → is a WaitGroup
	var visit func(list []ast.Stmt) bool
	visit = func(list []ast.Stmt) bool {
		count := map[string]int{}
		for _, s := range list {
			if s.Pos() <= target.Pos() && target.End() <= s.End() {
				for lock, n := range count {
					if n > 0 && (held == "" || lock < held) {
						held = lock
					}
				}
				if held != "" || s == target {
					return true
				}
				for _, child := range stmtLists(s) {
					if visit(child) {
						return true
					}
				}
				return true
			}
			switch s := s.(type) {
			case *ast.ExprStmt:
				if x, op, isWG := f.lockOp(s.X, 0); op != 0 {
					count[x] += op
					kind[x] = isWG
				}
			case *ast.SendStmt:
				// A send on a channel used as a semaphore takes a slot that
				// a later receive gives back.
				if x, ok := exprString(s.Chan); ok {
					count[x]++
				}
			case *ast.DeferStmt:
				if x, op, _ := f.lockOp(s.Call, 0); op < 0 {
					count[x] -= 1 << 20 // released on any return
				}
			}
		}
		return false
	}
	visit(body.List)
	return held, kind[held]
}

// lockCall returns the receiver of x.Lock()/x.RLock(), or of a
// sync.WaitGroup's x.Add(n) (op 1), or of x.Unlock()/x.RUnlock() or a
// WaitGroup's x.Done() (op -1), as written, or op 0. wg reports a
// WaitGroup.
func lockCall(info *types.Info, e ast.Expr) (x string, op int, wg bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return "", 0, false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", 0, false
	}
	t := info.TypeOf(sel.X)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	isWG := isNamed(t, "sync", "WaitGroup")
	switch {
	case len(call.Args) == 0 && (sel.Sel.Name == "Lock" || sel.Sel.Name == "RLock"):
		op = 1
	case len(call.Args) == 0 && (sel.Sel.Name == "Unlock" || sel.Sel.Name == "RUnlock"):
		op = -1
	case isWG && len(call.Args) == 1 && sel.Sel.Name == "Add":
		op = 1
	case isWG && len(call.Args) == 0 && sel.Sel.Name == "Done":
		op = -1
	default:
		return "", 0, false
	}
	var b strings.Builder
	if err := format.Node(&b, token.NewFileSet(), sel.X); err != nil {
		return "", 0, false
	}
	return b.String(), op, isWG
}

// typeOfLock returns the underlying type of the lock heldLock named, found
// by its spelling among the selector expressions of body and of the
// package's methods; nil when none matches.
func (f *loopFinder) typeOfLock(body *ast.BlockStmt, held string) types.Type {
	if held == "" {
		return nil
	}
	var t types.Type
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && t == nil {
				if x, ok := exprString(sel); ok && x == held {
					if tt := f.pass.Info.TypeOf(sel); tt != nil {
						t = tt.Underlying()
					}
				}
			}
			return t == nil
		})
	}
	return t
}

// lockOp is lockCall seen through the package's own functions: a call of
// a method whose body takes (or releases) a lock or a semaphore slot held
// in a field of its receiver, and does not give it back, counts as taking
// (or releasing) it in the caller: p.lockState() locks p.mu. It also reads
// a receive statement (<-c.slots) as giving back a semaphore slot.
func (f *loopFinder) lockOp(e ast.Expr, depth int) (x string, op int, wg bool) {
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.ARROW {
		if x, ok := exprString(u.X); ok {
			return x, -1, false
		}
		return "", 0, false
	}
	if x, op, wg := lockCall(f.pass.Info, e); op != 0 {
		return x, op, wg
	}
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || depth > 2 {
		return "", 0, false
	}
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return "", 0, false
	}
	callee := calleeFunc(f.pass.Info, call)
	decl := f.methods[callee]
	if callee == nil || decl == nil || decl.Body == nil || decl.Recv == nil || len(decl.Recv.List[0].Names) != 1 {
		return "", 0, false
	}
	recv := decl.Recv.List[0].Names[0].Name
	owner, ok := exprString(sel.X)
	if !ok {
		return "", 0, false
	}
	net := map[string]int{}
	isWG := map[string]bool{}
	for _, s := range decl.Body.List {
		switch s := s.(type) {
		case *ast.ExprStmt:
			if x, op, wg := f.lockOp(s.X, depth+1); op != 0 {
				net[x] += op
				isWG[x] = wg
			}
		case *ast.SendStmt:
			if x, ok := exprString(s.Chan); ok {
				net[x]++
			}
		case *ast.DeferStmt:
			if x, op, _ := f.lockOp(s.Call, depth+1); op < 0 {
				net[x]++ // released on return: no net effect
			}
		}
	}
	for lock, n := range net {
		field, ok := strings.CutPrefix(lock, recv+".")
		if !ok || n == 0 || (n != 1 && n != -1) {
			continue
		}
		return owner + "." + field, n, isWG[lock]
	}
	return "", 0, false
}

// exprString formats e as written, for naming locks.
func exprString(e ast.Expr) (string, bool) {
	var b strings.Builder
	if err := format.Node(&b, token.NewFileSet(), e); err != nil {
		return "", false
	}
	return b.String(), true
}

// stmtLists returns the statement lists directly inside s.
func stmtLists(s ast.Stmt) [][]ast.Stmt {
	switch s := s.(type) {
	case *ast.BlockStmt:
		return [][]ast.Stmt{s.List}
	case *ast.LabeledStmt:
		return [][]ast.Stmt{{s.Stmt}}
	case *ast.IfStmt:
		lists := [][]ast.Stmt{s.Body.List}
		if s.Else != nil {
			lists = append(lists, []ast.Stmt{s.Else})
		}
		return lists
	case *ast.ForStmt:
		return [][]ast.Stmt{s.Body.List}
	case *ast.RangeStmt:
		return [][]ast.Stmt{s.Body.List}
	case *ast.SwitchStmt:
		return clauses(s.Body)
	case *ast.TypeSwitchStmt:
		return clauses(s.Body)
	case *ast.SelectStmt:
		return clauses(s.Body)
	}
	return nil
}

func clauses(b *ast.BlockStmt) [][]ast.Stmt {
	var lists [][]ast.Stmt
	for _, c := range b.List {
		switch c := c.(type) {
		case *ast.CaseClause:
			lists = append(lists, c.Body)
		case *ast.CommClause:
			lists = append(lists, c.Body)
		}
	}
	return lists
}
