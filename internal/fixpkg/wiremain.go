package fixpkg

import (
	"go/ast"
	"go/types"
	"slices"
	"strconv"
	"strings"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// This file wires new cleanups into main's shutdown path. When main
// returns, the process ends, so the values main makes live as long as it
// runs, however widely they are shared: a cleanup deferred in main stops
// their work as the process shuts down, in reverse order of construction,
// after what main itself does on the way out. That is worth doing only
// where main does return (it waits for a signal, or cleans up what it
// made), and safe only where nothing deferred before the value was made
// waits for work that may still use it.

// isMain reports whether fn is the func main of a command.
func isMain(p *Package, fn ast.Node) bool {
	d, ok := fn.(*ast.FuncDecl)
	return ok && d.Recv == nil && d.Name.Name == "main" && p.Types.Name() == "main"
}

// mainReturns says why a call deferred in main after the statements before
// would not run as the program shuts down, or could hang it, or "".
func (w *wirer) mainReturns(main *ast.FuncDecl, before []ast.Stmt) string {
	if why := w.shutdownPath(main); why != "" {
		return why
	}
	// Only what main defers before making the value: what it defers
	// after runs before the new cleanup, which it cannot wait for.
	for _, s := range before {
		why := ""
		ast.Inspect(s, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false // its defers are its own
			case *ast.DeferStmt:
				if why == "" && !w.quickDefer(n.Call) {
					why = "main defers " + types.ExprString(n.Call.Fun) + " before making it, which would run after the new cleanup and may wait for work that uses it"
				}
			}
			return why == ""
		})
		if why != "" {
			return why
		}
	}
	return ""
}

// shutdownPath says why main shows no shutdown path, or "": it must be
// able to return, and show that it means to end in order, by handling a
// signal (signal.Notify, signal.NotifyContext) or deferring a cleanup of
// its own.
func (w *wirer) shutdownPath(main *ast.FuncDecl) string {
	// Only the last statement is looked at: a main that ends in
	// log.Fatal, os.Exit or an endless loop never runs its deferred
	// calls, and one that ends otherwise is taken to return.
	body := main.Body.List
	if len(body) > 0 {
		why := ends(body[len(body)-1], w.pkg.Info)
		switch {
		case why == "in a panic" || strings.HasPrefix(why, "in log.Panic"):
			// Deferred calls do run as a panic unwinds main, but the process
			// fails all the same: a cleanup there would only hold up the
			// crash while it waits for the work.
			return "main ends " + why + ", which fails the process however its work ends, so nothing is deferred there"
		case why != "":
			return "main never returns (it ends " + why + "), so a call deferred there would not run"
		}
	}
	// Without a signal handler or a cleanup of its own, main shows no
	// sign that it means to end in order (see the file's comment).
	shows := false
	ast.Inspect(main.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if fn := typeutilCallee(w.pkg.Info, n); fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == "os/signal" &&
				(fn.Name() == "Notify" || fn.Name() == "NotifyContext") {
				shows = true
			}
		case *ast.DeferStmt:
			if s, ok := ast.Unparen(n.Call.Fun).(*ast.SelectorExpr); ok && slices.Contains(rules.CleanupNames, s.Sel.Name) {
				shows = true
			}
		}
		return !shows
	})
	if !shows {
		return "main has no shutdown path (it handles no signal and defers no cleanup)"
	}
	return ""
}

// ends says how s ends the program rather than return ("in log.Fatal",
// "in an endless loop"), or "".
func ends(s ast.Stmt, info *types.Info) string {
	switch s := s.(type) {
	case *ast.ExprStmt:
		c, ok := s.X.(*ast.CallExpr)
		if !ok {
			return ""
		}
		// The builtin, not a function of main's named panic. (A panic
		// does run deferred calls on its way out; the process fails all
		// the same, and so does log.Panic's.)
		if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok && id.Name == "panic" {
			if _, builtin := info.Uses[id].(*types.Builtin); builtin {
				return "in a panic"
			}
		}
		fn := typeutilCallee(info, c)
		if fn == nil || fn.Pkg() == nil {
			return ""
		}
		switch path, name := fn.Pkg().Path(), fn.Name(); {
		case path == "os" && name == "Exit":
			return "in os.Exit"
		case path == "log" && (name == "Fatal" || name == "Fatalf" || name == "Fatalln" || name == "Panic" || name == "Panicf" || name == "Panicln"):
			return "in log." + name
		}
	case *ast.SelectStmt:
		if len(s.Body.List) == 0 {
			return "blocked in select {}"
		}
	case *ast.ForStmt:
		if s.Cond == nil && !rules.Leaves(s.Body.List, 0) {
			return "in an endless loop"
		}
	}
	return ""
}

// quickDefer reports whether a call main defers returns at once, waiting
// for no other work: cancelling a context, stopping signal delivery, a
// timer or a ticker, closing a file.
func (w *wirer) quickDefer(c *ast.CallExpr) bool {
	if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok {
		// stop and cancel from signal.NotifyContext or context.With*.
		if v, ok := w.pkg.Info.Uses[id].(*types.Var); ok {
			return types.TypeString(v.Type(), nil) == "context.CancelFunc" || w.cancelFrom(v)
		}
	}
	// A list of what is known to return at once: anything else main
	// defers may wait, and would run after the new cleanup.
	fn := typeutilCallee(w.pkg.Info, c)
	if fn == nil || fn.Pkg() == nil {
		return false
	}
	recv := ""
	if r := fn.Signature().Recv(); r != nil {
		recv = types.TypeString(r.Type(), nil)
	}
	switch fn.Pkg().Path() + " " + recv + " " + fn.Name() {
	case "os/signal  Stop", "os/signal  Reset", "os/signal  Ignore",
		"time *time.Ticker Stop", "time *time.Timer Stop", "os *os.File Close":
		return true
	}
	return false
}

// cancelFrom reports whether v was defined by a call of
// signal.NotifyContext or context.WithCancel, WithTimeout or WithDeadline,
// as its second value.
func (w *wirer) cancelFrom(v *types.Var) bool {
	for _, stack := range w.refs[v] {
		// Only v's definition decides: the second value of one of
		// these calls.
		if len(stack) < 2 || w.pkg.Info.Defs[stack[len(stack)-1].(*ast.Ident)] != v {
			continue
		}
		a, ok := stack[len(stack)-2].(*ast.AssignStmt)
		if !ok || len(a.Lhs) != 2 || len(a.Rhs) != 1 || a.Lhs[1] != stack[len(stack)-1] {
			return false
		}
		c, ok := a.Rhs[0].(*ast.CallExpr)
		if !ok {
			return false
		}
		fn := typeutilCallee(w.pkg.Info, c)
		if fn == nil || fn.Pkg() == nil {
			return false
		}
		switch fn.Pkg().Path() + "." + fn.Name() {
		case "os/signal.NotifyContext", "context.WithCancel", "context.WithTimeout", "context.WithDeadline",
			"context.WithCancelCause", "context.WithTimeoutCause", "context.WithDeadlineCause":
			return true
		}
		return false
	}
	return false
}

// mainPackage plans the wiring of a package-level cleanup of an imported
// package into main: a call deferred first in main runs last, once
// everything main made has stopped, as the import's work started before
// main did.
func (w *wirer) mainPackage(t Target, main *ast.FuncDecl, file *ast.File) (*rewrite.Wiring, string, string) {
	name := importName(file, t.Pkg, w.pkg.Info)
	switch {
	case t.Params > 0 || t.Results > 1:
		return nil, "", t.Label + " takes arguments or returns more than an error"
	case !t.Added:
		return nil, "", t.Label + " existed before the fix: calling it from main too may run it twice"
	case name == "" && !imports(file, t.Pkg):
		return nil, "", "main does not import " + t.Pkg + " itself, only through the packages it imports: import it to call " + t.Label
	case name == "":
		return nil, "", "main's file does not import " + t.Pkg + " by a name it can call"
	case t.Hang != "":
		return nil, "", t.Hang + ", so main's return could hang waiting for it"
	}
	if why := w.shutdownPath(main); why != "" {
		return nil, "", why
	}
	// Deferred at main's top level, by hand or by an earlier run.
	for _, s := range main.Body.List {
		if d, ok := s.(*ast.DeferStmt); ok {
			if sel, ok := ast.Unparen(d.Call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == t.Method {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
					return nil, "already stopped in main", ""
				}
			}
		}
	}
	return &rewrite.Wiring{Into: main, Pkg: t.Pkg, Method: t.Method, Result: t.Results > 0}, "deferred first in main, so that it runs last", ""
}

// importName returns the name file refers to the package path by, or ""
// when it does not import it, or only for its side effects.
func importName(file *ast.File, path string, info *types.Info) string {
	for _, imp := range file.Imports {
		if imp.Path.Value != strconv.Quote(path) {
			continue
		}
		// A blank or dot import gives no name to call the package by.
		if imp.Name != nil && (imp.Name.Name == "_" || imp.Name.Name == ".") {
			return ""
		}
		// The name the file uses: the package's own, or an alias.
		if pn := info.PkgNameOf(imp); pn != nil {
			return pn.Name()
		}
	}
	return ""
}

// imports reports whether file imports the package path, by any name.
func imports(file *ast.File, path string) bool {
	return slices.ContainsFunc(file.Imports, func(imp *ast.ImportSpec) bool { return imp.Path.Value == strconv.Quote(path) })
}
