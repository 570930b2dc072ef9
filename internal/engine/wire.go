package engine

import (
	"go/ast"
	"go/types"
	"slices"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// wire fills in, for every fixed finding, what the engineer must call for
// the fix to take effect, and where the work is started in the loaded
// packages: a Shutdown nobody calls stops nothing.
func (r *run) wire(clean []*packages.Package, fixes []*pkgFix) {
	want := map[string][]*Wire{} // function key → the wires whose starter it is
	for _, pf := range fixes {
		for i, rf := range pf.found {
			d, ok := pf.done[rf]
			if !pf.findings[i].Fixed || rf.Fix == nil || !ok {
				continue
			}
			w := describeFix(rf.Fix, d)
			if w == nil {
				continue
			}
			pf.findings[i].Wire = w
			if fn, ok := pf.pkg.TypesInfo.Defs[rf.Fix.Base().Starter.Name].(*types.Func); ok {
				want[funcKey(fn)] = append(want[funcKey(fn)], w)
			}
		}
	}
	if len(want) == 0 {
		return
	}
	for _, p := range clean {
		for _, file := range p.Syntax {
			for _, decl := range file.Decls {
				enclosing := "package initialization"
				if fd, ok := decl.(*ast.FuncDecl); ok {
					enclosing = rules.FuncName(fd)
				}
				ast.Inspect(decl, func(n ast.Node) bool {
					id, ok := n.(*ast.Ident)
					if !ok {
						return true
					}
					fn, ok := p.TypesInfo.Uses[id].(*types.Func)
					if !ok {
						return true
					}
					for _, w := range want[funcKey(fn)] {
						c := Caller{Pos: r.position(p.Fset, id.Pos()), Func: enclosing}
						if !slices.Contains(w.Callers, c) {
							w.Callers = append(w.Callers, c)
						}
					}
					return true
				})
			}
		}
	}
}

// describeFix says what a fix made stop the work, from the rewrite's own
// record of it. It returns nil when there is nothing to wire up (a ticker
// that is now stopped where it is created).
func describeFix(fix rules.Fix, d rewrite.Done) *Wire {
	site := fix.Base()
	if site.Starter == nil || (d.Method == "" && d.Ctx == "") {
		return nil
	}
	return &Wire{Starter: rules.FuncName(site.Starter), Type: d.Type, Method: d.Method, Added: d.Added, Ctx: d.Ctx}
}
