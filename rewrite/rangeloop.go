package rewrite

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"

	"github.com/dave/dst"

	"github.com/leakfix/leakfix/rules"
)

// rangeLoop rewrites a range over a timer channel into a loop that selects
// on the channel and the stop signal. The body stays after the select, so
// break, continue and labels keep their meaning and the diff stays small.
//
// range evaluates its channel once, before the first pass, and a select
// evaluates its cases on every pass: whatever the ranged expression
// computes is therefore computed once, into a variable declared right
// before the loop (pre), and the select receives from that.
func (rw *rewriter) rangeLoop(root dst.Node, w rules.Wait, rs *dst.RangeStmt, st stop, taken map[string]bool) error {
	ars := w.Node.(*ast.RangeStmt)
	var ch dst.Expr = rs.X
	var pre []dst.Stmt
	if tick, ok := rs.X.(*dst.CallExpr); ok && w.Kind == rules.RangeTick {
		d := tick.Args[0]
		// NewTicker's first tick comes d after it is made and then every d, as
		// time.Tick's, so the rate stays fixed (promise 2).
		if isPositive(rw.pkg.Info, ars.X.(*ast.CallExpr).Args[0]) {
			// A positive constant interval: a Ticker that stops with the loop.
			name := fresh(taken, "ticker")
			pre = []dst.Stmt{
				define(name, call(qual("time", "NewTicker"), d)),
				&dst.DeferStmt{Call: call(sel(dst.NewIdent(name), "Stop"))},
			}
			ch = sel(dst.NewIdent(name), "C")
		} else {
			// time.Tick returns nil for d <= 0 where NewTicker panics; keep it.
			// The loop then blocks until stopped, as the range blocked for ever.
			// The price: before Go 1.23 a time.Tick ticker is never collected, and
			// it keeps running after the loop stops.
			name := fresh(taken, "tick")
			pre = []dst.Stmt{define(name, tick)}
			ch = dst.NewIdent(name)
		}
	} else if nt, ok := newTickerC(rw.pkg.Info, ars.X, rs.X); ok {
		// range time.NewTicker(d).C: the ticker is taken into a variable
		// and stopped with the loop, which matters before go 1.23, where
		// a ticker nobody stops ticks for ever. Here d <= 0 panicked before
		// the fix already, so NewTicker needs no constant.
		name := fresh(taken, "ticker")
		pre = []dst.Stmt{
			define(name, nt),
			&dst.DeferStmt{Call: call(sel(dst.NewIdent(name), "Stop"))},
		}
		ch = sel(dst.NewIdent(name), "C")
	} else if hasCall(ars.X) || assignsTo(rw.pkg.Info, rw.pkg.Files, ars.X) {
		// range evaluates its channel once; a select evaluates its case on
		// every pass, which for a ticker made in the expression (a clock
		// library's) would start a new one each time and turn a fixed rate
		// into a fixed delay, and for a ticker the body, a function it
		// calls or anything else replaces would follow the new one where
		// range kept reading the old.
		name := fresh(taken, "ticks")
		pre = []dst.Stmt{define(name, rs.X)}
		ch = dst.NewIdent(name)
	}

	var head, after []dst.Stmt
	var lhs []dst.Expr // what the receive assigns
	elemType := func() (dst.Expr, error) {
		if elem := rw.typeExpr(rw.pkg.Info.TypeOf(ars.X).Underlying().(*types.Chan).Elem()); elem != nil {
			return elem, nil
		}
		return nil, fmt.Errorf("%s: cannot spell the type of the values of %s", rw.pkg.Fset.Position(ars.Pos()), rw.pkg.Fset.Position(ars.X.Pos()))
	}
	// Of the channels of times, only a Ticker's or Timer's and time.Tick's
	// are never closed; range ends when another is (a clock library's, a
	// fan-out of ticks), so the select must end the loop too instead of
	// receiving zero values for ever.
	// RangeTick is never closable: its channel is time.Tick's.
	closable := w.Kind == rules.RangeChan && !timeC(rw.pkg.Info, ars.X) &&
		isTime(rw.pkg.Info.TypeOf(ars.X).Underlying().(*types.Chan).Elem())
	if key, ok := rs.Key.(*dst.Ident); rs.Key != nil && !(ok && key.Name == "_") {
		switch {
		// for t := range: t is declared at the top of the body, so each pass
		// has its own t, as range gives since Go 1.22; on a close it takes the
		// zero value, but the loop breaks before anything reads it.
		case rs.Tok == token.DEFINE:
			elem, err := elemType()
			if err != nil {
				return err
			}
			head = append(head, varDecl(key.Name, elem))
			lhs = []dst.Expr{dst.NewIdent(key.Name)}
		case closable:
			// range assigns nothing once the channel is closed.
			elem, err := elemType()
			if err != nil {
				return err
			}
			v := fresh(taken, "next")
			head = append(head, varDecl(v, elem))
			lhs = []dst.Expr{dst.NewIdent(v)}
			after = append(after, &dst.AssignStmt{Lhs: []dst.Expr{rs.Key}, Tok: token.ASSIGN, Rhs: []dst.Expr{dst.NewIdent(v)}})
		// for s.last = range: the receive assigns it directly, as range did.
		default:
			lhs = []dst.Expr{rs.Key}
		}
	}
	if closable {
		// ok comes from fresh: the body may already use an ok of its own.
		ok := fresh(taken, "ok")
		head = append(head, varDecl(ok, dst.NewIdent("bool")))
		if lhs == nil {
			lhs = []dst.Expr{dst.NewIdent("_")}
		}
		lhs = append(lhs, dst.NewIdent(ok))
		// The break comes before the key's assignment, which a close must not
		// make; unlabelled, it leaves the new for, where the range ended.
		after = append([]dst.Stmt{&dst.IfStmt{
			Cond: &dst.UnaryExpr{Op: token.NOT, X: dst.NewIdent(ok)},
			Body: &dst.BlockStmt{List: []dst.Stmt{&dst.BranchStmt{Tok: token.BREAK}}},
		}}, after...)
	}
	var comm dst.Stmt = &dst.ExprStmt{X: recv(ch)}
	if lhs != nil {
		comm = &dst.AssignStmt{Lhs: lhs, Tok: token.ASSIGN, Rhs: []dst.Expr{recv(ch)}}
	}
	head = append(head, st.selectStmt(comm))
	head = append(head, after...)

	// Before the loop, or its label, so that a ticker made there is made
	// once per run of the loop, as range made it.
	if len(pre) > 0 {
		target, err := rw.listStmt(ars)
		if err != nil {
			return err
		}
		if !insertBefore(root, target, pre...) {
			return fmt.Errorf("%s: loop not found in a statement list", rw.pkg.Fset.Position(ars.Pos()))
		}
	}
	// The old body block is kept, with its comments; the new statements go
	// first in it, and the body runs after the select, as it ran after range
	// received.
	body := rs.Body
	body.List = append(head, body.List...)
	fs := &dst.ForStmt{Body: body}
	fs.Decs.NodeDecs = rs.Decs.NodeDecs
	// Comments inside the old header have nowhere better to go than after "for".
	for _, d := range [][]string{rs.Decs.For, rs.Decs.Key, rs.Decs.Value, rs.Decs.Range, rs.Decs.X} {
		fs.Decs.For = append(fs.Decs.For, d...)
	}
	if !replace(root, rs, fs) {
		return fmt.Errorf("%s: loop not found in its goroutine", rw.pkg.Fset.Position(ars.Pos()))
	}
	return nil
}

// timeC reports whether x is the C of a time.Ticker or time.Timer.
func timeC(info *types.Info, x ast.Expr) bool {
	s, ok := ast.Unparen(x).(*ast.SelectorExpr)
	if !ok || s.Sel.Name != "C" {
		return false
	}
	t := info.TypeOf(s.X)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && (n.Obj().Name() == "Ticker" || n.Obj().Name() == "Timer")
}

// isTime reports whether t is time.Time, by its package path: an import
// alias must not fool it.
func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// newTickerC reports whether the ranged expression x (dx in dst) is
// time.NewTicker(d).C, and returns the call.
// The function is resolved through types, so an aliased import of time
// or a local NewTicker is told apart from time's.
func newTickerC(info *types.Info, x ast.Expr, dx dst.Expr) (dst.Expr, bool) {
	s, ok := x.(*ast.SelectorExpr)
	if !ok || s.Sel.Name != "C" {
		return nil, false
	}
	c, ok := s.X.(*ast.CallExpr)
	if !ok {
		return nil, false
	}
	id, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr)
	if !ok {
		return nil, false
	}
	fn, ok := info.Uses[id.Sel].(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "time" || fn.Name() != "NewTicker" {
		return nil, false
	}
	ds, ok := dx.(*dst.SelectorExpr)
	if !ok {
		return nil, false
	}
	return ds.X, true
}

// hasCall reports whether evaluating e calls a function.
// Any call counts, a conversion included: taking a value once too often
// costs a variable, taking it too rarely changes the timing.
func hasCall(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if _, ok := n.(*ast.CallExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

// assignsTo reports whether anything in files may assign a variable or
// field that e reads.
//
// A field is known by its *types.Var, so s.ticker = … counts for range
// s.ticker.C whatever value s holds: erring toward a variable is harmless,
// since range evaluated its channel once anyway. The whole package is
// read, not just the loop's body: a method the body calls, or another
// goroutine, may replace the ticker (s.ticker = time.NewTicker(…) in a
// setter) as well. Besides plain assignments, an increment, a range that
// assigns, taking the address (the value may be set through the pointer),
// and a store of a whole struct that holds a field e reads all count; so
// does an exported field or package variable, which another package may
// assign (another package's code included: a clock library's ticker may
// swap its own C).
func assignsTo(info *types.Info, files []*ast.File, e ast.Expr) bool {
	read := map[types.Object]bool{}
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if v, ok := info.Uses[id].(*types.Var); ok {
				read[v] = true
			}
		}
		return true
	})
	return storesAny(info, files, read)
}

// storesAny reports whether anything in files, or in another package, may
// store into one of the variables and fields in read, as assignsTo
// counts stores.
func storesAny(info *types.Info, files []*ast.File, read map[types.Object]bool) bool {
	for v := range read {
		// time never replaces a Ticker's or Timer's C.
		if v, ok := v.(*types.Var); ok && v.Exported() && v.Pkg() != nil && v.Pkg().Path() != "time" &&
			(v.IsField() || v.Parent() == v.Pkg().Scope()) {
			return true
		}
	}
	// stores reports whether storing into x may change what is read: x
	// is one of the variables or fields, an element of one, what one of
	// them points to, or a struct that holds one of the fields.
	var stores func(x ast.Expr) bool
	stores = func(x ast.Expr) bool {
		x = ast.Unparen(x)
		if id, ok := x.(*ast.Ident); ok && info.Uses[id] == nil {
			return false // _, or a variable declared here: nothing else reads it yet
		}
		if t := info.TypeOf(x); t != nil {
			if st, ok := t.Underlying().(*types.Struct); ok {
				for f := range st.Fields() {
					if read[f] {
						return true
					}
				}
			}
		}
		switch x := x.(type) {
		case *ast.Ident:
			return read[info.Uses[x]]
		case *ast.SelectorExpr:
			return read[info.Uses[x.Sel]]
		case *ast.IndexExpr:
			return stores(x.X)
		case *ast.StarExpr:
			return stores(x.X)
		}
		return false
	}
	found := false
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, lhs := range n.Lhs {
					found = found || stores(lhs)
				}
			case *ast.IncDecStmt:
				found = found || stores(n.X)
			case *ast.RangeStmt:
				if n.Tok == token.ASSIGN {
					found = found || n.Key != nil && stores(n.Key) || n.Value != nil && stores(n.Value)
				}
			case *ast.UnaryExpr:
				// &T{…} makes a new value; only the address of one that
				// exists lets it be set elsewhere.
				_, lit := ast.Unparen(n.X).(*ast.CompositeLit)
				found = found || n.Op == token.AND && !lit && stores(n.X)
			}
			return !found
		})
		if found {
			break
		}
	}
	return found
}

// isPositive reports whether e is a constant greater than zero.
// Only a constant can be judged here; an interval computed at run time
// may be zero or negative.
func isPositive(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	return ok && tv.Value != nil && constant.Sign(tv.Value) > 0
}
