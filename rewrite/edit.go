package rewrite

import (
	"go/ast"

	"github.com/dave/dst"
	"github.com/dave/dst/dstutil"
)

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

func insert(root dst.Node, target dst.Stmt, moveComments bool, stmts []dst.Stmt) bool {
	done := false
	dstutil.Apply(root, func(c *dstutil.Cursor) bool {
		if done || c.Node() != target {
			return !done
		}
		if c.Index() < 0 {
			return false
		}
		first := stmts[0].Decorations()
		td := target.Decorations()
		first.Before, td.Before = td.Before, dst.NewLine
		if moveComments {
			first.Start, td.Start = td.Start, nil
		}
		for _, s := range stmts {
			c.InsertBefore(s)
		}
		done = true
		return false
	}, nil)
	return done
}

// replace swaps target for repl wherever it appears under root.
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
func (rw *rewriter) listStmt(s ast.Stmt) (dst.Stmt, error) {
	var outer ast.Stmt = s
	for _, f := range rw.pkg.Files {
		if f.FileStart <= s.Pos() && s.Pos() < f.FileEnd {
			ast.Inspect(f, func(n ast.Node) bool {
				if l, ok := n.(*ast.LabeledStmt); ok && l.Stmt == s {
					outer = l
				}
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
