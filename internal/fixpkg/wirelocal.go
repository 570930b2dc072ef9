package fixpkg

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// local plans the wiring of a value a function makes into a variable of
// its own, x := New() or x, err := New(): when nothing else may hold x, the
// function's return ends its life, and a deferred call stops it then.
func (w *wirer) local(t *wireTarget, id *ast.Ident, site *ast.AssignStmt, stack []ast.Node, test bool) (*rewrite.Wiring, string, string) {
	obj, _ := w.pkg.Info.Defs[id].(*types.Var)
	// With :=, a name already declared in the scope is assigned, not
	// defined: it may hold an earlier value, and live longer.
	if obj == nil {
		return nil, "", "assigned to a variable declared before"
	}
	// The innermost function around the statement, which must be a
	// statement of that function's body: in a loop, a deferred call would
	// wait for the function's end, not the iteration's.
	fi := -1
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			fi = i
		}
		if fi >= 0 {
			break
		}
	}
	if fi < 0 {
		return nil, "", "made outside a function"
	}
	fn := stack[fi]
	var body *ast.BlockStmt
	var ftype *ast.FuncType
	name := "a function literal"
	switch f := fn.(type) {
	case *ast.FuncDecl:
		body, ftype, name = f.Body, f.Type, rules.FuncName(f)
	// Named by the declaration around it, for the reason.
	case *ast.FuncLit:
		body, ftype = f.Body, f.Type
		for i := fi - 1; i >= 0; i-- {
			if d, ok := stack[i].(*ast.FuncDecl); ok {
				name = "a function literal in " + rules.FuncName(d)
				break
			}
		}
	}
	at := -1
	for i, s := range body.List {
		if s == site {
			at = i
		}
	}
	// In a nested block (an if, a loop) the value may be made several
	// times or not at all, while a deferred call runs once.
	if at < 0 {
		return nil, "", "made in a nested block of " + name + ", not where its life ends"
	}
	after := ast.Stmt(site)
	// x, err := New(): x may be nil when err is not, so the call goes
	// after the check that leaves then, where x is known to be good.
	if len(site.Lhs) == 2 {
		errID, ok := site.Lhs[1].(*ast.Ident)
		if !ok || errID.Name == "_" || at+1 >= len(body.List) || !checksErr(body.List[at+1], errID.Name) {
			return nil, "", "its error is not checked right after it is made, so it may be nil"
		}
		after = body.List[at+1]
	} else if len(site.Lhs) != 1 {
		return nil, "", "made in an assignment of several values"
	}
	v := id.Name
	// main's return ends the process, however widely the value was shared:
	// there, what matters is that main returns at all, and that nothing it
	// deferred before making the value waits for work that uses it.
	inMain := isMain(w.pkg, fn)
	if inMain {
		if why := w.mainReturns(fn.(*ast.FuncDecl), body.List[:at]); why != "" {
			return nil, "", why
		}
	}
	for _, ref := range w.refs[obj] {
		last := ref[len(ref)-1]
		if last == id {
			continue
		}
		// Shared or not, the value lives until main returns; only a
		// cleanup already called there matters.
		if inMain {
			if isCleanupCall(ref, t.method) {
				return nil, "already stopped in " + name, ""
			}
			continue
		}
		// A literal or goroutine may keep x beyond the function's
		// return, where the deferred call would stop it.
		if capturedIn(ref, fn) {
			return nil, "", v + " is captured by a function literal or goroutine, which may outlive " + name
		}
		if why := w.onlyUsed(ref); why != "" {
			return nil, "", v + " " + why
		}
		// Stopped by hand, or by an earlier run (promise 6): only a call
		// of t.method, the cleanup the fix made or extended, as field
		// and main wiring judge it. Another of rules.CleanupNames may
		// not end the work at all (a Stop that a Start undoes is a
		// pause), and the fix chose t.method because it does not.
		if isCleanupCall(ref, t.method) {
			return nil, "already stopped in " + name, ""
		}
	}
	if !t.added {
		// An extended cleanup does more than stop the work, and the code
		// did not call it here: calling it now may close what the caller
		// still uses.
		return nil, "", fmt.Sprintf("%s existed before the fix and %s never called it: calling it now may do more than stop the work", t.label, name)
	}
	if why := w.mayHang(t); why != "" {
		return nil, "", why + ", so " + name + " could hang waiting for it"
	}
	// Deferred calls run last in, first out: a defer mu.Unlock()
	// made before the value runs after the new deferred call, which
	// would wait, holding mu, for work that may need it.
	if locks(body, w.pkg.Info) {
		return nil, "", name + " locks a mutex, which the work may need while " + name + "'s return waits for it"
	}
	// With Result and Test, rewrite.Wire drops the error in a function
	// literal: t.Cleanup takes only a func().
	wr := &rewrite.Wiring{Into: fn, Var: v, After: after, Method: t.method, Result: t.results > 0}
	how := "deferred until " + name + " returns"
	// In a test, t.Cleanup rather than defer: parallel subtests still
	// run after the test function returns, and the cleanup waits for
	// them.
	if test {
		if tv := testingParam(ftype, w.pkg.Info); tv != "" {
			wr.Test, how = tv, tv+".Cleanup at the end of "+name
		}
	}
	return wr, how, ""
}

// isCleanupCall reports whether the reference ending stack selects method,
// the target's cleanup, on it.
func isCleanupCall(stack []ast.Node, method string) bool {
	// By name, as calls and mainPackage match it. A method value
	// (stop := x.Shutdown) counts as well, in main, where onlyUsed is not
	// asked; elsewhere onlyUsed has refused it first.
	if len(stack) < 3 {
		return false
	}
	s, ok := stack[len(stack)-2].(*ast.SelectorExpr)
	return ok && s.Sel.Name == method
}

// checksErr reports whether s is `if err != nil { ...; return }`.
func checksErr(s ast.Stmt, err string) bool {
	is, ok := s.(*ast.IfStmt)
	if !ok || is.Init != nil || is.Else != nil || len(is.Body.List) == 0 {
		return false
	}
	b, ok := is.Cond.(*ast.BinaryExpr)
	if !ok || b.Op != token.NEQ || !isNil(b.Y) {
		return false
	}
	if id, ok := b.X.(*ast.Ident); !ok || id.Name != err {
		return false
	}
	switch last := is.Body.List[len(is.Body.List)-1].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.ExprStmt:
		// t.Fatal(err) and friends end a test.
		if c, ok := last.X.(*ast.CallExpr); ok {
			if s, ok := c.Fun.(*ast.SelectorExpr); ok {
				switch s.Sel.Name {
				case "Fatal", "Fatalf", "FailNow", "Skip", "Skipf", "SkipNow":
					return true
				}
			}
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "panic" {
				return true
			}
		}
	}
	return false
}

// locks reports whether body locks a sync.Mutex or sync.RWMutex.
func locks(body *ast.BlockStmt, info *types.Info) bool {
	// By the method's package and name, so that an embedded mutex
	// counts too; a lock taken inside a helper of the package's own is
	// not seen.
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok && (s.Sel.Name == "Lock" || s.Sel.Name == "RLock") {
			if fn, ok := info.Uses[s.Sel].(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "sync" {
				found = true
			}
		}
		return !found
	})
	return found
}

// testingParam returns the name of ft's *testing.T or *testing.B
// parameter, or "".
func testingParam(ft *ast.FuncType, info *types.Info) string {
	// testing.TB and *testing.F are not looked for; the parameter must
	// be named to be called.
	for _, f := range ft.Params.List {
		p, ok := info.TypeOf(f.Type).(*types.Pointer)
		if !ok {
			continue
		}
		n, ok := types.Unalias(p.Elem()).(*types.Named)
		if !ok || n.Obj().Pkg() == nil || n.Obj().Pkg().Path() != "testing" || (n.Obj().Name() != "T" && n.Obj().Name() != "B") {
			continue
		}
		if len(f.Names) == 1 && f.Names[0].Name != "_" {
			return f.Names[0].Name
		}
	}
	return ""
}
