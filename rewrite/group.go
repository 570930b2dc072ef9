package rewrite

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"

	"github.com/leakfix/leakfix/rules"
)

// A group is the loops one starter starts one after the other in one
// statement list, with nothing between their starts that could return or
// wait. They share one context and one cancel function, and each closes a
// done channel of its own; the state for all of them is stored at the
// first start:
//
//	ctx, cancel := context.WithCancel(context.Background())
//	s.stopLoops, s.sweepDone, s.flushDone = cancel, make(chan struct{}), make(chan struct{})
//	go func() { defer close(s.sweepDone); ... }()
//	go func() { defer close(s.flushDone); ... }()
//
// instead of a context, a cancel field and a done field for each loop.
// Storing every done channel at once keeps the cleanup from ever waiting on
// a channel that is not there yet; the next loop starts right after, since
// nothing between can block or leave the function.
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
		if l, ok := item.(*rules.Loop); ok {
			loops = append(loops, l)
		}
	}
	out := map[*rules.Loop]*group{}
	var cur *group
	for i, l := range loops {
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
	if a.Starter != b.Starter || a.Owner.Guarded != b.Owner.Guarded ||
		a.Owner.Type != b.Owner.Type || !sameExpr(a.Owner.Expr, b.Owner.Expr) {
		return false
	}
	list := stmtListOf(a.Starter.Body, a.Start)
	i, j := slices.Index(list, a.Start), slices.Index(list, b.Start)
	if i < 0 || j <= i {
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
	return slices.Equal(after(a), after(b)) && rw.quiet(list[i+1:j])
}

// quiet reports whether stmts can neither leave the function nor wait:
// no return, branch, label or defer, no channel operation and no call but
// of a builtin or a conversion. Function literals are not run by them.
func (rw *rewriter) quiet(stmts []ast.Stmt) bool {
	ok := true
	for _, s := range stmts {
		ast.Inspect(s, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt, *ast.BranchStmt, *ast.LabeledStmt, *ast.DeferStmt, *ast.SendStmt, *ast.SelectStmt, *ast.GoStmt:
				ok = false
			case *ast.UnaryExpr:
				if n.Op == token.ARROW {
					ok = false
				}
			case *ast.RangeStmt:
				// A range over a channel waits; one over a function calls it.
				switch rw.pkg.Info.TypeOf(n.X).Underlying().(type) {
				case *types.Chan, *types.Signature:
					ok = false
				}
			case *ast.CallExpr:
				if tv, found := rw.pkg.Info.Types[n.Fun]; !found || !(tv.IsType() || tv.IsBuiltin()) {
					ok = false
				}
			}
			return ok
		})
	}
	return ok
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
