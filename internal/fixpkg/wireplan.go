package fixpkg

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// A wirer decides, in one fixed package, where a value's cleanup can be
// called: only where the code proves the value's life ends there and that
// nothing else may still use it.
//
// It is made once per package, as wiring asks the same questions of many
// calls: decls leads from a function to the code it runs; refs holds
// every identifier naming an object, with the nodes above it, so that a
// check of a use reads its context without walking the package again;
// stays and hangs remember answers.
type wirer struct {
	pkg      *Package
	cleanups *rules.Cleanups
	decls    map[*types.Func]*ast.FuncDecl
	refs     map[types.Object][][]ast.Node // every identifier naming an object, with the nodes above it
	stays    map[*types.Func]bool          // methods that keep no reference to their receiver
	// working holds the methods whose stays answer is being worked out,
	// and leaned says whether the answer being worked out now read one
	// of their provisional answers (receiverStays).
	working map[*types.Func]bool
	leaned  bool
	// foreignStays names, as pkgpath.Type.Method, the methods of other
	// packages' types that keep no reference to their receiver, as the
	// packages that declare them found (Target.Stays).
	foreignStays map[string]bool
	hangs        map[*wireTarget]string // why waiting for a target's work could hang
}

// newWirer indexes pkg for the questions a wirer asks.
func newWirer(pkg *Package) *wirer {
	w := &wirer{
		pkg:      pkg,
		cleanups: rules.NewCleanups(&rules.Pass{Fset: pkg.Fset, Pkg: pkg.Types, Info: pkg.Info, Files: pkg.Syntax, AllFiles: pkg.Syntax, GoVersion: pkg.GoVersion}),
		decls:    map[*types.Func]*ast.FuncDecl{},
		refs:     map[types.Object][][]ast.Node{},
		stays:    map[*types.Func]bool{},
		working:  map[*types.Func]bool{},
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
				// Definitions too: local, cancelFrom and receiverStays tell a
				// variable's making from its uses by its defining identifier.
				obj := pkg.Info.Uses[n]
				if obj == nil {
					obj = pkg.Info.Defs[n]
				}
				if obj != nil {
					// A copy: walkStack reuses its slice.
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
	// A deferred call or t.Cleanup passes no argument and can drop
	// at most one result, an error.
	if t.params > 0 || t.results > 1 {
		return nil, "", t.label + " takes arguments or returns more than an error"
	}
	// The call's value must be the owner, on which the cleanup is
	// called.
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
	// Defensive: the stack starts at a declaration, which a call is not.
	if i == 0 {
		return nil, "", ""
	}
	switch p := stack[i-1].(type) {
	case *ast.AssignStmt:
		// a, b := New(), New(): which side takes which is not worth
		// following.
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
		// In a struct literal, Outer{cache: New()}: a key that names a
		// field. Any other key is a map's or an array's, whose elements
		// may be taken anywhere.
		if lit, ok := stack[i-2].(*ast.CompositeLit); ok && p.Value == stack[i] {
			if key, ok := p.Key.(*ast.Ident); ok {
				if fv, ok := w.pkg.Info.Uses[key].(*types.Var); ok && fv.IsField() {
					return w.fieldOf(t, fv, w.pkg.Info.TypeOf(lit), p)
				}
			}
		}
		return nil, "", "stored in a map or slice"
	// Anywhere else the value goes where this package cannot see
	// its end, or nowhere at all.
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

// onlyUsed checks the use of a value whose expression ends stack.
//
// It returns what else the use does, worded to follow the value's name
// in a reason ("is passed to register in Init, which may keep it"), or ""
// when the use neither keeps nor hands on the value: a call of a method
// that keeps no reference, a field used in place, a comparison with nil.
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
		// No field or method of the value is selected: nothing of it
		// is kept.
		if sel == nil {
			return ""
		}
		if sel.Kind() == types.FieldVal {
			return w.fieldStays(stack[:i], p, sel.Obj())
		}
		// A method value (f := x.Close) binds the receiver into a
		// function value that may outlive the call.
		m, _ := sel.Obj().(*types.Func)
		if c, ok := stack[i-2].(*ast.CallExpr); !ok || c.Fun != p || m == nil {
			return "is used as a method value" + in(stack)
		}
		// The call itself may keep the receiver: judged by the
		// method's body, or by what its own package found (Stays).
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
		// x != nil keeps nothing; any other comparison is a use of the
		// value as such.
		if (p.Op == token.EQL || p.Op == token.NEQ) && (isNil(p.X) || isNil(p.Y)) {
			return ""
		}
	case *ast.AssignStmt:
		// On the left, the variable is set again, and a deferred
		// cleanup would stop what it holds last; on the right, the
		// value is copied, and the copy may outlive it.
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
		// Its address would let anything reach it.
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
	// A method that calls back into m, directly or not, is answered with
	// m taken to keep nothing: a recursive call keeps nothing more.
	if w.working[m] {
		w.leaned = true
		return true
	}
	w.working[m] = true
	outer := w.leaned
	w.leaned = false
	ok := true
	// An unnamed receiver cannot be referred to, so nothing keeps it.
	if names := decl.Recv.List[0].Names; len(names) > 0 {
		recv := w.pkg.Info.Defs[names[0]]
		for _, stack := range w.refs[recv] {
			if stack[len(stack)-1] == names[0] {
				continue
			}
			// A function literal or goroutine may outlive the call.
			if capturedIn(stack, decl) || w.onlyUsed(stack) != "" {
				ok = false
				break
			}
		}
	}
	delete(w.working, m)
	leaned := w.leaned
	w.leaned = outer || leaned
	// A "keeps it" is final. A "keeps nothing" that read the provisional
	// answer of a method still being worked out holds only if that method
	// turns out to keep nothing too: it is remembered only once no answer
	// is provisional any more (m was the first asked), and otherwise worked
	// out again when asked again. Remembering it at once made the answers
	// depend on the order of the questions: A stores its receiver and
	// calls B, B calls back into A; asked of A first, B was remembered as
	// keeping nothing.
	if !ok || !leaned || len(w.working) == 0 {
		w.stays[m] = ok
	}
	return ok
}

// methodKey names a method across packages: example.com/cache.Cache.Put.
func methodKey(m *types.Func) string {
	// WireCallers keys the foreign Target.Stays the same way. "" for a
	// function, or a method of no named type another package could
	// report on.
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
		// Only what lies below fn counts: fn may itself be a function
		// literal, which captures nothing from itself.
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
		// Only a call, recv.Close(), is not a use as a value: recv.Close
		// or (*T).Close left uncalled, or handed as an argument, is a
		// function value, which the work may be given and call.
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
	// Every function the code names counts as called, since a function
	// value handed on may be. What lies outside the package is not walked
	// here: mayHang judges the calls that leave it.
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
	// Only the direct form, recv.field.Method(), which is the one the
	// wiring itself writes (defer s.cache.Shutdown()).
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

// methodsOf returns the methods declared with t as receiver, pointer or
// not; not those promoted from its embedded fields.
func methodsOf(t *types.Named) []*types.Func {
	var out []*types.Func
	for i := range t.NumMethods() {
		out = append(out, t.Method(i))
	}
	return out
}

// sameNamed reports whether t is n, through aliases, or an instance of
// the same generic type.
func sameNamed(t types.Type, n *types.Named) bool {
	m, ok := types.Unalias(t).(*types.Named)
	return ok && m.Origin() == n.Origin()
}

// isNil reports whether e is nil, by name: code that declares its own
// nil is not worth guarding against.
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

// orList words names as a list that ends a reason: "Shutdown, Close,
// Stop or Destroy".
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

// ReturnedAs says why the values a constructor returns cannot be stopped
// by calling method on them, or "": it must return them as *typ.
func ReturnedAs(starter *types.Func, typ, method string) string {
	res := starter.Signature().Results()
	if res.Len() == 0 {
		return starter.Name() + " returns nothing"
	}
	// The first result: a constructor returns its value first, an error
	// after it.
	t := res.At(0).Type()
	if p, ok := t.(*types.Pointer); ok {
		if n, ok := types.Unalias(p.Elem()).(*types.Named); ok && n.Obj().Name() == typ {
			return ""
		}
	}
	// Anything else is refused: through an interface the call may reach
	// another type's method, and a copy's cleanup would not stop the work
	// of the value it was copied from. The reason says whether the
	// method is missing altogether or only the type is wrong.
	as := types.TypeString(t, func(p *types.Package) string { return p.Name() })
	if obj, _, _ := types.LookupFieldOrMethod(t, true, nil, method); obj == nil {
		return fmt.Sprintf("%s returns it as %s, which has no %s", starter.Name(), as, method)
	}
	return fmt.Sprintf("%s returns it as %s, not as *%s", starter.Name(), as, typ)
}
