package fixpkg

import (
	"go/ast"
	"go/token"

	"github.com/leakfix/leakfix/rules"
)

// A Place is a position in the source and what it shows.
type Place struct {
	Pos     token.Pos
	Message string
}

// Extent returns where the statement a finding reports ends, and the
// places that explain it: for a loop, the method the goroutine runs, if it
// runs one, and the loop that never ends; then those the rule gave
// (Finding.Related). files are the package's files.
func Extent(files []*ast.File, f *rules.Finding) (token.Pos, []Place) {
	// The extent is the whole statement, so that a filter on changed
	// lines (Options.Keep) sees a change anywhere in the goroutine's
	// code, and an editor can underline what the finding is about.
	end := f.Pos
	for _, file := range files {
		if file.FileStart <= f.Pos && f.Pos < file.FileEnd {
			// The outermost statement that starts at Pos: the go statement,
			// or the call that starts the work.
			ast.Inspect(file, func(n ast.Node) bool {
				// Only nodes that hold Pos lead to the statement.
				if n == nil || n.End() <= f.Pos || f.Pos < n.Pos() {
					return false
				}
				if s, ok := n.(ast.Stmt); ok && s.Pos() == f.Pos {
					end = s.End()
					return false
				}
				return true
			})
		}
	}
	var related []Place
	// A loop's own places come first: the reader goes from the go
	// statement to the code it runs and the loop that never ends,
	// before the rule's further notes.
	if l, ok := f.Fix.(*rules.Loop); ok {
		if l.Method != nil {
			related = append(related, Place{l.Method.Name.Pos(), "the goroutine runs " + l.Method.Name.Name})
		}
		if l.Stmt != nil {
			related = append(related, Place{l.Stmt.Pos(), "this loop never ends"})
		}
	}
	for _, n := range f.Related {
		related = append(related, Place{n.Pos, n.Message})
	}
	return end, related
}
