package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
	"github.com/dave/dst/decorator/resolver/gotypes"
	"github.com/dave/dst/dstutil"
)

// A Wiring calls a fixed value's cleanup where the code shows the value's
// life ends, so that the fix takes effect. The engine decides where that is
// and that it is safe; the rewriter only writes it.
//
// With Field set, the value is held in that field of the receiver of Into,
// the outer owner's cleanup, which now also stops it once its own work is
// done:
//
//	func (s *Server) Close() error {
//		if s.cache != nil {
//			defer s.cache.Shutdown()
//		}
//		...
//
// A deferred call registered first runs last: after everything Close does,
// its deferred unlocks included, and after the outer cleanups registered
// after it (fields built later stop first, in reverse order of
// construction). Close's result is what it was.
//
// Otherwise the value lives in the local variable Var of Into (a function
// or a function literal), made by the statement After (or checked for an
// error by it): `defer x.Shutdown()` follows After, or, with Test set (the
// name of the *testing.T or *testing.B), `t.Cleanup(x.Shutdown)`.
//
// With Pkg set, the cleanup is the function Method of the package of that
// import path, which Into's file imports, deferred at the start of Into
// (main), so that it runs last: `defer metrics.Shutdown()`.
type Wiring struct {
	Into   ast.Node // *ast.FuncDecl or *ast.FuncLit
	Field  string
	Var    string
	Pkg    string
	After  ast.Stmt
	Test   string
	Method string
	// Result says Method returns a value (an error), which a deferred
	// call drops and t.Cleanup cannot take: func() { _ = x.Close() }.
	Result bool
}

// Wire writes the wirings into pkg and returns the new content of every
// file they change.
func Wire(pkg *Package, wirings []Wiring) (map[string][]byte, error) {
	rw := &rewriter{
		pkg:   pkg,
		dec:   decorator.NewDecoratorWithImports(pkg.Fset, pkg.Path, gotypes.New(pkg.Info.Uses)),
		files: map[*ast.File]*dst.File{},
		taken: map[*ast.FuncDecl]map[string]bool{},
	}
	for _, w := range wirings {
		if err := rw.wire(w); err != nil {
			return nil, err
		}
	}
	out, _, err := rw.restore()
	return out, err
}

// wire writes one wiring into w.Into. Each form puts its call where the
// value's life visibly ends and adds nothing else: the engine has already
// decided it is safe there, so a place that cannot be found means the plan
// and the code disagree, which is an error.
func (rw *rewriter) wire(w Wiring) error {
	fn, err := rw.node(w.Into)
	if err != nil {
		return err
	}
	var body *dst.BlockStmt
	switch fn := fn.(type) {
	case *dst.FuncDecl:
		body = fn.Body
	case *dst.FuncLit:
		body = fn.Body
	}
	if body == nil {
		return fmt.Errorf("%s: wiring into a function without a body", rw.pkg.Fset.Position(w.Into.Pos()))
	}
	// main's shutdown path: the package's cleanup is deferred at the start
	// of main, so that it runs once the rest of main is done.
	if w.Pkg != "" {
		s := &dst.DeferStmt{Call: call(&dst.Ident{Name: w.Method, Path: w.Pkg})}
		s.Decs.After = dst.NewLine
		// After the package cleanups deferred before, which then run
		// after it.
		at := 0
		for at < len(body.List) && deferredPackage(body.List[at]) {
			at++
		}
		body.List = append(body.List[:at], append([]dst.Stmt{s}, body.List[at:]...)...)
		return nil
	}
	if w.Field != "" {
		decl, ok := w.Into.(*ast.FuncDecl)
		if !ok || decl.Recv == nil || len(decl.Recv.List[0].Names) == 0 {
			return fmt.Errorf("%s: wiring a field into a function without a named receiver", rw.pkg.Fset.Position(w.Into.Pos()))
		}
		// held builds a new selector for each use, since a dst node may stand in
		// one place only. The nil check keeps the outer cleanup safe on an owner
		// whose field was never set, as Shutdown is on a zero value (promise 3).
		held := func() dst.Expr { return sel(dst.NewIdent(decl.Recv.List[0].Names[0].Name), w.Field) }
		s := &dst.IfStmt{
			Cond: &dst.BinaryExpr{X: held(), Op: token.NEQ, Y: dst.NewIdent("nil")},
			Body: &dst.BlockStmt{List: []dst.Stmt{&dst.DeferStmt{Call: call(sel(held(), w.Method))}}},
		}
		// Below the cleanup's leading `if s == nil { return }`, which
		// keeps closing a nil value safe; then wirings of one cleanup go
		// in construction order, so that the value built last stops first.
		at := 0
		for at < len(body.List) && nilGuard(body.List[at], decl.Recv.List[0].Names[0].Name) {
			at++
		}
		for at < len(body.List) && wiredField(body.List[at]) {
			at++
		}
		s.Decs.After = dst.NewLine
		body.List = append(body.List[:at], append([]dst.Stmt{s}, body.List[at:]...)...)
		return nil
	}
	after, err := rw.node(w.After)
	if err != nil {
		return err
	}
	var s dst.Stmt
	switch {
	// t.Cleanup takes a func(), so a cleanup with a result is wrapped and its
	// result dropped, as a deferred call drops it.
	case w.Test != "" && w.Result:
		lit := &dst.FuncLit{Type: &dst.FuncType{Params: &dst.FieldList{}}, Body: &dst.BlockStmt{List: []dst.Stmt{
			&dst.AssignStmt{Lhs: []dst.Expr{dst.NewIdent("_")}, Tok: token.ASSIGN, Rhs: []dst.Expr{call(sel(dst.NewIdent(w.Var), w.Method))}},
		}}}
		s = &dst.ExprStmt{X: call(sel(dst.NewIdent(w.Test), "Cleanup"), lit)}
	// In a test the value lives until the test ends, subtests included:
	// parallel subtests run after the test function returns, so t.Cleanup
	// is the place, not a defer.
	case w.Test != "":
		s = &dst.ExprStmt{X: call(sel(dst.NewIdent(w.Test), "Cleanup"), sel(dst.NewIdent(w.Var), w.Method))}
	default:
		s = &dst.DeferStmt{Call: call(sel(dst.NewIdent(w.Var), w.Method))}
	}
	done := false
	dstutil.Apply(body, func(c *dstutil.Cursor) bool {
		// Right after the statement that makes the value, so that no return
		// in between leaves it running; when After is the error check, the
		// cleanup never runs on the nil value a failed constructor returns.
		if !done && c.Node() == after && c.Index() >= 0 {
			c.InsertAfter(s)
			done = true
		}
		return !done
	}, nil)
	if !done {
		return fmt.Errorf("%s: the value is not made in a statement list", rw.pkg.Fset.Position(w.After.Pos()))
	}
	return nil
}

// wiredField reports whether s is a wiring of a field written before:
// if s.f != nil { defer s.f.M() }.
func wiredField(s dst.Stmt) bool {
	is, ok := s.(*dst.IfStmt)
	if !ok || is.Init != nil || is.Else != nil || len(is.Body.List) != 1 {
		return false
	}
	d, ok := is.Body.List[0].(*dst.DeferStmt)
	if !ok {
		return false
	}
	b, ok := is.Cond.(*dst.BinaryExpr)
	if !ok || b.Op != token.NEQ {
		return false
	}
	f, ok := d.Call.Fun.(*dst.SelectorExpr)
	return ok && len(d.Call.Args) == 0 && sameSel(f.X, b.X)
}

// sameSel reports whether a and b are the same one-level selector, s.f
// and s.f: enough for the wirings wire writes, which always spell the
// field through the receiver.
func sameSel(a, b dst.Expr) bool {
	sa, ok1 := a.(*dst.SelectorExpr)
	sb, ok2 := b.(*dst.SelectorExpr)
	if !ok1 || !ok2 || sa.Sel.Name != sb.Sel.Name {
		return false
	}
	ia, ok1 := sa.X.(*dst.Ident)
	ib, ok2 := sb.X.(*dst.Ident)
	return ok1 && ok2 && ia.Name == ib.Name
}

// deferredPackage reports whether s defers a package's function with no
// arguments: defer metrics.Shutdown().
func deferredPackage(s dst.Stmt) bool {
	d, ok := s.(*dst.DeferStmt)
	if !ok || len(d.Call.Args) > 0 {
		return false
	}
	f, ok := d.Call.Fun.(*dst.Ident)
	return ok && f.Path != ""
}

// IsNilGuard reports whether s is `if recv == nil { ...; return ... }`, or
// the same test spelled `nil == recv`: a cleanup's leading guard, below
// which the rewrite puts the stops it adds and the cleanups it wires in,
// so that calling the cleanup on a nil receiver still does nothing.
// nilGuard is the same test on the rewrite's own syntax tree; the wiring
// (internal/fixpkg) places its edits by this one.
func IsNilGuard(s ast.Stmt, recv string) bool {
	is, ok := s.(*ast.IfStmt)
	if !ok || is.Init != nil || is.Else != nil || len(is.Body.List) == 0 {
		return false
	}
	b, ok := is.Cond.(*ast.BinaryExpr)
	if !ok || b.Op != token.EQL {
		return false
	}
	x, ok1 := b.X.(*ast.Ident)
	y, ok2 := b.Y.(*ast.Ident)
	if !ok1 || !ok2 || !(x.Name == recv && y.Name == "nil" || x.Name == "nil" && y.Name == recv) {
		return false
	}
	_, ok = is.Body.List[len(is.Body.List)-1].(*ast.ReturnStmt)
	return ok
}

// nilGuard is IsNilGuard on the rewrite's dst tree.
func nilGuard(s dst.Stmt, recv string) bool {
	is, ok := s.(*dst.IfStmt)
	if !ok || is.Init != nil || is.Else != nil || len(is.Body.List) == 0 {
		return false
	}
	b, ok := is.Cond.(*dst.BinaryExpr)
	if !ok || b.Op != token.EQL {
		return false
	}
	x, ok1 := b.X.(*dst.Ident)
	y, ok2 := b.Y.(*dst.Ident)
	if !ok1 || !ok2 || !(x.Name == recv && y.Name == "nil" || x.Name == "nil" && y.Name == recv) {
		return false
	}
	_, ok = is.Body.List[len(is.Body.List)-1].(*dst.ReturnStmt)
	return ok
}
