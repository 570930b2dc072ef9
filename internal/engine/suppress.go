package engine

import (
	"go/token"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/rules"
)

// invalidFindings reports directives that cannot be honoured, or match
// nothing.
func invalidFindings(fset *token.FileSet, pkgPath string, ds []*ignore.Directive) []Finding {
	var out []Finding
	for _, d := range ds {
		out = append(out, invalidFinding(fset, pkgPath, d))
	}
	return out
}

// invalidFinding is the finding that reports d over the comment's extent.
// The syntactic pass makes it as it parses the comment, before d.Problem
// says whether the comment matches nothing; skippedIgnores sets Message
// once it does.
func invalidFinding(fset *token.FileSet, pkgPath string, d *ignore.Directive) Finding {
	return Finding{
		Rule:    ignore.InvalidIgnore.Name,
		Pos:     fset.Position(d.Pos),
		End:     fset.Position(d.End),
		Message: d.Problem,
		Unfixed: "only a person can give the reason",
		Package: pkgPath,
	}
}

// skippedIgnores returns the findings about the ignore comments of a
// package no rule could report on: those that cannot be honoured, and the
// valid ones, which match nothing there.
func skippedIgnores(ignores []scannedIgnore, enabled []*rules.Rule) []Finding {
	var ds []*ignore.Directive
	for _, si := range ignores {
		ds = append(ds, si.d)
	}
	// No rule reports anything in the package (the syntactic pass saw to
	// that), so every valid comment naming rules that ran matches nothing.
	ignore.Unused(ds, nil, enabled)
	var out []Finding
	for _, si := range ignores {
		if si.d.Problem != "" {
			f := si.at
			f.Message = si.d.Problem
			out = append(out, f)
		}
	}
	return out
}
