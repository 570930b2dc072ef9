package rules

import (
	"go/ast"
	"go/token"
	"go/types"
	"go/version"
)

const unstoppedTicker = "unstopped-ticker"

// A TickerStop is the fix plan for a local ticker that is never stopped:
// `defer t.Stop()` right after it is made.
type TickerStop struct {
	Site
	Assign *ast.AssignStmt // t := time.NewTicker(d)
	Var    string          // t
}

// UnstoppedTicker reports tickers that are never stopped, in modules whose
// go line is below 1.23: before Go 1.23 an unstopped Ticker is never
// garbage-collected, even once nothing refers to it.
//
//	t := time.NewTicker(d); for range t.C { if done() { return } }
//	=> defer t.Stop() after the ticker is made
var UnstoppedTicker = &Rule{
	Name: unstoppedTicker,
	// Only where the module's go line is below 1.23, when unstopped
	// tickers are never collected. The rule reads only tickers made by a
	// call of time.NewTicker in the package; one handed in is the caller's.
	Needs: Needs{Calls: []string{"time.NewTicker"}, GoBefore: "1.23"},
	Doc: Doc{
		Title: "Ticker never stopped (modules before Go 1.23)",
		Text: `Before Go 1.23 the runtime keeps every Ticker that was not stopped, and its
timer keeps firing, even after the goroutine that used it returned. Since Go
1.23 an unreferenced ticker is collected, so this rule only reports in modules
whose go.mod says go 1.22 or lower.

A ticker returned to the caller, stored in a field or a variable outside the
function, passed to another function, or stopped (directly or by defer) is not
reported. The fix adds defer t.Stop() right after the ticker is made, when no
goroutine or function literal uses the ticker (a defer would stop it under
them).`,
		Before: `func poll(done func() bool) {
	t := time.NewTicker(time.Second)
	for range t.C {
		if done() {
			return
		}
	}
}`,
		After: `func poll(done func() bool) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if done() {
			return
		}
	}
}`,
	},
	Find: findTickers,
}

// findTickers reports the tickers of the package's functions that nothing
// stops. An unknown go line reports nothing: the module may be on Go 1.23 or
// later, where the ticker is collected.
func findTickers(pass *Pass) []*Finding {
	// go/version compares "go1.22", not the go line's "1.22".
	if pass.GoVersion == "" || version.Compare("go"+pass.GoVersion, "go1.23") >= 0 {
		return nil
	}
	var out []*Finding
	for fn := range funcs(pass.Files) {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			// t := time.NewTicker(d) into a variable: s.t = time.NewTicker(d)
			// is stored in a field, which the owner's cleanup may stop.
			// (var t = time.NewTicker(d) is a declaration, not read here.)
			call, ok := ast.Unparen(as.Rhs[0]).(*ast.CallExpr)
			id, isIdent := as.Lhs[0].(*ast.Ident)
			if !ok || !isIdent || !isPkgCall(pass.Info, call, "time", "NewTicker") {
				return true
			}
			v, ok := pass.Info.ObjectOf(id).(*types.Var)
			if !ok || v.Parent() == pass.Pkg.Scope() {
				return true // a package variable: owned elsewhere
			}
			// The whole body is read, not only what follows the assignment:
			// a Stop anywhere in fn counts.
			escapes, captured := tickerUses(pass.Info, fn.Body, v)
			if escapes {
				return true
			}
			f := &Finding{
				Rule:    unstoppedTicker,
				Pos:     call.Pos(),
				Message: "ticker " + v.Name() + " made in " + FuncName(fn) + " is never stopped; before Go 1.23 it is never garbage-collected (go.mod says go " + pass.GoVersion + ")",
			}
			switch {
			// go func() { for range t.C { ... } }(): the goroutine may
			// outlive fn, and a defer in fn would stop its ticker under it.
			case captured:
				f.Unfixable = "a goroutine or function literal uses the ticker, so stopping it when " + fn.Name.Name + " returns could change what it does"
			case as.Tok != token.DEFINE && as.Tok != token.ASSIGN:
				f.Unfixable = "the ticker is not made by a plain assignment"
			// defer t.Stop() right after the assignment: the deferred call
			// takes t as it is then, so a later t = time.NewTicker(d) gets a
			// defer of its own and each ticker is stopped.
			default:
				f.Fix = &TickerStop{Site: Site{Starter: fn, Name: v.Name()}, Assign: as, Var: v.Name()}
			}
			out = append(out, f)
			return true
		})
	}
	return out
}

// tickerUses reports whether the ticker v escapes or is stopped (either ends
// the function's responsibility for it), and whether a function literal
// uses it.
//
// Any of these shapes is an escape: t.Stop() or t.Reset(d), return t (or a
// value holding t), helper(t), x = t, and &T{t: t} or []*time.Ticker{t}.
// Each stops the ticker or may hand it to code that does, so the rule errs
// toward not reporting; an escape outweighs a capture.
func tickerUses(info *types.Info, body *ast.BlockStmt, v *types.Var) (escapes, captured bool) {
	var walk func(n ast.Node, inLit bool)
	walk = func(root ast.Node, inLit bool) {
		ast.Inspect(root, func(n ast.Node) bool {
			switch n := n.(type) {
			// Every use inside a literal, however deeply nested, is a
			// capture.
			case *ast.FuncLit:
				walk(n.Body, true)
				return false
			case *ast.Ident:
				// Any use in a literal, t.C in a goroutine included: a
				// defer t.Stop() would stop the ticker under it.
				if info.Uses[n] == v && inLit {
					captured = true
				}
			case *ast.SelectorExpr:
				// t.Stop() or t.Reset(): stopped, or managed by hand.
				if id, ok := n.X.(*ast.Ident); ok && info.Uses[id] == v && (n.Sel.Name == "Stop" || n.Sel.Name == "Reset") {
					escapes = true
				}
			case *ast.ReturnStmt:
				// Anywhere in a result: return &Beat{t: t} hands it out too.
				for _, r := range n.Results {
					if usesVar(info, r, v) {
						escapes = true
					}
				}
			case *ast.CallExpr:
				for _, a := range n.Args {
					if id, ok := ast.Unparen(a).(*ast.Ident); ok && info.Uses[id] == v {
						escapes = true // a helper may stop it
					}
				}
			case *ast.AssignStmt:
				// Only t itself on the right: c := t.C keeps the ticker's
				// channel, not the ticker, and nothing can stop it there.
				for i, r := range n.Rhs {
					if id, ok := ast.Unparen(r).(*ast.Ident); ok && info.Uses[id] == v && i < len(n.Lhs) {
						escapes = true // stored elsewhere
					}
				}
			case *ast.CompositeLit:
				// Put in a struct, slice or map value, which may outlive
				// the function.
				for _, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						e = kv.Value
					}
					if id, ok := ast.Unparen(e).(*ast.Ident); ok && info.Uses[id] == v {
						escapes = true
					}
				}
			}
			return true
		})
	}
	walk(body, false)
	return escapes, captured
}

// usesVar reports whether e mentions v.
func usesVar(info *types.Info, e ast.Expr, v *types.Var) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == v {
			found = true
		}
		return !found
	})
	return found
}
