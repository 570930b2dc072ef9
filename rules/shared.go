package rules

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
)

// This file plans a loop method that several functions start: which starts
// can share one owner's state, and why the others cannot.

// methodStarts returns the package's go statements that start the method
// obj (go c.evict()), in source order.
//
// Only go x.m() counts, by its selection, so a start on a value of an
// embedding type (go q.evict(), promoted from *journal) is found by the
// method it runs; one through an interface is not. A method value started
// later (run := c.evict; go run()) is no start here, and otherUse finds it
// as another use.
func (f *loopFinder) methodStarts(obj *types.Func) []*ast.GoStmt {
	// Every file is walked once per method: each start's plan asks again.
	if starts, ok := f.starts[obj]; ok {
		return starts
	}
	var starts []*ast.GoStmt
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				if s, ok := ast.Unparen(g.Call.Fun).(*ast.SelectorExpr); ok {
					if sel, ok := f.pass.Info.Selections[s]; ok && sel.Kind() == types.MethodVal && sel.Obj().(*types.Func).Origin() == obj {
						starts = append(starts, g)
					}
				}
			}
			return true
		})
	}
	f.starts[obj] = starts
	return starts
}

// otherUse returns where the package uses the method obj other than in
// one of the go statements starts, or token.NoPos. The fix gives the method
// a stop parameter, which a direct call (c.evict()) or a method value
// (run := c.evict) would not pass.
func (f *loopFinder) otherUse(obj *types.Func, starts []*ast.GoStmt) token.Pos {
	// index counted every use of each function: as many as there are
	// starts means there is no other, without walking the files again.
	if f.uses[obj] == len(starts) {
		return token.NoPos
	}
	// The starts' method names; every other use is what the message names.
	inStart := map[*ast.Ident]bool{}
	for _, g := range starts {
		inStart[ast.Unparen(g.Call.Fun).(*ast.SelectorExpr).Sel] = true
	}
	for _, file := range f.pass.AllFiles {
		at := token.NoPos
		ast.Inspect(file, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && !inStart[id] && !at.IsValid() {
				if fn, ok := f.pass.Info.Uses[id].(*types.Func); ok && fn.Origin() == obj {
					at = id.Pos()
				}
			}
			return !at.IsValid()
		})
		if at.IsValid() {
			return at
		}
	}
	return token.NoPos
}

// givenCtx says why the context that the go statement g, in fn, hands the
// loop's method as its i'th argument cannot be the work's lifetime, or "".
// "" means the method may honour it: go c.poll(ctx) with ctx the caller's.
func (f *loopFinder) givenCtx(g *ast.GoStmt, i int, fn *ast.FuncDecl) string {
	if i >= len(g.Call.Args) {
		return ""
	}
	return f.notLifetime(g.Call.Args[i], fn)
}

// sharedStarts says why the go statements starts, which all start the
// loop's method obj, cannot share one stop state and one change to obj, or
// "". They can when each runs once per call of a function, directly in
// its body, on a value that function makes itself (c := &Cache{...}): no
// value then runs the loop twice. A Start method, which starts it on its
// receiver, could start it again on a value a constructor started it on.
func (f *loopFinder) sharedStarts(obj *types.Func, starts []*ast.GoStmt) string {
	method := "the loop's method " + obj.Name()
	// The functions that start the method, once each, for the message.
	var names []string
	for _, g := range starts {
		if fn := f.enclosing(g); fn != nil && !slices.Contains(names, FuncName(fn)) {
			names = append(names, FuncName(fn))
		}
	}
	// origin is the named type of the value a start runs the loop on. A
	// generic type's instances share it: one change to the method serves
	// them all. A start through an embedding type (q.evict() on a Queue
	// embedding *journal) gives that type, unlike a start on a journal:
	// the two would each need the stop state.
	origin := func(g *ast.GoStmt) types.Object {
		x := ast.Unparen(g.Call.Fun).(*ast.SelectorExpr).X
		if n, ok := types.Unalias(derefType(f.pass.Info.TypeOf(x))).(*types.Named); ok {
			return n.Origin().Obj()
		}
		return nil
	}
	seen := map[*ast.FuncDecl]bool{}
	for _, g := range starts {
		if o, first := origin(g), origin(starts[0]); o == nil || o != first {
			kinds := "different types"
			if o != nil && first != nil {
				kinds = first.Name() + " and " + o.Name()
			}
			return method + " is started on values of " + kinds + ", and one change to it cannot serve the stop state of both"
		}
		// Each start must run the loop once per value: one stop state
		// holds one goroutine's.
		fn := f.enclosing(g)
		switch {
		case fn == nil:
			return method + " is also started at " + shortPos(f.pass.Fset, g.Pos()) + ", outside a function it could be fixed in"
		case !f.inFiles(g):
			return method + " is also started at " + shortPos(f.pass.Fset, g.Pos()) + ", in a file that is not being fixed"
		case seen[fn]:
			return method + " is started twice by " + FuncName(fn) + ", so one value would run it twice and one stop state would hold only the last"
		case inFuncLit(fn.Body, g):
			return method + " is started by " + FuncName(fn) + " inside a function literal, which may run any number of times"
		}
		seen[fn] = true
		// c.evict() in a Restart method runs on a value that New may
		// have started already.
		x := ast.Unparen(g.Call.Fun).(*ast.SelectorExpr).X
		if !f.madeIn(fn, x) {
			xs, _ := exprString(x)
			return method + " is started by " + joinAnd(names) + ", and " + FuncName(fn) + " starts it on " + xs +
				", a value it does not make itself: a value could then run it twice, and one stop state would hold only the last"
		}
	}
	return ""
}

// madeIn reports whether x is a local variable of fn that fn sets once, to
// a value it allocates there (c := &Cache{...}, or new(Cache)), and never
// assigns again or takes the address of.
func (f *loopFinder) madeIn(fn *ast.FuncDecl, x ast.Expr) bool {
	id, ok := x.(*ast.Ident)
	if !ok {
		return false
	}
	// A package variable, a parameter or a variable declared outside the
	// body (a receiver) holds a value someone else made.
	v, ok := f.pass.Info.Uses[id].(*types.Var)
	if !ok || v.Parent() == f.pass.Pkg.Scope() || f.isParam(v) || v.Pos() < fn.Body.Pos() || fn.Body.End() <= v.Pos() {
		return false
	}
	// fresh reports whether e allocates a new value: &T{...} or new(T).
	// A call of a constructor (c := newCache()) may return a shared one.
	fresh := func(e ast.Expr) bool {
		switch e := ast.Unparen(e).(type) {
		case *ast.UnaryExpr:
			_, lit := ast.Unparen(e.X).(*ast.CompositeLit)
			return e.Op == token.AND && lit
		case *ast.CallExpr:
			b, ok := f.pass.Info.Uses[identOf(e.Fun)].(*types.Builtin)
			return ok && b.Name() == "new"
		}
		return false
	}
	// The walk enters function literals: an assignment to x in one (a
	// callback that swaps the value) counts as again.
	made, again := false, false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				lid, ok := ast.Unparen(lhs).(*ast.Ident)
				if !ok || f.pass.Info.ObjectOf(lid) != v {
					continue
				}
				// Only the defining c := &Cache{...} makes it; any other
				// assignment to c (c = other, c, err := open()) is again.
				if f.pass.Info.Defs[lid] == v && len(n.Rhs) == len(n.Lhs) && fresh(n.Rhs[i]) {
					made = true
				} else {
					again = true
				}
			}
		case *ast.ValueSpec:
			// var c = &Cache{} makes it; var c *Cache leaves it nil.
			for i, name := range n.Names {
				if f.pass.Info.Defs[name] == v {
					made = i < len(n.Values) && len(n.Values) == len(n.Names) && fresh(n.Values[i])
					again = again || !made
				}
			}
		case *ast.UnaryExpr:
			// &c lets any code set it through the pointer.
			if uid, ok := ast.Unparen(n.X).(*ast.Ident); ok && n.Op == token.AND && f.pass.Info.Uses[uid] == v {
				again = true
			}
		}
		return true
	})
	return made && !again
}

// inFuncLit reports whether n lies in a function literal inside body.
func inFuncLit(body *ast.BlockStmt, n ast.Node) bool {
	found := false
	ast.Inspect(body, func(m ast.Node) bool {
		if lit, ok := m.(*ast.FuncLit); ok && lit.Pos() <= n.Pos() && n.End() <= lit.End() {
			found = true
		}
		return !found
	})
	return found
}

// shortPos spells pos as a reason names a place: file.go:12. The places
// reasons name are in the package's own files, one directory, so the base
// name is enough.
func shortPos(fset *token.FileSet, pos token.Pos) string {
	p := fset.Position(pos)
	return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
}

// Together refuses the fixes of a method's starts (Loop.Starts) unless
// every start has one among found: they change the method together. The
// rules call it on what they find; a caller that drops findings (an
// ignore comment, a filter on lines) calls it again on what it keeps.
func Together(fset *token.FileSet, found []*Finding) {
	// Each start of the method is read on its own, so one loop statement
	// gives a finding per start: the go statement and the loop together
	// name one finding, and a method with two loops is judged per loop.
	type key struct{ start, loop token.Pos }
	byStart := map[key]*Finding{}
	for _, fd := range found {
		if fd.loop != nil && fd.loop.Start != nil {
			byStart[key{fd.loop.Start.Pos(), fd.loop.Stmt.Pos()}] = fd
		}
	}
	refused := map[*Finding]string{}
	for _, fd := range found {
		l := fd.loop
		if fd.Fix == nil || l == nil || len(l.Starts) < 2 {
			continue
		}
		for _, g := range l.Starts {
			other := byStart[key{g.Pos(), l.Stmt.Pos()}]
			at := "the loop's method " + l.Method.Name.Name + " is also started at " + shortPos(fset, g.Pos())
			switch {
			case other == nil:
				refused[fd] = at + ", which is not being fixed"
			case other.Fix == nil:
				refused[fd] = at + ", which cannot be fixed: " + other.Unfixable
			default:
				// fd itself, or a start that is being fixed.
				continue
			}
			// The first such start in source order names the reason.
			break
		}
	}
	// Refusals take effect only once every finding is judged: a reason then
	// names a start that fails on its own account, not one refused a moment
	// earlier in this loop, and does not depend on the order of found.
	for fd, why := range refused {
		fd.Fix, fd.Unfixable = nil, why
	}
}
