package rewrite

import (
	"fmt"
	"go/ast"
	"go/types"
	"strings"
)

// freeOn returns a test for names not yet used by t's fields and methods,
// or, for t nil, at package scope.
func (rw *rewriter) freeOn(t *types.Named) func(string) bool {
	if t == nil {
		return func(name string) bool { return rw.pkg.Types.Scope().Lookup(name) == nil }
	}
	return func(name string) bool {
		obj, _, _ := types.LookupFieldOrMethod(t, true, rw.pkg.Types, name)
		return obj == nil
	}
}

// taken returns the identifiers a function uses, so generated names avoid them.
func (rw *rewriter) takenIn(fn *ast.FuncDecl) map[string]bool {
	if m, ok := rw.taken[fn]; ok {
		return m
	}
	m := map[string]bool{}
	ast.Inspect(fn, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			m[id.Name] = true
		}
		return true
	})
	// A new variable never takes the name of one of the file's imports,
	// which new code may refer to after it (ctx, cancel :=
	// ctx.WithCancel(...) would compile, and mislead).
	for _, f := range rw.pkg.Files {
		if f.FileStart <= fn.Pos() && fn.Pos() < f.FileEnd {
			if scope := rw.pkg.Info.Scopes[f]; scope != nil {
				for _, name := range scope.Names() {
					m[name] = true
				}
			}
		}
	}
	rw.taken[fn] = m
	return m
}

// fresh returns the first of the candidates not yet taken, or the first with
// a number appended, and marks it taken.
func fresh(taken map[string]bool, candidates ...string) string {
	for _, c := range candidates {
		if !taken[c] {
			taken[c] = true
			return c
		}
	}
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s%d", candidates[0], i)
		if !taken[c] {
			taken[c] = true
			return c
		}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
