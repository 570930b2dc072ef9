package rewrite

import (
	"fmt"
	"go/ast"
	"go/types"
	"unicode"
	"unicode/utf8"
)

// This file chooses the names new code declares. A new name must shadow
// nothing the code around it may refer to, since shadowing compiles and
// changes what the code means (promise 2); and it should read like a name
// a person chose (promise 5), so numbers come last.

// freeOn returns a test for names not yet used by t's fields and methods,
// or, for t nil, at package scope.
//
// A type's names are looked up with promotion: a new field named like a
// promoted field or method would shadow it, and existing code selecting it
// would select the new field instead. The package's are looked up
// in its scope, where a new variable would clash with any declaration of
// any file.
func (rw *rewriter) freeOn(t *types.Named) func(string) bool {
	if t == nil {
		return func(name string) bool { return rw.pkg.Types.Scope().Lookup(name) == nil }
	}
	return func(name string) bool {
		obj, _, _ := types.LookupFieldOrMethod(t, true, rw.pkg.Types, name)
		return obj == nil
	}
}

// takenIn returns the identifiers a function uses, so generated names avoid
// them. Every identifier counts, whatever it denotes and wherever in fn it
// is: coarser than scopes, but a name used anywhere in fn may be referred to
// after the point where new code declares it. For a goroutine literal,
// callers pass its starter, whose identifiers include the literal's. The map
// is cached per function and fresh adds to it, so that two fixes in one
// function (two loops one constructor starts) never pick the same name.
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
	// ctx.WithCancel(...) would compile, and mislead). Package-level names
	// are not added: a local that hides one the function does not use hides
	// nothing.
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
//
// The candidates are tried in order of preference ("done", then
// "cleanupDone"); numbers start at 2, as a person names a second ticker,
// and only once every candidate is taken. Marking the name taken in the
// same map lets the next fix in the same function pick another.
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

// upperFirst joins s into a camel-case name: "stop"+upperFirst("cleanup")
// is stopCleanup. The first letter is a rune, not a byte: a loop method
// éclairer gives stopÉclairer, where cutting the first byte gave a name
// with half a letter, which no Go file can hold.
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
