package rules

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"
)

// This file finds managed loops that still cannot be stopped on the value
// that starts them: their only ways out receive from fields of the receiver
// that the starter leaves nil.

// nilStop says why a loop the analysis found managed cannot be stopped on
// the value starter starts it on, or "": its only ways out are select cases
// receiving from fields of the receiver that starter, which makes the
// value, never sets, and that no method sets either. A receive from a nil
// channel never proceeds: another constructor of the type may make the
// channel, this one leaves it nil.
//
//	func NewWithTTL(ttl time.Duration) *Cache {
//		c := &Cache{ttl: ttl} // no quit: make(chan struct{})
//		go c.evict()          // evict returns only on <-c.quit
//		return c
//	}
//
// The finding has no fix: the value needs the channel the other
// constructor makes, and a stop of the loop's own would give the type a
// second stop signal.
func (f *loopFinder) nilStop(starter *ast.FuncDecl, start ast.Stmt, fun ast.Expr, method *ast.FuncDecl, loop ast.Stmt) string {
	// Only go x.m() on a method with a named receiver: the exits are read
	// as receives from the receiver's fields, and the fields as x's.
	s, ok := ast.Unparen(fun).(*ast.SelectorExpr)
	if !ok || method.Recv == nil || len(method.Recv.List[0].Names) == 0 {
		return ""
	}
	x, ok := ast.Unparen(s.X).(*ast.Ident)
	if !ok {
		return ""
	}
	// The starter must make the value itself (c := &Cache{...}): only
	// then does its code show every field the value starts with. A value
	// handed in, or a receiver, may have been given its channel elsewhere.
	recv := f.pass.Info.Defs[method.Recv.List[0].Names[0]]
	made := f.madeIn(starter, x)
	if recv == nil || !made {
		return ""
	}
	// The fields the loop's exits receive from; any other exit (a return
	// outside such a case, a break out of the loop) gives up.
	fields := map[*types.Var]bool{}
	other := false
	var walk func(n ast.Node, inStop bool)
	walk = func(n ast.Node, inStop bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.CommClause:
				// case <-c.quit: return is a stop on the field quit; a
				// case on the receiver's field that goes on (case
				// <-c.kick: c.flush()) is none.
				stop := false
				if r := CommRecv(n.Comm); r != nil {
					if rs, ok := ast.Unparen(r).(*ast.SelectorExpr); ok {
						if id, ok := ast.Unparen(rs.X).(*ast.Ident); ok && f.pass.Info.Uses[id] == recv {
							if v, ok := f.objectOf(rs).(*types.Var); ok && v.IsField() {
								if Leaves(n.Body, 1) {
									fields[v], stop = true, true
								}
							}
						}
					}
				}
				for _, b := range n.Body {
					walk(b, inStop || stop)
				}
				return false
			case *ast.ReturnStmt:
				// Inside a stop case every exit is that stop's; anywhere
				// else it is another way out, which the starter's value may
				// take (if c.closed.Load() { return }).
				if !inStop {
					other = true
				}
			case *ast.BranchStmt:
				if !inStop && (n.Tok == token.BREAK && n.Label != nil || n.Tok == token.GOTO) {
					other = true
				}
			}
			return !other
		})
	}
	walk(loop, false)
	// A worker that waits for jobs (select { case <-w.quit: return; case
	// n := <-w.jobs: ... }) is not the periodic work this rule reports.
	if other || len(fields) == 0 || !f.waitsOnTime(loop) {
		return ""
	}
	t := derefType(f.pass.Info.TypeOf(x))
	named, _ := types.Unalias(t).(*types.Named)
	// Every stop field must be left nil: one the starter sets, or that a
	// method sets later (a Start that makes quit), may yet stop the loop.
	var names []string
	for v := range fields {
		// An exported field may be set by whoever made the value.
		if named == nil || v.Exported() || f.setsField(starter, x, v) || f.setInMethods(named, v.Name()) {
			return ""
		}
		names = append(names, x.Name+"."+v.Name())
	}
	// Sorted, so that the reason does not change with map order.
	slices.Sort(names)
	return "the loop's only way out receives from " + strings.Join(names, " or ") + ", which " + FuncName(starter) + " never makes: a receive from a nil channel never proceeds"
}

// waitsOnTime reports whether loop waits on a timer, a ticker or a sleep
// of its own: the periodic work this rule is about, not a worker waiting
// for jobs.
func (f *loopFinder) waitsOnTime(loop ast.Stmt) bool {
	// The walk enters select cases' comms: case <-t.C: is the common
	// wait. A literal's waits are another function's.
	found := false
	ast.Inspect(loop, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.UnaryExpr:
			found = found || n.Op == token.ARROW && f.isTimeChan(n.X)
		case *ast.RangeStmt:
			found = found || f.isTimeChan(n.X)
		case *ast.CallExpr:
			found = found || f.isTimeCall(n, "Sleep")
		}
		return !found
	})
	return found
}

// setsField reports whether fn sets the field v of the value x names: as
// a key of the composite literal x is made from, or by assigning x.v.
func (f *loopFinder) setsField(fn *ast.FuncDecl, x *ast.Ident, v *types.Var) bool {
	obj := f.pass.Info.ObjectOf(x)
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			// A literal without keys sets every field. Any unkeyed literal
			// of fn counts, of x's type or not: the check errs toward
			// finding the field set, and so toward no report.
			if len(n.Elts) > 0 {
				if _, keyed := n.Elts[0].(*ast.KeyValueExpr); !keyed {
					found = true
				}
			}
		case *ast.KeyValueExpr:
			// &Cache{quit: q}, whatever q is: even a nil it names is
			// taken for set.
			if k, ok := n.Key.(*ast.Ident); ok && f.pass.Info.Uses[k] == v {
				found = true
			}
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				if s, ok := ast.Unparen(l).(*ast.SelectorExpr); ok && f.objectOf(s) == v {
					if id, ok := ast.Unparen(s.X).(*ast.Ident); ok && f.pass.Info.ObjectOf(id) == obj {
						found = true
					}
				}
			}
		case *ast.CallExpr:
			// x handed to a function (an init helper) may get it set there.
			for _, a := range n.Args {
				if id, ok := ast.Unparen(a).(*ast.Ident); ok && f.pass.Info.ObjectOf(id) == obj {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
