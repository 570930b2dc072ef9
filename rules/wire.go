package rules

import (
	"go/ast"
	"go/types"
)

// Cleanups decides, for the types of one package, which existing method
// ends a value's life, as a fix decides it for the type it extends: the
// first of CleanupNames the type declares itself, unless another method
// undoes it (a Stop that Start reverses only pauses). Wiring reads it to
// know where an outer owner's life ends.
type Cleanups struct{ f *loopFinder }

// NewCleanups indexes the package of pass once for every question asked.
func NewCleanups(pass *Pass) *Cleanups { return &Cleanups{f: newLoopFinder(pass)} }

// Of returns t's cleanup method, or nil and why it has none that ends the
// value's life ("" when it has none at all).
func (c *Cleanups) Of(t *types.Named) (*ast.FuncDecl, string) {
	return c.f.cleanup(t, nil)
}
