package engine

import (
	"go/token"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/rules"
)

// Related is another place that explains a finding: the method the
// goroutine runs, the loop that never ends ("this loop never ends"). Its
// Pos names the file by its absolute path, as Finding.Pos does.
type Related struct {
	Pos     token.Position
	Message string
}

// extent is Extent with positions resolved in pkg's FileSet: in the files as
// this pass loaded them. Unlike Finding.Pos (run.position), they are not
// mapped back through an earlier platform's changes to the files on disk.
//
// The end lets Options.Keep see the whole statement: a finding counts as
// new when any line of its go statement changed, not only the first.
func extent(pkg *packages.Package, f *rules.Finding) (token.Position, []Related) {
	end, places := fixpkg.Extent(pkg.Syntax, f)
	var related []Related
	for _, p := range places {
		related = append(related, Related{Pos: pkg.Fset.Position(p.Pos), Message: p.Message})
	}
	return pkg.Fset.Position(end), related
}
