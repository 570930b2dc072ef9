package rules

import (
	"go/ast"
	"go/token"
	"go/types"
)

// This file judges a loop's exits on failure: a return or break taken only
// when a call fails that nothing the owner holds can make fail is no stop.

// errorExits returns the returns and branches of body that run only when a
// call fails that the owner cannot make fail, each with that call:
//
//	if err := poll(t); err != nil { break }
//
// The exit's innermost enclosing if must test err != nil, err must be set
// once, in the loop, by the call, and the call must reach nothing the owner
// holds (see outsideCall). The error of a resource the owner's cleanup can
// close (c.conn.Write) is a stop, and so is anything this cannot tell.
func (f *loopFinder) errorExits(body *ast.BlockStmt) map[ast.Node]*ast.CallExpr {
	info := f.pass.Info
	// sets holds every assignment in the loop to each variable, so that an
	// err can be checked to have the one definition the rule trusts.
	sets := map[types.Object][]*ast.AssignStmt{}
	ast.Inspect(body, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok {
			for _, lhs := range as.Lhs {
				if obj := f.objectOf(lhs); obj != nil {
					sets[obj] = append(sets[obj], as)
				}
			}
		}
		return true
	})
	out := map[ast.Node]*ast.CallExpr{}
	ast.Inspect(body, func(n ast.Node) bool {
		ifs, ok := n.(*ast.IfStmt)
		if !ok {
			return true
		}
		// Only the plain test, err != nil with err of type error. Any
		// other condition (err != nil && !retry, errors.Is(err, io.EOF))
		// leaves the exit a stop: it may ask what the owner decides.
		cond, ok := ast.Unparen(ifs.Cond).(*ast.BinaryExpr)
		if !ok || cond.Op != token.NEQ || !info.Types[cond.Y].IsNil() {
			return true
		}
		id, ok := ast.Unparen(cond.X).(*ast.Ident)
		if !ok || !isNamed(info.TypeOf(id), "", "error") {
			return true
		}
		// An err assigned twice, or only outside the loop, may hold the
		// error of another call than the one judged below.
		obj := info.Uses[id]
		as := sets[obj]
		if obj == nil || len(as) != 1 || as[0].Tok != token.DEFINE || len(as[0].Rhs) != 1 {
			return true
		}
		call, ok := ast.Unparen(as[0].Rhs[0]).(*ast.CallExpr)
		if !ok || !f.outsideCall(call, 0) {
			return true
		}
		// The exits right under this if: nested statements that decide
		// on something else are judged on their own. The else branch runs
		// when the call succeeded, so its exits are no failure's.
		ast.Inspect(ifs.Body, func(m ast.Node) bool {
			switch m := m.(type) {
			case *ast.FuncLit, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.ForStmt, *ast.RangeStmt:
				return false
			case *ast.ReturnStmt, *ast.BranchStmt:
				out[m] = call
			}
			return true
		})
		return true
	})
	return out
}

// outsideCall reports whether call reaches nothing its loop's owner could
// close, cancel or change: its receiver and arguments are constants, other
// packages' names, or local values of plain types (numbers, strings,
// times), and it calls a function of another package, or a function of
// this package that itself touches no package variable, field, channel or
// context and calls only such functions.
func (f *loopFinder) outsideCall(call *ast.CallExpr, depth int) bool {
	info := f.pass.Info
	// A call through a function value, or a chain of helpers deeper than
	// depth allows, cannot be judged: false keeps the exit a stop.
	fn := calleeFunc(info, call)
	if fn == nil || depth > 3 {
		return false
	}
	// parts are the values the call is given: the receiver of a method
	// (not the package of a qualified name) and the arguments.
	var parts []ast.Expr
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		if _, isPkg := info.Uses[identOf(sel.X)].(*types.PkgName); !isPkg {
			parts = append(parts, sel.X)
		}
	}
	parts = append(parts, call.Args...)
	// poll(t) with t a tick's time cannot see anything of the owner's;
	// c.conn.Write(b) or poll(p.src) can, and Close may make them fail.
	for _, e := range parts {
		if !f.plainValue(e) {
			return false
		}
	}
	// Another package's function, given only such values, fails on its
	// own: http.Get(url) fails when the network does.
	if fn.Pkg() != f.pass.Pkg {
		return true
	}
	decl := f.methods[fn]
	if decl == nil || decl.Body == nil || decl.Recv != nil {
		return false // a method may read its value's state
	}
	ok := true
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt, *ast.SendStmt:
			// A goroutine or a channel operation ties the result to
			// other code, which may be the owner's.
			ok = false
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				ok = false
			}
		case *ast.SelectorExpr:
			// A method of the package's may read its value's state, for
			// the same reason decl.Recv is refused above.
			if sel, isSel := info.Selections[n]; isSel && sel.Kind() == types.MethodVal {
				if m, isFn := sel.Obj().(*types.Func); isFn && m.Pkg() == f.pass.Pkg {
					ok = false
				}
			}
		case *ast.Ident:
			obj := info.Uses[n]
			if v, isVar := obj.(*types.Var); isVar && !v.IsField() && v.Parent() == f.pass.Pkg.Scope() && f.pkgWritten()[v] {
				ok = false // a package variable something sets (not a sentinel error)
			}
			if obj != nil && isNamed(obj.Type(), "context", "Context") {
				ok = false
			}
			if obj != nil {
				if _, isChan := obj.Type().Underlying().(*types.Chan); isChan {
					ok = false
				}
			}
		case *ast.CallExpr:
			// The helper's own helpers must pass the same test. Calls of
			// other packages' functions are not followed: only the
			// identifiers they are given are checked, as every identifier
			// of the body is.
			if c := calleeFunc(info, n); c != nil && c.Pkg() == f.pass.Pkg && !f.outsideCall(n, depth+1) {
				ok = false
			}
		}
		return ok
	})
	return ok
}

// plainValue reports whether e is made only of constants, other packages'
// names and local variables of plain types: values no owner can close.
func (f *loopFinder) plainValue(e ast.Expr) bool {
	info := f.pass.Info
	ok := true
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			ok = false // it may close over the owner
		case *ast.SelectorExpr:
			// Its name is not looked at: os.Stdout or time.UTC is another
			// package's, whatever its type.
			if _, isPkg := info.Uses[identOf(n.X)].(*types.PkgName); isPkg {
				return false // another package's name
			}
			if _, isSel := info.Selections[n]; isSel {
				ok = false // a field or method of a value
			}
		case *ast.Ident:
			switch obj := info.Uses[n].(type) {
			case *types.Var:
				// A package variable may be set by the owner's methods;
				// a local connection or struct may be the owner's too.
				if obj.Parent() == f.pass.Pkg.Scope() || !plainType(obj.Type()) {
					ok = false
				}
			// Constants, type names (a conversion Level(n)), nil and
			// builtins (len(b)) hold no state.
			case *types.Const, *types.TypeName, *types.Nil, *types.Builtin, nil:
			case *types.Func:
				// A function value of the package's could do anything
				// once called; outsideCall judges calls, not values.
				if obj.Pkg() == f.pass.Pkg {
					ok = false
				}
			default:
				ok = false
			}
		}
		return ok
	})
	return ok
}

// plainType reports whether values of t hold nothing that can be closed:
// numbers, strings, booleans, times, durations, and slices of those.
func plainType(t types.Type) bool {
	// time.Time is a struct underneath, which the Basic case would miss.
	if isNamed(t, "time", "Time") {
		return true
	}
	// Named types over a basic one (time.Duration, a Level int) are plain
	// too. A struct, map, pointer, channel or interface may hold, or be,
	// what the owner closes.
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return true
	case *types.Slice:
		return plainType(u.Elem())
	}
	return false
}

// identOf returns e as an identifier, or nil when it is none.
func identOf(e ast.Expr) *ast.Ident {
	id, _ := ast.Unparen(e).(*ast.Ident)
	return id
}

// pkgWritten returns the package variables that some function assigns,
// increments or takes the address of: state, unlike a sentinel error
// that only its declaration sets.
func (f *loopFinder) pkgWritten() map[*types.Var]bool {
	// Computed once per package, when the first failure exit asks.
	if f.written != nil {
		return f.written
	}
	f.written = map[*types.Var]bool{}
	mark := func(e ast.Expr) {
		if v, ok := f.objectOf(e).(*types.Var); ok && v.Parent() == f.pass.Pkg.Scope() {
			f.written[v] = true
		}
	}
	// Only function bodies count: a sentinel's declaration (var
	// errClosed = errors.New(...)) is no write. Function literals inside
	// the bodies are included.
	for _, decl := range f.methods {
		if decl.Body == nil {
			continue
		}
		ast.Inspect(decl.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					mark(l)
				}
			case *ast.IncDecStmt:
				mark(n.X)
			case *ast.UnaryExpr:
				// &v hands out a pointer that anything may write through.
				if n.Op == token.AND {
					mark(n.X)
				}
			}
			return true
		})
	}
	return f.written
}
