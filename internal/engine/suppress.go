package engine

import (
	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/rules"
)

// suppress drops the findings that a //leakfix:ignore comment covers and
// reports the comments that cannot be honoured, as findings of their own
// (when opts.Keep keeps them), so that a bare ignore never silences
// anything unseen.
func suppress(pkg *packages.Package, pass *rules.Pass, found []*rules.Finding, opts Options, res *Result) []*rules.Finding {
	kept, invalid := ignore.Filter(pkg.Fset, pass.Files, found)
	for _, d := range invalid {
		pos, end := pkg.Fset.Position(d.Pos), pkg.Fset.Position(d.End)
		if opts.Keep != nil && !opts.Keep(ignore.InvalidIgnore.Name, pos, end) {
			continue
		}
		res.Findings = append(res.Findings, Finding{
			Rule:    ignore.InvalidIgnore.Name,
			Pos:     pos,
			End:     end,
			Message: d.Problem,
			Unfixed: "only a person can give the reason",
			Package: pkg.PkgPath,
		})
	}
	return kept
}
