package rewrite

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"github.com/leakfix/leakfix/rules"
)

// A group is the loops one starter starts one right after the other in one
// statement list. They share one context and one cancel function, and each
// closes a done channel of its own; the state for all of them is stored at
// the first start:
//
//	ctx, cancel := context.WithCancel(context.Background())
//	s.stopLoops, s.sweepDone, s.flushDone = cancel, make(chan struct{}), make(chan struct{})
//	go func() { defer close(s.sweepDone); ... }()
//	go func() { defer close(s.flushDone); ... }()
//
// instead of a context, a cancel field and a done field for each loop.
//
// Grouping must not change when each loop stops, so it is kept to where the
// order cannot matter:
//   - The starts are adjacent, and starting the later loops evaluates
//     nothing that can panic or wait: the cleanup then never waits on a done
//     channel whose loop was not started.
//   - No loop of the group communicates with anything but its timer: no
//     channel operation but receiving from a time channel or a context's
//     Done, no sync.Cond or WaitGroup wait, in its code or in the package's
//     functions it calls. Separate state stops and waits for each loop in
//     start order, one cancel stops them at once; a loop that waits on
//     another (a sampler on a full buffer its shipper drains) would then
//     wait for ever.
type group struct {
	loops []*rules.Loop
	name  string // the base of the cancel's name

	// Set while the group is rewritten.
	stop        string                   // the cancel function's field or variable
	mu          string                   // the mutex guarding the state, "" unless guarded
	dones       []string                 // each loop's done channel, in the order of loops
	locals      []string                 // guarded: each loop's done channel in the starter
	ctx, cancel string                   // the context and cancel function in the starter
	stopped     map[*ast.ReturnStmt]bool // returns the group's cancel already precedes
}

// groups finds the groups among the loops h owns, by each loop of a group.
// A loop alone is in none.
func (rw *rewriter) groups(h *holder) map[*rules.Loop]*group {
	var loops []*rules.Loop
	for _, item := range h.items {
		// A method several constructors start keeps a state of its own.
		if l, ok := item.(*rules.Loop); ok && len(l.Starts) < 2 {
			loops = append(loops, l)
		}
	}
	out := map[*rules.Loop]*group{}
	var cur *group
	for i, l := range loops {
		// A group grows link by link: each loop must start right after the
		// previous one, so every pair of neighbours passes startsNext.
		if i > 0 && cur != nil && rw.startsNext(cur.loops[len(cur.loops)-1], l) {
			cur.loops = append(cur.loops, l)
			out[l] = cur
			continue
		}
		if len(loops) > i+1 && rw.startsNext(l, loops[i+1]) {
			cur = &group{loops: []*rules.Loop{l}, stopped: map[*ast.ReturnStmt]bool{}}
			out[l] = cur
			continue
		}
		cur = nil
	}
	for _, g := range out {
		// The cancel is named after the loops' common name (stopCleanup for two
		// cleanup loops), or stopLoops when their names differ.
		g.name = "loops"
		if !slices.ContainsFunc(g.loops, func(l *rules.Loop) bool { return l.Name != g.loops[0].Name }) {
			g.name = g.loops[0].Name
		}
	}
	return out
}

// startsNext reports whether b is started by the same function as a, of
// the same owner expression and guarding, in the same statement list after
// a's start with only quiet statements between them.
func (rw *rewriter) startsNext(a, b *rules.Loop) bool {
	// One cancel field and one mutex (or none) serve the whole group, so the
	// loops must share the owner value and its guarding.
	if a.Starter != b.Starter || a.Owner.Guarded != b.Owner.Guarded ||
		a.Owner.Type != b.Owner.Type || !sameExpr(a.Owner.Expr, b.Owner.Expr) {
		return false
	}
	list := stmtListOf(a.Starter.Body, a.Start)
	i, j := slices.Index(list, a.Start), slices.Index(list, b.Start)
	if i < 0 || j != i+1 || !rw.quietStart(b.Start) || rw.communicates(a) || rw.communicates(b) {
		return false
	}
	// Both stop at the same returns after b starts (the same owner is
	// handed out at the same returns), so that one cancel there stops both.
	after := func(l *rules.Loop) []*ast.ReturnStmt {
		var rs []*ast.ReturnStmt
		for _, r := range l.Abandon {
			if r.Pos() > b.Start.End() {
				rs = append(rs, r)
			}
		}
		return rs
	}
	return slices.Equal(after(a), after(b))
}

// quietStart reports whether starting the work of start evaluates nothing
// that can panic or wait: go func() {...}(), go s.loop(), or a call of
// the package's wrapper with a function literal, with arguments that are
// names, constants or function literals.
func (rw *rewriter) quietStart(start ast.Stmt) bool {
	var c *ast.CallExpr
	switch s := start.(type) {
	case *ast.GoStmt:
		c = s.Call
	case *ast.ExprStmt:
		c, _ = s.X.(*ast.CallExpr)
	}
	if c == nil {
		return false
	}
	simple := func(e ast.Expr) bool {
		switch e := ast.Unparen(e).(type) {
		case *ast.Ident, *ast.BasicLit, *ast.FuncLit:
			return true
		case *ast.SelectorExpr: // s.loop, a method value of a named receiver
			_, ok := e.X.(*ast.Ident)
			return ok
		}
		return false
	}
	return simple(c.Fun) && !slices.ContainsFunc(c.Args, func(e ast.Expr) bool { return !simple(e) })
}

// communicates reports whether the loop's code, or a function of the
// package it calls (to a few calls deep), does a channel operation other
// than receiving from a time channel or a context's Done, waits on a
// sync.Cond or a WaitGroup, or calls what it cannot look into: a func value
// or an interface's method (a callback or an implementation may do any of
// that), a function of the package without a body, or a function of a
// package outside the standard library, whose code is not loaded here. The
// standard library's functions are taken as they are (sync's waits aside):
// a handoff between two loops through an io.Pipe is not seen.
func (rw *rewriter) communicates(l *rules.Loop) bool {
	var body ast.Node = l.Lit
	if l.Method != nil {
		body = l.Method
	}
	if body == nil {
		return true
	}
	seen := map[ast.Node]bool{}
	var visit func(n ast.Node, depth int) bool
	visit = func(n ast.Node, depth int) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		found := false
		ast.Inspect(n, func(n ast.Node) bool {
			if found {
				return false
			}
			switch n := n.(type) {
			case *ast.SendStmt:
				found = true
			case *ast.UnaryExpr:
				found = n.Op == token.ARROW && !rw.timerChan(n.X)
			case *ast.RangeStmt:
				_, ch := rw.pkg.Info.TypeOf(n.X).Underlying().(*types.Chan)
				found = ch && !rw.timerChan(n.X)
			case *ast.CallExpr:
				fn, _ := typeutilCallee(rw.pkg.Info, n).(*types.Func)
				switch {
				case fn == nil:
					// close, or a call of a func value (a callback may do
					// anything); other builtins and conversions are quiet.
					tv := rw.pkg.Info.Types[n.Fun]
					id, isIdent := ast.Unparen(n.Fun).(*ast.Ident)
					found = isIdent && id.Name == "close" || !tv.IsType() && !tv.IsBuiltin()
				case fn.Pkg() != nil && fn.Pkg().Path() == "sync" && fn.Name() == "Wait":
					found = true
				case abstract(fn):
					// A call through an interface may land in any method of
					// any type, a channel-backed queue's Push included; only
					// a context's and an error's methods are known not to
					// wait.
					found = !quietInterface(fn)
				case fn.Pkg() == rw.pkg.Types:
					// A function of the package without a body (assembly,
					// linkname) cannot be looked into, so it is not quiet.
					d := rw.decl(fn.Origin())
					found = d == nil || d.Body == nil || depth >= 3 || visit(d.Body, depth+1)
				case fn.Pkg() != nil && !rw.standard(fn.Pkg().Path()):
					// Another package of the module, or a dependency: its code
					// is not loaded here, and its queue may block.
					found = true
				}
			}
			return !found
		})
		return found
	}
	return visit(body, 0)
}

// standard reports whether path is a standard library package's: its
// first element has no dot, and it is not the module's (a module
// called "leakfix" has no dot either), as the go command tells them apart.
func (rw *rewriter) standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	own, _, _ := strings.Cut(rw.pkg.Path, "/")
	return !strings.Contains(first, ".") && first != own
}

// abstract reports whether fn is an interface's method, whose code a call
// does not name.
func abstract(fn *types.Func) bool {
	sig, _ := fn.Type().(*types.Signature)
	return sig != nil && sig.Recv() != nil && types.IsInterface(sig.Recv().Type())
}

// quietInterface reports whether fn is a method of context.Context or of
// error: Done, Err, Deadline, Value and Error never wait by contract.
func quietInterface(fn *types.Func) bool {
	if fn.Pkg() == nil {
		return fn.Name() == "Error" // the universe's error
	}
	recv := fn.Type().(*types.Signature).Recv().Type()
	return isNamedType(recv, "context", "Context")
}

// timerChan reports whether e is a channel of time.Time (a ticker's or a
// timer's C, time.After, time.Tick) or a context's Done().
func (rw *rewriter) timerChan(e ast.Expr) bool {
	e = ast.Unparen(e)
	if c, ok := e.(*ast.CallExpr); ok {
		if sel, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" {
			if isNamedType(rw.pkg.Info.TypeOf(sel.X), "context", "Context") {
				return true
			}
		}
	}
	ch, ok := rw.pkg.Info.TypeOf(e).Underlying().(*types.Chan)
	return ok && isNamedType(ch.Elem(), "time", "Time")
}

// isNamedType reports whether t is the named type path.name.
func isNamedType(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}

// typeutilCallee returns the function or method a call calls, or nil (a
// builtin, a conversion, a call of a func value).
func typeutilCallee(info *types.Info, c *ast.CallExpr) types.Object {
	switch f := ast.Unparen(c.Fun).(type) {
	case *ast.Ident:
		return info.Uses[f]
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[f]; ok {
			return sel.Obj()
		}
		return info.Uses[f.Sel]
	case *ast.IndexExpr:
		return typeutilCallee(info, &ast.CallExpr{Fun: f.X})
	}
	return nil
}

// stmtListOf returns the statement list of body (or of a block, case or
// clause in it) that holds s itself.
func stmtListOf(body *ast.BlockStmt, s ast.Stmt) []ast.Stmt {
	var found []ast.Stmt
	ast.Inspect(body, func(n ast.Node) bool {
		if found != nil {
			return false
		}
		var list []ast.Stmt
		switch n := n.(type) {
		case *ast.BlockStmt:
			list = n.List
		case *ast.CaseClause:
			list = n.Body
		case *ast.CommClause:
			list = n.Body
		}
		if slices.Contains(list, s) {
			found = list
			return false
		}
		return true
	})
	return found
}

// sameExpr reports whether a and b spell the same owner: s and s, or
// s.inner and s.inner.
func sameExpr(a, b ast.Expr) bool {
	if a == nil || b == nil {
		return a == b
	}
	as, aok := exprText(a)
	bs, bok := exprText(b)
	return aok && bok && as == bs
}

// exprText spells an identifier or a selector chain.
func exprText(e ast.Expr) (string, bool) {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return e.Name, true
	case *ast.SelectorExpr:
		x, ok := exprText(e.X)
		return x + "." + e.Sel.Name, ok
	}
	return "", false
}
