package fixpkg

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// This file plans the wiring of a value held in a field of an outer owner:
// the outer's cleanup stops it, when nothing else may hold the value.

// field plans the wiring of a value assigned to a field: s.cache = New().
func (w *wirer) field(t *wireTarget, s *ast.SelectorExpr, site ast.Node) (*rewrite.Wiring, string, string) {
	sel := w.pkg.Info.Selections[s]
	// A package's variable (pkg.V = New()): no field of an owner.
	if sel == nil || sel.Kind() != types.FieldVal {
		return nil, "", "stored in " + describeExpr(s)
	}
	// The field belongs to an embedded value, whose own cleanup, not
	// the outer's, ends its life.
	if len(sel.Index()) > 1 {
		return nil, "", "stored in a field of an embedded type"
	}
	return w.fieldOf(t, sel.Obj().(*types.Var), sel.Recv(), site)
}

// fieldOf plans the wiring of a value that site stores in field fv of
// outer values: the outer's cleanup stops it.
func (w *wirer) fieldOf(t *wireTarget, fv *types.Var, outerType types.Type, site ast.Node) (*rewrite.Wiring, string, string) {
	// s.cache = New() in a method of *Outer: the selection's receiver
	// is the pointer.
	if p, ok := outerType.(*types.Pointer); ok {
		outerType = p.Elem()
	}
	outer, _ := types.Unalias(outerType).(*types.Named)
	// An unnamed struct has no methods, and so no cleanup.
	if outer == nil {
		return nil, "", "stored in a field of an unnamed struct"
	}
	held := outer.Obj().Name() + "." + fv.Name()
	// The wiring calls the cleanup on the field by name, which takes
	// the field to hold the value as *T: behind an interface it may
	// hold another type's value.
	if p, ok := fv.Type().(*types.Pointer); !ok || !sameNamed(p.Elem(), t.typ) {
		return nil, "", held + " holds it as " + types.TypeString(fv.Type(), types.RelativeTo(w.pkg.Types))
	}
	if fv.Embedded() {
		return nil, "", held + " is embedded: its cleanup is promoted to " + outer.Obj().Name()
	}
	// Then the outer's cleanup is a method of the very type whose work
	// it would wait for (a node stopping the next one down a chain).
	if outer.Origin() == t.typ.Origin() {
		return nil, "", "held by a value of its own type"
	}
	// Other packages may read the field and keep the value past the
	// outer's cleanup, and refs sees only this package's uses.
	if fv.Exported() && outer.Obj().Exported() {
		return nil, "", held + " is exported, so other packages may hold the value too"
	}
	// A copy of the outer shares the field's pointer: one copy's
	// cleanup would stop the work the other still uses.
	if at := w.copied(outer); at != "" {
		return nil, "", fmt.Sprintf("%s values are copied (%s), and the copies share %s", outer.Obj().Name(), at, held)
	}
	// The field is set once, here, and only ever used to call methods that
	// keep no reference to it: no one else holds the value.
	// ("Once" in the code: a site in a method may run again, and then
	// only the value it made last is stopped, where before the fix none
	// was.)
	for _, stack := range w.refs[fv] {
		if why := w.heldOnly(stack, site); why != "" {
			return nil, "", held + " " + why
		}
	}
	// The outer's end of life as the rules judge it: a Stop that a
	// Start undoes is a pause, not an end (promise 9).
	cleanup, why := w.cleanups.Of(outer)
	if cleanup == nil {
		if why == "" {
			why = fmt.Sprintf("%s has no cleanup method (%s)", outer.Obj().Name(), orList(rules.CleanupNames))
		}
		return nil, "", why
	}
	into := rules.FuncName(cleanup)
	if star, ok := cleanup.Recv.List[0].Type.(*ast.StarExpr); !ok || star == nil {
		return nil, "", into + " has a value receiver, so it cannot reach the fields of the value it was called on"
	}
	// Close(ctx) promises to give up at ctx's deadline; a deferred
	// wait for the work would not.
	for _, f := range cleanup.Type.Params.List {
		if t := w.pkg.Info.TypeOf(f.Type); t != nil && types.TypeString(t, nil) == "context.Context" {
			return nil, "", into + " takes a context, whose deadline waiting for the work would not keep"
		}
	}
	// The wiring reaches the field through the receiver.
	if names := cleanup.Recv.List[0].Names; len(names) == 0 || names[0].Name == "_" {
		return nil, "", into + "'s receiver has no name"
	}
	// A value receiver copies the outer at every call, so copies are
	// made even where copied finds no *p.
	for _, m := range methodsOf(outer) {
		if _, ptr := m.Signature().Recv().Type().(*types.Pointer); !ptr {
			return nil, "", fmt.Sprintf("%s has methods on values, so copies of it may share %s", outer.Obj().Name(), held)
		}
	}
	// Wired by hand, or by an earlier run: a second run changes
	// nothing (promise 6).
	if calls(cleanup, fv, t.method, w.pkg.Info) {
		return nil, "already stopped by " + into, ""
	}
	// An extended cleanup was the code's own before the fix, with
	// effects beyond stopping the work (promise 4); calling it from one
	// more place changes what the program does.
	if !t.added {
		return nil, "", fmt.Sprintf("%s existed before the fix: calling it from %s too may run it twice", t.label, into)
	}
	cfn := w.pkg.Info.Defs[cleanup.Name].(*types.Func)
	// Such a method goes on with the outer after its cleanup ran,
	// and the value stopped with it.
	if by := w.calledByOwn(cfn, outer); by != "" {
		return nil, "", fmt.Sprintf("%s is also called by %s, which may go on using the value", into, by)
	}
	if w.valueUse(cfn) {
		return nil, "", into + " is used as a function value, which the work may call"
	}
	// The wired call waits for the work: if the work can run the
	// outer's cleanup, it would wait for itself.
	if w.reaches(t, cfn) {
		return nil, "", fmt.Sprintf("%s may run from the work it would wait for", into)
	}
	// Waiting where the code did not wait before must not hang the
	// outer's cleanup.
	if why := w.mayHang(t); why != "" {
		return nil, "", why + ", so " + into + " could hang waiting for it"
	}
	return &rewrite.Wiring{Into: cleanup, Field: fv.Name(), Method: t.method}, "wired into " + into, ""
}

// heldOnly checks one reference to a field that holds the value: it is the
// site that stores it, or a call of a method that keeps no reference to
// its receiver, a field access, or a comparison with nil. It returns what
// else the reference does.
func (w *wirer) heldOnly(stack []ast.Node, site ast.Node) string {
	for _, n := range stack {
		if n == site {
			return ""
		}
	}
	i := len(stack) - 1
	id := stack[i].(*ast.Ident)
	if _, ok := stack[i-1].(*ast.Field); ok {
		return "" // the field's declaration
	}
	// x.f: the use of the selector as a whole is judged, as onlyUsed
	// judges a value's.
	if s, ok := stack[i-1].(*ast.SelectorExpr); ok && s.Sel == id {
		i--
	} else if kv, ok := stack[i-1].(*ast.KeyValueExpr); ok && kv.Key == id {
		return "is set again in a composite literal" + in(stack)
	}
	return w.onlyUsed(stack[:i+1])
}

// fieldStays checks a field read through the value, x.f, whose nodes above
// it are stack (ending with the selector): the field's content must not be
// handed on where it would share the value's state, which the cleanup
// stops changing. Using the field in place (x.mu.Lock(), x.m[k] = v,
// len(x.m), x.n++) shares nothing.
func (w *wirer) fieldStays(stack []ast.Node, s *ast.SelectorExpr, f types.Object) string {
	// A copy of a field that refers to nothing (a number, a string,
	// an array of them) shares nothing with the value.
	if !shares(f.Type()) {
		return ""
	}
	switch p := stack[len(stack)-2].(type) {
	// Uses read as in place: a selector into the field, an index or
	// a slice of it, an increment, a comparison or arithmetic. An
	// index or a slice counts wherever its result then goes, and so
	// does the field used as another's index.
	case *ast.SelectorExpr, *ast.IndexExpr, *ast.IndexListExpr, *ast.IncDecStmt, *ast.BinaryExpr, *ast.SliceExpr:
		return ""
	case *ast.RangeStmt:
		// Ranging over it reads it where it is.
		if p.X == s {
			return ""
		}
	case *ast.AssignStmt:
		// Storing into the field replaces it and hands nothing out.
		for _, l := range p.Lhs {
			if l == s {
				return ""
			}
		}
	case *ast.CallExpr:
		if id, ok := ast.Unparen(p.Fun).(*ast.Ident); ok {
			// len, cap, close, delete, copy, clear: they read or change
			// it in place. append may return its backing array.
			if _, ok := w.pkg.Info.Uses[id].(*types.Builtin); ok && id.Name != "append" {
				return ""
			}
		}
	case *ast.UnaryExpr:
		if p.Op == token.ARROW {
			return ""
		}
	}
	return "hands on its field " + f.Name() + in(stack)
}

// shares reports whether a value of type t refers to memory it does not
// hold: a copy of it shares state with the original.
func shares(t types.Type) bool {
	// A string shares nothing that can change; of the basic types only
	// unsafe.Pointer refers to memory. Pointers, slices, maps, channels,
	// functions and interfaces all do.
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return u.Kind() == types.UnsafePointer
	case *types.Struct:
		for i := range u.NumFields() {
			if shares(u.Field(i).Type()) {
				return true
			}
		}
		return false
	case *types.Array:
		return shares(u.Elem())
	}
	return true
}

// copied returns where the package copies a value of type outer out of a
// pointer (c2 := *c), or "": the copy's fields hold what the original's
// do, so a cleanup of one would stop the other's work.
func (w *wirer) copied(outer *types.Named) string {
	at := ""
	for _, f := range w.pkg.Syntax {
		walkStack(f, func(n ast.Node, stack []ast.Node) {
			star, ok := n.(*ast.StarExpr)
			if at != "" || !ok || len(stack) < 2 {
				return
			}
			if tv, ok := w.pkg.Info.Types[star]; !ok || !tv.IsValue() || !sameNamed(tv.Type, outer) {
				return
			}
			// Reading a field through the pointer, or storing through it,
			// copies nothing out.
			switch p := stack[len(stack)-2].(type) {
			case *ast.SelectorExpr:
				return // (*c).f reads a field
			case *ast.ParenExpr:
				if _, ok := stack[max(len(stack)-3, 0)].(*ast.SelectorExpr); ok {
					return
				}
			case *ast.AssignStmt:
				if slices.Contains(p.Lhs, ast.Expr(star)) {
					return // *c = Outer{} writes through the pointer
				}
			}
			// The first copy found is enough for the reason.
			pos := w.pkg.Fset.Position(star.Pos())
			at = fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line)
		})
	}
	return at
}

// calledByOwn returns a method of outer, other than cleanup itself, that
// calls cleanup (a Reconnect that closes and dials again), or "": the
// value the cleanup would stop may still be used after such a call.
func (w *wirer) calledByOwn(cleanup *types.Func, outer *types.Named) string {
	for _, stack := range w.refs[cleanup] {
		for i := len(stack) - 1; i >= 0; i-- {
			// The innermost declaration around the reference is the
			// function that refers to the cleanup.
			d, ok := stack[i].(*ast.FuncDecl)
			if !ok {
				continue
			}
			if fn, _ := w.pkg.Info.Defs[d.Name].(*types.Func); fn != nil && fn != cleanup && d.Recv != nil {
				if r := fn.Signature().Recv(); r != nil && sameNamed(derefType(r.Type()), outer) {
					return rules.FuncName(d)
				}
			}
			break
		}
	}
	return ""
}

// derefType returns what t points to, or t itself.
func derefType(t types.Type) types.Type {
	if p, ok := t.(*types.Pointer); ok {
		return p.Elem()
	}
	return t
}
