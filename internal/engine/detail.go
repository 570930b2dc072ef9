package engine

import (
	"go/token"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/rules"
)

// Related is another place that explains a finding.
type Related struct {
	Pos     token.Position
	Message string
}

// extent is Extent with positions resolved.
func extent(pkg *packages.Package, f *rules.Finding) (token.Position, []Related) {
	end, places := fixpkg.Extent(pkg.Syntax, f)
	var related []Related
	for _, p := range places {
		related = append(related, Related{Pos: pkg.Fset.Position(p.Pos), Message: p.Message})
	}
	return pkg.Fset.Position(end), related
}
