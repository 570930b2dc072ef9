package fixpkg

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// mayHang says why waiting for t's work could hang or call back into the
// code that waits, or "". A wired cleanup waits for the work where the
// code did not wait before (the outer cleanup, the function's return), so
// the work must end once stopped: the code it runs in this package, from
// the goroutines t's constructor starts, must not block on a channel, a
// select without a way out, or a wait group, and must not call a function
// value or an interface method, which may lead back to the waiting code.
func (w *wirer) mayHang(t *wireTarget) string {
	if t.foreign {
		// Decided in the fixed package, where the work's code is in sight
		// (Target.Hang).
		return t.hang
	}
	if r, ok := w.hangs[t]; ok {
		return r
	}
	decl := w.decls[t.starter]
	if decl == nil || decl.Body == nil {
		return "its constructor is not in sight"
	}
	// The goroutines the constructor starts, in literals too: their code,
	// and what it calls in this package, is the work.
	var roots []ast.Node
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			roots = append(roots, g.Call)
		}
		return true
	})
	seen := map[*types.Func]bool{}
	why := ""
	var visit func(n ast.Node)
	visit = func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			if why != "" {
				return false
			}
			switch n := n.(type) {
			case *ast.SendStmt:
				// A send waits for a receiver, which after the stop may never
				// come.
				why = "its work sends on a channel"
			case *ast.UnaryExpr:
				// Any receive but from ctx.Done(), which the stop closes.
				if n.Op == token.ARROW && !isCtxDone(n.X, w.pkg.Info) {
					why = "its work receives from a channel"
				}
			case *ast.RangeStmt:
				// It ends only when the channel is closed.
				if _, ok := w.pkg.Info.TypeOf(n.X).Underlying().(*types.Chan); ok {
					why = "its work ranges over a channel"
				}
			case *ast.SelectStmt:
				for _, c := range n.Body.List {
					cc := c.(*ast.CommClause)
					if cc.Comm == nil || commIsCtxDone(cc.Comm, w.pkg.Info) {
						// A default or a ctx.Done() case is a way out; the
						// other cases are not walked as waits.
						for _, s := range n.Body.List {
							for _, b := range s.(*ast.CommClause).Body {
								visit(b)
							}
						}
						return false
					}
				}
				why = "its work waits in a select with no way out"
			case *ast.CallExpr:
				if tv, ok := w.pkg.Info.Types[n.Fun]; ok && tv.IsType() {
					return true // a conversion
				}
				if _, ok := ast.Unparen(n.Fun).(*ast.FuncLit); ok {
					return true // its body is walked as part of the work
				}
				fn := typeutilCallee(w.pkg.Info, n)
				// A function value may be anything, the waiting code
				// included; builtins (len, close) are not.
				if fn == nil {
					if _, builtin := w.pkg.Info.Uses[calleeIdentOrNil(n)].(*types.Builtin); !builtin {
						why = "its work calls a function value, which may lead back to the code that waits for it"
					}
					return true
				}
				// An interface method may be any type's, the waiting
				// code's included.
				if recv := fn.Signature().Recv(); recv != nil && types.IsInterface(recv.Type()) {
					why = "its work calls an interface method, which may lead back to the code that waits for it"
					return true
				}
				// WaitGroup.Wait and Cond.Wait wait for other goroutines.
				if fn.Pkg() != nil && fn.Pkg().Path() == "sync" && fn.Name() == "Wait" {
					why = "its work waits on a " + types.TypeString(fn.Signature().Recv().Type(), nil)
					return true
				}
				if why = w.foreignCall(n, fn); why != "" {
					return true
				}
				// The package's own functions are walked once each: their
				// code is part of the work.
				fn = fn.Origin()
				if d := w.decls[fn]; d != nil && !seen[fn] {
					seen[fn] = true
					visit(d.Body)
				}
			}
			return why == ""
		})
	}
	for _, r := range roots {
		visit(r)
	}
	w.hangs[t] = why
	return why
}

// typeutilCallee returns the function or method a call statically calls,
// or nil for a call of a function value or a builtin.
//
// Unlike x/tools' typeutil.StaticCallee it also returns interface
// methods, which mayHang then refuses by their receiver.
func typeutilCallee(info *types.Info, c *ast.CallExpr) *types.Func {
	switch f := ast.Unparen(c.Fun).(type) {
	case *ast.Ident:
		fn, _ := info.Uses[f].(*types.Func)
		return fn
	case *ast.SelectorExpr:
		if sel := info.Selections[f]; sel != nil {
			if sel.Kind() == types.FieldVal {
				return nil
			}
			fn, _ := sel.Obj().(*types.Func)
			return fn
		}
		fn, _ := info.Uses[f.Sel].(*types.Func) // a package's function
		return fn
	case *ast.IndexExpr:
		return typeutilCallee(info, &ast.CallExpr{Fun: f.X})
	case *ast.IndexListExpr:
		return typeutilCallee(info, &ast.CallExpr{Fun: f.X})
	case *ast.FuncLit:
		return nil
	}
	return nil
}

// calleeIdentOrNil returns the identifier a call's function is, or nil.
// Builtins are called by their bare name; unsafe's are not, and count
// as function values in mayHang.
func calleeIdentOrNil(c *ast.CallExpr) *ast.Ident {
	if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok {
		return id
	}
	return nil
}

// isCtxDone reports whether e is ctx.Done() for a context.Context ctx.
func isCtxDone(e ast.Expr, info *types.Info) bool {
	// Any context's Done: the fixed loop's stop is one, and a wait on
	// another is taken to end when that one is cancelled.
	c, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	s, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || s.Sel.Name != "Done" {
		return false
	}
	t := info.TypeOf(s.X)
	return t != nil && (types.TypeString(t, nil) == "context.Context")
}

// commIsCtxDone reports whether a select case receives from ctx.Done().
func commIsCtxDone(s ast.Stmt, info *types.Info) bool {
	ch := rules.CommRecv(s)
	return ch != nil && isCtxDone(ch, info)
}

// foreignCall says why a call the work makes of fn, declared in another
// package, could lead back to the code that waits for the work, or "". The
// package's own code is walked, another's is not: a function outside the
// standard library may take any lock or call back into any package (a
// registry whose lock the cleanup's caller holds, a health check that
// closes the server); a standard one only calls back through the function
// and interface values it is given (fmt.Fprintf writing to the caller's
// io.Writer). An error or a context handed on is only read.
func (w *wirer) foreignCall(c *ast.CallExpr, fn *types.Func) string {
	if fn.Pkg() == nil || fn.Pkg() == w.pkg.Types {
		return ""
	}
	// A module whose path has no dot (module myapp) looks standard by its
	// name alone: a package sharing the fixed package's first element is
	// taken for the module's own.
	path, home := fn.Pkg().Path(), w.pkg.Path
	first, _, _ := strings.Cut(path, "/")
	homeFirst, _, _ := strings.Cut(home, "/")
	if !rewrite.IsStd(path) || first == homeFirst {
		return "its work calls " + fn.Pkg().Name() + "." + fn.Name() + " of another package, which may lead back to the code that waits for it"
	}
	// A standard function calls back only through what it is
	// handed: a function or an interface value.
	for _, a := range c.Args {
		t := w.pkg.Info.TypeOf(a)
		if t == nil {
			continue
		}
		switch types.TypeString(t, nil) {
		case "error", "context.Context":
			continue
		}
		_, isFunc := t.Underlying().(*types.Signature)
		if isFunc || types.IsInterface(t) {
			return "its work hands " + types.ExprString(a) + " to " + fn.Pkg().Name() + "." + fn.Name() + ", which may call it and lead back to the code that waits for it"
		}
	}
	return ""
}
