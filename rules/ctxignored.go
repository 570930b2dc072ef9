package rules

import (
	"go/ast"
)

// This file finds, in code that lives as long as the process (package main,
// a cmd/ tree, a command's action), the one shape that is still a leak
// there: a goroutine whose function is handed a context it can be
// cancelled with, and loops without reading it. Cancelling the context
// (graceful shutdown) then does not stop the loop.

// ignoredCtxIn reports the goroutines started under n, in the process-wide
// function fn, that loop ignoring the context they are handed.
func (f *loopFinder) ignoredCtxIn(fn *ast.FuncDecl, n ast.Node) []*Finding {
	var out []*Finding
	ast.Inspect(n, func(c ast.Node) bool {
		if g, ok := c.(*ast.GoStmt); ok {
			out = append(out, f.ignoredCtx(fn, g)...)
		}
		return true
	})
	return out
}

// ignoredCtx reports the loops of the function g runs by name (go
// scan(ctx, …), go s.run(ctx)) that never read the context parameter g
// hands them, when that context can be cancelled. The fix makes each wait
// of the loop return once the context is done, as for a method that takes
// its lifetime from its caller.
func (f *loopFinder) ignoredCtx(starter *ast.FuncDecl, g *ast.GoStmt) []*Finding {
	info := f.pass.Info
	decl := f.goDecl(g.Call.Fun)
	if decl == nil {
		return nil
	}
	name, i := ctxParam(info, decl.Type)
	if name == "" || i >= len(g.Call.Args) || f.notLifetime(g.Call.Args[i], starter) != "" {
		return nil // no context, or one that is never cancelled (context.Background())
	}
	var out []*Finding
	for _, stmt := range outerLoops(decl.Body) {
		l := f.analyse(stmt)
		if l == nil || l.Signal != nil {
			continue
		}
		l.Start, l.Starter, l.Method = g, starter, decl
		l.Site.start = g
		finding := &Finding{
			Rule:    unstoppableLoop,
			Pos:     g.Pos(),
			Message: "goroutine started in " + FuncName(starter) + " " + l.verb() + " forever and ignores the context " + name + " it is handed, so cancelling " + name + " does not stop it",
		}
		// The plan takes the method's own context parameter as the
		// loop's lifetime; anything else (an owner type) does not apply to
		// process-wide code, whose other work is meant to run until exit.
		why := f.plan(l, decl.Type, decl.Body)
		switch {
		case why == "" && (l.Ctx != name || l.Owner != nil):
			continue
		case why != "":
			finding.Unfixable = why
		default:
			finding.Fix = l
		}
		out = append(out, finding)
	}
	return out
}
