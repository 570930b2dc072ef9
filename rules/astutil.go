package rules

import (
	"go/ast"
	"go/format"
	"go/token"
	"strings"
)

// This file holds small syntax helpers shared by the loop analysis.

// exprString formats e as written, for naming locks.
// A fresh FileSet prints e without its positions, so the same expression
// gives the same string wherever it appears: callers compare s.mu at a Lock
// with s.mu at an Unlock, or a channel at a send with one at a receive, by
// these strings. It reports false when e cannot be printed.
func exprString(e ast.Expr) (string, bool) {
	var b strings.Builder
	if err := format.Node(&b, token.NewFileSet(), e); err != nil {
		return "", false
	}
	return b.String(), true
}

// stmtLists returns the statement lists directly inside s.
//
// Only lists are returned, never the statements of a header (an if's or
// switch's init, a for's init and post) nor the code of function literals:
// a caller that walks them, as opStmt and heldLock do, reaches only
// statements of the function itself that stand in a list, where the fix
// can put a select in a statement's place, and where a lock one statement
// takes is held by the statements after it.
func stmtLists(s ast.Stmt) [][]ast.Stmt {
	switch s := s.(type) {
	case *ast.BlockStmt:
		return [][]ast.Stmt{s.List}
	case *ast.LabeledStmt:
		// The labeled statement as a list of one, so that the walk goes on
		// into a labeled loop (outer: for { ... }).
		return [][]ast.Stmt{{s.Stmt}}
	case *ast.IfStmt:
		// The else branch, a block or another if, comes back as a list of
		// its one statement, so a caller's walk recurses into it in turn.
		lists := [][]ast.Stmt{s.Body.List}
		if s.Else != nil {
			lists = append(lists, []ast.Stmt{s.Else})
		}
		return lists
	case *ast.ForStmt:
		return [][]ast.Stmt{s.Body.List}
	case *ast.RangeStmt:
		return [][]ast.Stmt{s.Body.List}
	case *ast.SwitchStmt:
		return clauses(s.Body)
	case *ast.TypeSwitchStmt:
		return clauses(s.Body)
	case *ast.SelectStmt:
		return clauses(s.Body)
	}
	return nil
}

// clauses returns the bodies of the case or comm clauses of a switch or
// select body, in the order written.
func clauses(b *ast.BlockStmt) [][]ast.Stmt {
	var lists [][]ast.Stmt
	for _, c := range b.List {
		switch c := c.(type) {
		case *ast.CaseClause:
			lists = append(lists, c.Body)
		case *ast.CommClause:
			lists = append(lists, c.Body)
		}
	}
	return lists
}

// hasReturn reports whether n holds a return statement of its own function
// (one in a function literal returns from the literal).
func hasReturn(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		switch n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			found = true
		}
		return !found
	})
	return found
}

// Leaves reports whether control can leave, through stmts, the loop they
// are in, depth breakable statements deep (0: the loop's own body; 1: a
// select case in it, whose unlabelled break leaves only the select): by a
// return, a goto, a labelled break, or an unlabelled break that no inner
// for, range, select or switch takes for its own.
//
// The label is not resolved: a labelled break or a goto counts as leaving
// whichever statement it names, which errs toward a way out. A return in
// a function literal of stmts returns from the literal, and is not
// counted.
func Leaves(stmts []ast.Stmt, depth int) bool {
	found := false
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		ast.Inspect(n, func(n ast.Node) bool {
			var inner *ast.BlockStmt // the body of a statement an unlabelled break ends
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt:
				found = true
			case *ast.BranchStmt:
				if n.Tok == token.GOTO || n.Tok == token.BREAK && (n.Label != nil || depth == 0) {
					found = true
				}
			case *ast.ForStmt:
				inner = n.Body
			case *ast.RangeStmt:
				inner = n.Body
			case *ast.SelectStmt:
				inner = n.Body
			case *ast.SwitchStmt:
				inner = n.Body
			case *ast.TypeSwitchStmt:
				inner = n.Body
			}
			if inner != nil && !found {
				walk(inner, depth+1)
				return false
			}
			return !found
		})
	}
	for _, s := range stmts {
		walk(s, depth)
	}
	return found
}

// runValue returns the expression a statement evaluates as a whole, when
// it is one a caller can read as a call or a receive made on every run of
// the statement: x in the statement x, and the value of a one-value
// assignment (now := <-p.t.C, b.t = time.AfterFunc(d, b.beat), err :=
// p.backoff()). It returns nil for any other statement.
func runValue(st ast.Stmt) ast.Expr {
	switch st := st.(type) {
	case *ast.ExprStmt:
		return st.X
	case *ast.AssignStmt:
		if len(st.Rhs) == 1 {
			return st.Rhs[0]
		}
	}
	return nil
}

// parts splits a loop or switch into its header (init, condition, tag...)
// and the statements of its body.
func parts(n ast.Node) (header []ast.Node, body []ast.Stmt) {
	add := func(ns ...ast.Node) {
		for _, n := range ns {
			if n != nil {
				header = append(header, n)
			}
		}
	}
	switch n := n.(type) {
	case *ast.ForStmt:
		add(n.Init, n.Cond, n.Post)
		return header, n.Body.List
	case *ast.RangeStmt:
		// The key and value are only assigned to; the operand is what
		// the range evaluates.
		add(n.X)
		return header, n.Body.List
	case *ast.SwitchStmt:
		// A switch's body is its case clauses, each walked as one
		// statement with its case expressions and body.
		add(n.Init, n.Tag)
		body = n.Body.List
	case *ast.TypeSwitchStmt:
		add(n.Init, n.Assign)
		body = n.Body.List
	}
	return header, body
}

// CommRecv returns the channel a select case receives from (case <-ch,
// case v := <-ch, case v, ok = <-ch), or nil for a send case and for
// default, whose comm is nil.
func CommRecv(comm ast.Stmt) ast.Expr {
	var e ast.Expr
	switch c := comm.(type) {
	case *ast.ExprStmt:
		e = c.X
	case *ast.AssignStmt:
		if len(c.Rhs) == 1 {
			e = c.Rhs[0]
		}
	}
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.ARROW {
		return u.X
	}
	return nil
}

// continueTo returns a continue statement in loop's body that starts loop's
// next iteration, and so runs its post statement, or nil. body is the
// function that holds loop, where its label would be declared.
func continueTo(body ast.Node, loop *ast.ForStmt) *ast.BranchStmt {
	// A continue in a nested loop names loop by its label (continue
	// outer), so the label is found first; "" when loop has none, which no
	// continue can name.
	label := ""
	ast.Inspect(body, func(n ast.Node) bool {
		if ls, ok := n.(*ast.LabeledStmt); ok && ls.Stmt == ast.Stmt(loop) {
			label = ls.Label.Name
		}
		return label == ""
	})
	var found *ast.BranchStmt
	// inner is set inside a nested for or range, whose plain continue
	// starts that loop's next pass, not loop's. A continue inside a switch
	// or select still continues loop, so those are walked through.
	var walk func(n ast.Node, inner bool)
	walk = func(n ast.Node, inner bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			if found != nil {
				return false
			}
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ForStmt, *ast.RangeStmt:
				_, body := parts(n)
				for _, s := range body {
					walk(s, true)
				}
				return false
			case *ast.BranchStmt:
				if n.Tok == token.CONTINUE && (n.Label == nil && !inner || n.Label != nil && n.Label.Name == label) {
					found = n
				}
			}
			return true
		})
	}
	for _, s := range loop.Body.List {
		walk(s, false)
	}
	return found
}
