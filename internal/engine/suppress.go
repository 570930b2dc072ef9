package engine

import (
	"go/token"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/rules"
)

// suppress drops the findings that a //leakfix:ignore comment covers and
// returns the comments that cannot be honoured as findings of their own, so
// that a bare ignore never silences anything unseen.
func suppress(pkg *packages.Package, pass *rules.Pass, found []*rules.Finding) ([]*rules.Finding, []Finding) {
	kept, invalid := ignore.Filter(pkg.Fset, pass.Files, found)
	return kept, invalidFindings(pkg.Fset, pkg.PkgPath, invalid)
}

// invalidFindings reports directives that cannot be honoured.
func invalidFindings(fset *token.FileSet, pkgPath string, ds []*ignore.Directive) []Finding {
	var out []Finding
	for _, d := range ds {
		out = append(out, Finding{
			Rule:    ignore.InvalidIgnore.Name,
			Pos:     fset.Position(d.Pos),
			End:     fset.Position(d.End),
			Message: d.Problem,
			Unfixed: "only a person can give the reason",
			Package: pkgPath,
		})
	}
	return out
}
