package engine

import (
	"go/ast"
	"go/types"
	"slices"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/rules"
)

// wire fills in, for every fixed finding, what the engineer must call for
// the fix to take effect, and where the work is started in the loaded
// packages: a Shutdown nobody calls stops nothing.
func (r *run) wire(clean []*packages.Package, fixes []*pkgFix) {
	want := map[string][]*Wire{} // function key → the wires whose starter it is
	for _, pf := range fixes {
		for i, rf := range pf.found {
			if !pf.findings[i].Fixed || rf.Fix == nil {
				continue
			}
			w := describeFix(pf.pkg, rf.Fix)
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

// describeFix says what a fix adds, the way rewrite does it: the first
// cleanup method (or, for package variables, function) the owner already
// declares is extended, or Shutdown is generated. It returns nil when there
// is nothing to wire up (a ticker that is now stopped where it is created).
func describeFix(pkg *packages.Package, fix rules.Fix) *Wire {
	site := fix.Base()
	if site.Starter == nil {
		return nil
	}
	w := &Wire{Starter: rules.FuncName(site.Starter)}
	if site.Owner == nil {
		if loop, ok := fix.(*rules.Loop); ok && loop.Ctx != "" {
			w.Ctx = loop.Ctx
			return w
		}
		return nil
	}
	t := site.Owner.Type
	if t != nil {
		w.Type = t.Obj().Name()
	}
	w.Method, w.Added = "Shutdown", true
	for _, name := range rules.CleanupNames {
		var obj types.Object
		if t == nil {
			obj = pkg.Types.Scope().Lookup(name)
		} else {
			obj, _, _ = types.LookupFieldOrMethod(t, true, pkg.Types, name)
		}
		if fn, ok := obj.(*types.Func); ok && fn.Pkg() == pkg.Types && (t == nil) == (fn.Signature().Recv() == nil) {
			w.Method, w.Added = name, false
			return w
		}
	}
	return w
}
