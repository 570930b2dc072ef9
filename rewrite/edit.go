package rewrite

import (
	"go/ast"

	"github.com/dave/dst"
	"github.com/dave/dst/dstutil"
)

// This file holds the statement-list surgery every transform shares. Each
// helper reports whether it found its target, and callers turn false into
// a positioned error: a plan that points at code the rewrite cannot reach
// must fail loudly, not leave half a fix.

// insertBefore inserts stmts before target in the statement list holding it.
// Target keeps its leading comments, which describe it (and may be
// directives such as //nolint that apply to it alone); the blank line before
// target, if any, moves above the first inserted statement, so the new
// statements join target's paragraph.
func insertBefore(root dst.Node, target dst.Stmt, stmts ...dst.Stmt) bool {
	return insert(root, target, false, stmts)
}

// insertReplacing is insertBefore for a target about to be replaced: its
// leading comments move to the first inserted statement so they are kept.
func insertReplacing(root dst.Node, target dst.Stmt, stmts ...dst.Stmt) bool {
	return insert(root, target, true, stmts)
}

// insert is insertBefore and insertReplacing; stmts must not be empty.
func insert(root dst.Node, target dst.Stmt, moveComments bool, stmts []dst.Stmt) bool {
	done := false
	dstutil.Apply(root, func(c *dstutil.Cursor) bool {
		// Once done, stop descending: a dst node appears once in the tree, and
		// a second match is impossible.
		if done || c.Node() != target {
			return !done
		}
		// Target is a single field (an if's init, a for's post statement), not
		// an element of a list: nothing can stand beside it, so report it
		// rather than drop stmts.
		if c.Index() < 0 {
			return false
		}
		first := stmts[0].Decorations()
		td := target.Decorations()
		// The new statements take target's place in the paragraph layout, and
		// target follows them on the next line.
		first.Before, td.Before = td.Before, dst.NewLine
		if moveComments {
			first.Start, td.Start = td.Start, nil
		}
		// InsertBefore puts each one right before target, so going in order
		// keeps stmts' order.
		for _, s := range stmts {
			c.InsertBefore(s)
		}
		done = true
		return false
	}, nil)
	return done
}

// replace swaps target for repl wherever it appears under root.
// Unlike insert it works on a single field too (a range statement is a
// label's Stmt, or a block's element), since one node takes the place of
// another. repl keeps none of target's decorations unless the caller
// copied them: each transform decides which comments stay on which line.
func replace(root dst.Node, target, repl dst.Node) bool {
	done := false
	dstutil.Apply(root, func(c *dstutil.Cursor) bool {
		if done {
			return false
		}
		if c.Node() == target {
			c.Replace(repl)
			done = true
			return false
		}
		return true
	}, nil)
	return done
}

// remove deletes target from the statement list holding it under root.
// Only from a list: deleting a single field would leave, say, an if
// without its body.
func remove(root, target dst.Node) bool {
	done := false
	dstutil.Apply(root, func(c *dstutil.Cursor) bool {
		if done {
			return false
		}
		if c.Node() == target && c.Index() >= 0 {
			c.Delete()
			done = true
			return false
		}
		return true
	}, nil)
	return done
}

// prepend makes s the first statement of the goroutine's function root.
//
// Deferred calls run last first, so of two defers prepended one after
// the other, the later runs first: callers rely on that to make signal.Stop
// run before the deferred close(done) or wg.Done() that tells the cleanup
// the goroutine has ended. root is always what goroutine returns, a
// *dst.FuncLit or *dst.FuncDecl.
func prepend(root dst.Node, s dst.Stmt) {
	var body *dst.BlockStmt
	switch fn := root.(type) {
	case *dst.FuncLit:
		body = fn.Body
	case *dst.FuncDecl:
		body = fn.Body
	}
	body.List = append([]dst.Stmt{s}, body.List...)
}

// listStmt returns the statement that holds s in a statement list: s itself,
// or the labeled statement around it.
//
// New statements go before the label, not between it and the loop: a
// label must stay on its loop for break L and continue L to keep their
// meaning, and only the labeled statement is an element of the list.
func (rw *rewriter) listStmt(s ast.Stmt) (dst.Stmt, error) {
	var outer ast.Stmt = s
	for _, f := range rw.pkg.Files {
		if f.FileStart <= s.Pos() && s.Pos() < f.FileEnd {
			ast.Inspect(f, func(n ast.Node) bool {
				if l, ok := n.(*ast.LabeledStmt); ok && l.Stmt == s {
					outer = l
				}
				// Stop looking once the label is found.
				return outer == s
			})
		}
	}
	n, err := rw.node(outer)
	if err != nil {
		return nil, err
	}
	return n.(dst.Stmt), nil
}
