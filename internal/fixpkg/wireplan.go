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

// A wirer decides, in one fixed package, where a value's cleanup can be
// called: only where the code proves the value's life ends there and that
// nothing else may still use it.
type wirer struct {
	pkg      *Package
	cleanups *rules.Cleanups
	decls    map[*types.Func]*ast.FuncDecl
	refs     map[types.Object][][]ast.Node // every identifier naming an object, with the nodes above it
	stays    map[*types.Func]bool          // methods that keep no reference to their receiver
	// foreignStays names, as pkgpath.Type.Method, the methods of other
	// packages' types that keep no reference to their receiver, as the
	// packages that declare them found (Target.Stays).
	foreignStays map[string]bool
	hangs        map[*wireTarget]string // why waiting for a target's work could hang
}

func newWirer(pkg *Package) *wirer {
	w := &wirer{
		pkg:      pkg,
		cleanups: rules.NewCleanups(&rules.Pass{Fset: pkg.Fset, Pkg: pkg.Types, Info: pkg.Info, Files: pkg.Syntax, AllFiles: pkg.Syntax, GoVersion: pkg.GoVersion}),
		decls:    map[*types.Func]*ast.FuncDecl{},
		refs:     map[types.Object][][]ast.Node{},
		stays:    map[*types.Func]bool{},
		hangs:    map[*wireTarget]string{},
	}
	for _, f := range pkg.Syntax {
		walkStack(f, func(n ast.Node, stack []ast.Node) {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if fn, ok := pkg.Info.Defs[n.Name].(*types.Func); ok {
					w.decls[fn] = n
				}
			case *ast.Ident:
				obj := pkg.Info.Uses[n]
				if obj == nil {
					obj = pkg.Info.Defs[n]
				}
				if obj != nil {
					w.refs[obj] = append(w.refs[obj], append([]ast.Node(nil), stack...))
				}
			}
		})
	}
	return w
}

// plan decides what to do about one call of t's constructor, whose nodes
// from the file down are stack: a wiring and where it goes, or why none is
// made ("" with no wiring when the value is already cleaned up there).
func (w *wirer) plan(t *wireTarget, c *ast.CallExpr, stack []ast.Node, test bool) (*rewrite.Wiring, string, string) {
	if t.params > 0 || t.results > 1 {
		return nil, "", t.label + " takes arguments or returns more than an error"
	}
	if why := ReturnedAs(t.starter, t.typ.Obj().Name(), t.method); why != "" {
		return nil, "", why
	}
	i := len(stack) - 1 // stack[i] is c
	for i > 0 {
		if _, ok := stack[i-1].(*ast.ParenExpr); !ok {
			break
		}
		i--
	}
	if i == 0 {
		return nil, "", ""
	}
	switch p := stack[i-1].(type) {
	case *ast.AssignStmt:
		if len(p.Rhs) != 1 {
			return nil, "", "made in an assignment of several values"
		}
		if s, ok := ast.Unparen(p.Lhs[0]).(*ast.SelectorExpr); ok && len(p.Lhs) == 1 {
			return w.field(t, s, p)
		}
		if id, ok := p.Lhs[0].(*ast.Ident); ok && p.Tok == token.DEFINE {
			return w.local(t, id, p, stack[:i-1], test)
		}
		return nil, "", "stored in " + describeExpr(p.Lhs[0])
	case *ast.KeyValueExpr:
		if lit, ok := stack[i-2].(*ast.CompositeLit); ok && p.Value == stack[i] {
			if key, ok := p.Key.(*ast.Ident); ok {
				if fv, ok := w.pkg.Info.Uses[key].(*types.Var); ok && fv.IsField() {
					return w.fieldOf(t, fv, w.pkg.Info.TypeOf(lit), p)
				}
			}
		}
		return nil, "", "stored in a map or slice"
	case *ast.ReturnStmt:
		return nil, "", "returned to the caller, whose code decides when it is done"
	case *ast.CallExpr:
		return nil, "", "passed to " + describeExpr(p.Fun) + ", which may keep it"
	case *ast.ValueSpec:
		return nil, "", "held in a variable declared with var"
	case *ast.CompositeLit:
		return nil, "", "stored in a slice or array"
	case *ast.SendStmt:
		return nil, "", "sent on a channel"
	case *ast.ExprStmt:
		return nil, "", "its result is dropped, so nothing can stop it"
	}
	return nil, "", "its value is used in an expression, not kept in a variable or field"
}

// field plans the wiring of a value assigned to a field: s.cache = New().
func (w *wirer) field(t *wireTarget, s *ast.SelectorExpr, site ast.Node) (*rewrite.Wiring, string, string) {
	sel := w.pkg.Info.Selections[s]
	if sel == nil || sel.Kind() != types.FieldVal {
		return nil, "", "stored in " + describeExpr(s)
	}
	if len(sel.Index()) > 1 {
		return nil, "", "stored in a field of an embedded type"
	}
	return w.fieldOf(t, sel.Obj().(*types.Var), sel.Recv(), site)
}

// fieldOf plans the wiring of a value that site stores in field fv of
// outer values: the outer's cleanup stops it.
func (w *wirer) fieldOf(t *wireTarget, fv *types.Var, outerType types.Type, site ast.Node) (*rewrite.Wiring, string, string) {
	if p, ok := outerType.(*types.Pointer); ok {
		outerType = p.Elem()
	}
	outer, _ := types.Unalias(outerType).(*types.Named)
	if outer == nil {
		return nil, "", "stored in a field of an unnamed struct"
	}
	held := outer.Obj().Name() + "." + fv.Name()
	if p, ok := fv.Type().(*types.Pointer); !ok || !sameNamed(p.Elem(), t.typ) {
		return nil, "", held + " holds it as " + types.TypeString(fv.Type(), types.RelativeTo(w.pkg.Types))
	}
	if fv.Embedded() {
		return nil, "", held + " is embedded: its cleanup is promoted to " + outer.Obj().Name()
	}
	if outer.Origin() == t.typ.Origin() {
		return nil, "", "held by a value of its own type"
	}
	if fv.Exported() && outer.Obj().Exported() {
		return nil, "", held + " is exported, so other packages may hold the value too"
	}
	if at := w.copied(outer); at != "" {
		return nil, "", fmt.Sprintf("%s values are copied (%s), and the copies share %s", outer.Obj().Name(), at, held)
	}
	// The field is set once, here, and only ever used to call methods that
	// keep no reference to it: no one else holds the value.
	for _, stack := range w.refs[fv] {
		if why := w.heldOnly(stack, site); why != "" {
			return nil, "", held + " " + why
		}
	}
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
	for _, f := range cleanup.Type.Params.List {
		if t := w.pkg.Info.TypeOf(f.Type); t != nil && types.TypeString(t, nil) == "context.Context" {
			return nil, "", into + " takes a context, whose deadline waiting for the work would not keep"
		}
	}
	if names := cleanup.Recv.List[0].Names; len(names) == 0 || names[0].Name == "_" {
		return nil, "", into + "'s receiver has no name"
	}
	for _, m := range methodsOf(outer) {
		if _, ptr := m.Signature().Recv().Type().(*types.Pointer); !ptr {
			return nil, "", fmt.Sprintf("%s has methods on values, so copies of it may share %s", outer.Obj().Name(), held)
		}
	}
	if calls(cleanup, fv, t.method, w.pkg.Info) {
		return nil, "already stopped by " + into, ""
	}
	if !t.added {
		return nil, "", fmt.Sprintf("%s existed before the fix: calling it from %s too may run it twice", t.label, into)
	}
	cfn := w.pkg.Info.Defs[cleanup.Name].(*types.Func)
	if by := w.calledByOwn(cfn, outer); by != "" {
		return nil, "", fmt.Sprintf("%s is also called by %s, which may go on using the value", into, by)
	}
	if w.valueUse(cfn) {
		return nil, "", into + " is used as a function value, which the work may call"
	}
	if w.reaches(t, cfn) {
		return nil, "", fmt.Sprintf("%s may run from the work it would wait for", into)
	}
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
	if s, ok := stack[i-1].(*ast.SelectorExpr); ok && s.Sel == id {
		i--
	} else if kv, ok := stack[i-1].(*ast.KeyValueExpr); ok && kv.Key == id {
		return "is set again in a composite literal" + in(stack)
	}
	return w.onlyUsed(stack[:i+1])
}

// onlyUsed checks the use of a value whose expression ends stack.
func (w *wirer) onlyUsed(stack []ast.Node) string {
	i := len(stack) - 1
	e := stack[i]
	for i > 0 {
		if _, ok := stack[i-1].(*ast.ParenExpr); !ok {
			break
		}
		i--
		e = stack[i]
	}
	switch p := stack[i-1].(type) {
	case *ast.SelectorExpr:
		sel := w.pkg.Info.Selections[p]
		if sel == nil {
			return ""
		}
		if sel.Kind() == types.FieldVal {
			return w.fieldStays(stack[:i], p, sel.Obj())
		}
		m, _ := sel.Obj().(*types.Func)
		if c, ok := stack[i-2].(*ast.CallExpr); !ok || c.Fun != p || m == nil {
			return "is used as a method value" + in(stack)
		}
		if !w.receiverStays(m.Origin()) {
			return fmt.Sprintf("is handed to %s, which may keep it", rules.FuncLabel(m))
		}
		// A channel or function the method returns may be fed by the
		// work (a subscription), which the cleanup stops.
		if _, dropped := stack[max(i-3, 0)].(*ast.ExprStmt); !dropped {
			res := m.Signature().Results()
			for j := range res.Len() {
				switch res.At(j).Type().Underlying().(type) {
				case *types.Chan, *types.Signature:
					return fmt.Sprintf("is used through %s, whose result may depend on its work", rules.FuncLabel(m))
				}
			}
		}
		return ""
	case *ast.BinaryExpr:
		if (p.Op == token.EQL || p.Op == token.NEQ) && (isNil(p.X) || isNil(p.Y)) {
			return ""
		}
	case *ast.AssignStmt:
		for _, l := range p.Lhs {
			if l == e {
				return "is set again" + in(stack)
			}
		}
		return "is copied" + in(stack)
	case *ast.ReturnStmt:
		return "is returned" + in(stack)
	case *ast.CallExpr:
		return "is passed to " + describeExpr(p.Fun) + in(stack) + ", which may keep it"
	case *ast.UnaryExpr:
		if p.Op == token.AND {
			return "has its address taken" + in(stack)
		}
	case *ast.CompositeLit, *ast.KeyValueExpr:
		return "is stored in a composite value" + in(stack)
	case *ast.SendStmt:
		return "is sent on a channel" + in(stack)
	}
	return "is used as a value" + in(stack)
}

// receiverStays reports whether method m keeps no reference to its
// receiver once it returns: the receiver only reaches fields, nil
// comparisons and methods that keep none either, and no function literal
// or goroutine captures it.
func (w *wirer) receiverStays(m *types.Func) bool {
	if r, ok := w.stays[m]; ok {
		return r
	}
	decl := w.decls[m]
	if decl == nil || decl.Body == nil {
		// Not declared in this package: it may do anything, unless the
		// package that declares it found otherwise.
		return w.foreignStays[methodKey(m)]
	}
	w.stays[m] = true // a recursive call keeps nothing more
	ok := true
	if names := decl.Recv.List[0].Names; len(names) > 0 {
		recv := w.pkg.Info.Defs[names[0]]
		for _, stack := range w.refs[recv] {
			if stack[len(stack)-1] == names[0] {
				continue
			}
			if capturedIn(stack, decl) || w.onlyUsed(stack) != "" {
				ok = false
				break
			}
		}
	}
	w.stays[m] = ok
	return ok
}

// methodKey names a method across packages: example.com/cache.Cache.Put.
func methodKey(m *types.Func) string {
	recv := m.Signature().Recv()
	if recv == nil || m.Pkg() == nil {
		return ""
	}
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return ""
	}
	return m.Pkg().Path() + "." + n.Obj().Name() + "." + m.Name()
}

// capturedIn reports whether the reference ending stack lies in a function
// literal or go statement inside fn.
func capturedIn(stack []ast.Node, fn ast.Node) bool {
	inside := false
	for _, n := range stack {
		if n == fn {
			inside = true
			continue
		}
		switch n.(type) {
		case *ast.FuncLit, *ast.GoStmt:
			if inside {
				return true
			}
		}
	}
	return false
}

// valueUse reports whether fn is referenced other than by calling it.
func (w *wirer) valueUse(fn *types.Func) bool {
	for _, stack := range w.refs[fn] {
		id := stack[len(stack)-1]
		if len(stack) < 3 {
			continue
		}
		if _, ok := stack[len(stack)-2].(*ast.FuncDecl); ok {
			continue // the declaration
		}
		s, ok := stack[len(stack)-2].(*ast.SelectorExpr)
		if !ok || s.Sel != id {
			return true
		}
		if c, ok := stack[len(stack)-3].(*ast.CallExpr); !ok || c.Fun != s {
			return true
		}
	}
	return false
}

// reaches reports whether cleanup may be called, through calls the package
// makes directly, from the code of t: its constructor and methods. The
// wired cleanup waits for t's work, so the work must not call it.
func (w *wirer) reaches(t *wireTarget, cleanup *types.Func) bool {
	seen := map[*types.Func]bool{}
	todo := []*types.Func{t.starter}
	todo = append(todo, methodsOf(t.typ)...)
	for len(todo) > 0 {
		fn := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		fn = fn.Origin()
		if fn == cleanup {
			return true
		}
		if seen[fn] || w.decls[fn] == nil {
			continue
		}
		seen[fn] = true
		ast.Inspect(w.decls[fn], func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				if callee, ok := w.pkg.Info.Uses[id].(*types.Func); ok {
					todo = append(todo, callee)
				}
			}
			return true
		})
	}
	return false
}

// calls reports whether fn calls method on field fv.
func calls(fn *ast.FuncDecl, fv *types.Var, method string, info *types.Info) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return !found
		}
		if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == method {
			if inner, ok := ast.Unparen(s.X).(*ast.SelectorExpr); ok {
				if sel := info.Selections[inner]; sel != nil && sel.Obj() == fv {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

func methodsOf(t *types.Named) []*types.Func {
	var out []*types.Func
	for i := range t.NumMethods() {
		out = append(out, t.Method(i))
	}
	return out
}

func sameNamed(t types.Type, n *types.Named) bool {
	m, ok := types.Unalias(t).(*types.Named)
	return ok && m.Origin() == n.Origin()
}

func isNil(e ast.Expr) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && id.Name == "nil"
}

// in names the function a reference lies in, for a reason: " in Reset".
// (Positions would name lines of the fixed code, not the code as it was.)
func in(stack []ast.Node) string {
	for i := len(stack) - 1; i >= 0; i-- {
		if d, ok := stack[i].(*ast.FuncDecl); ok {
			return " in " + rules.FuncName(d)
		}
	}
	return " in a package-level declaration"
}

// describeExpr words a short expression for a reason: s.cache, register.
func describeExpr(e ast.Expr) string {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return describeExpr(e.X) + "." + e.Sel.Name
	case *ast.IndexExpr:
		return "an element of " + describeExpr(e.X)
	case *ast.StarExpr:
		return "*" + describeExpr(e.X)
	}
	return "an expression"
}

func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := ""
	for i, n := range names[:len(names)-1] {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out + " or " + names[len(names)-1]
}

// fieldStays checks a field read through the value, x.f, whose nodes above
// it are stack (ending with the selector): the field's content must not be
// handed on where it would share the value's state, which the cleanup
// stops changing. Using the field in place (x.mu.Lock(), x.m[k] = v,
// len(x.m), x.n++) shares nothing.
func (w *wirer) fieldStays(stack []ast.Node, s *ast.SelectorExpr, f types.Object) string {
	if !shares(f.Type()) {
		return ""
	}
	switch p := stack[len(stack)-2].(type) {
	case *ast.SelectorExpr, *ast.IndexExpr, *ast.IndexListExpr, *ast.IncDecStmt, *ast.BinaryExpr, *ast.SliceExpr:
		return ""
	case *ast.RangeStmt:
		if p.X == s {
			return ""
		}
	case *ast.AssignStmt:
		for _, l := range p.Lhs {
			if l == s {
				return ""
			}
		}
	case *ast.CallExpr:
		if id, ok := ast.Unparen(p.Fun).(*ast.Ident); ok {
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

// ReturnedAs says why the values a constructor returns cannot be stopped
// by calling method on them, or "": it must return them as *typ.
func ReturnedAs(starter *types.Func, typ, method string) string {
	res := starter.Signature().Results()
	if res.Len() == 0 {
		return starter.Name() + " returns nothing"
	}
	t := res.At(0).Type()
	if p, ok := t.(*types.Pointer); ok {
		if n, ok := types.Unalias(p.Elem()).(*types.Named); ok && n.Obj().Name() == typ {
			return ""
		}
	}
	as := types.TypeString(t, func(p *types.Package) string { return p.Name() })
	if obj, _, _ := types.LookupFieldOrMethod(t, true, nil, method); obj == nil {
		return fmt.Sprintf("%s returns it as %s, which has no %s", starter.Name(), as, method)
	}
	return fmt.Sprintf("%s returns it as %s, not as *%s", starter.Name(), as, typ)
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

func derefType(t types.Type) types.Type {
	if p, ok := t.(*types.Pointer); ok {
		return p.Elem()
	}
	return t
}
