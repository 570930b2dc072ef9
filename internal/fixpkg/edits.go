package fixpkg

import (
	"go/token"
	"sort"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// An Edit replaces whole lines of a file: the bytes from Start up to End
// become New. Start is at column 1 of a line; End is at column 1 of the line
// after the last one replaced, or at the end of the file. Start == End
// inserts New before Start's line.
type Edit struct {
	Path       string // absolute
	Start, End token.Position
	New        string
}

// A Change is the old and new content of one file a fix rewrites.
type Change struct {
	Path     string // absolute
	Old, New []byte
}

// SplitFix divides the combined change of one package among the findings
// it fixes, so that each finding carries the edits that belong to it and
// review tools can show each edit on the line it changes.
//
// Every line-level edit of changes goes to exactly one finding, so applying
// the edits of all findings gives exactly the combined change (what fix
// writes). To learn which edit belongs to which finding, each finding is
// rewritten alone and its own edits are matched against the combined ones;
// an edit that matches none (a line the fixes share) goes to the nearest
// finding before it in the same file, or to the first one.
//
// changes must hold the old and new content of every file the combined
// rewrite of fixed changed; fixed must be in source order.
//
// Edits are whole lines, as udiff.Lines computes them: a finer diff would
// align fragments of unrelated lines (see OldOffset), and a review tool
// shows a whole-line edit on the lines it changes.
func SplitFix(rp *rewrite.Package, fixed []*rules.Finding, changes []Change) map[*rules.Finding][]Edit {
	return splitFix(rp, fixed, changes, nil)
}

// splitFix is SplitFix where the change also calls the new cleanups where
// the values' lives end: an edit that inserts a wiring goes to the finding
// whose cleanup it calls (claims), unless a fix's own edit overlaps it.
func splitFix(rp *rewrite.Package, fixed []*rules.Finding, changes []Change, claims []claim) map[*rules.Finding][]Edit {
	// Nothing to divide, and nearest would have no finding to fall back
	// on.
	if len(fixed) == 0 || len(changes) == 0 {
		return nil
	}
	// Each finding's own edits are taken against the same old content as
	// the combined ones, so that both kinds of edit have the same offsets
	// and can be compared directly.
	old := map[string]string{}
	for _, c := range changes {
		old[c.Path] = string(c.Old)
	}
	// alone[i] holds the edits of fixed[i] rewritten on its own.
	alone := make([]map[string][]udiff.Edit, len(fixed))
	for i, f := range fixed {
		alone[i] = map[string][]udiff.Edit{}
		if f.Fix == nil {
			continue // fixed through another fix: its edits go by position
		}
		// The starts of one method are rewritten only together (the
		// rewriter refuses one alone), so a finding among them is
		// rewritten with the others and given its share of their edits.
		unit := sharing(fixed, f)
		fixes := []rules.Fix{f.Fix}
		if len(unit) > 1 {
			fixes = nil
			for _, g := range unit {
				fixes = append(fixes, g.Fix)
			}
		}
		// Through apply, as every rewrite of the run: a plan the rewriter
		// panics on fails alone, and its edits go by position.
		res, err := apply(rp, fixes)
		if err != nil {
			continue // the edit then goes by position
		}
		// Only the files of the combined change: a file the combined
		// rewrite left alone has no edit to give away.
		for path, content := range res.Files {
			if before, ok := old[path]; ok {
				alone[i][path] = share(rp.Fset, unit, f, path, udiff.Lines(before, string(content)))
			}
		}
	}

	out := map[*rules.Finding][]Edit{}
	for _, c := range changes {
		src := string(c.Old)
		lines := lineStarts(src)
		for _, e := range udiff.Lines(src, string(c.New)) {
			// owner is the index in fixed of the finding the edit goes to;
			// every edit gets one, so that the edits of all findings
			// together make up the combined change.
			owner := -1
			// A real overlap beats a wiring's claim, which beats an edit
			// that only touches another.
			for i := range fixed {
				if owner < 0 && overlapsAny(e, alone[i][c.Path], true) {
					owner = i
				}
			}
			// A wiring inserts code that no finding's own rewrite makes, so
			// a claim is the only way to find whose cleanup it calls.
			if owner < 0 {
				owner = claimed(fixed, claims, c.Path, e.Start, e.End)
			}
			// Touching ends count now: an edit right next to one of a
			// finding's own (the combined diff may cut the same change
			// at other lines) most likely belongs to it.
			for i := range fixed {
				if owner < 0 && overlapsAny(e, alone[i][c.Path], false) {
					owner = i
				}
			}
			// An edit no finding's own rewrite comes near (one settle
			// made, which has no plan of its own, or one of a finding
			// whose rewrite alone failed) goes by position.
			if owner < 0 {
				owner = nearest(rp.Fset, fixed, c.Path, e.Start)
			}
			f := fixed[owner]
			out[f] = append(out[f], Edit{
				Path:  c.Path,
				Start: position(c.Path, lines, e.Start),
				End:   position(c.Path, lines, e.End),
				New:   e.New,
			})
		}
	}
	sortEdits(out)
	return out
}

// sortEdits puts each finding's edits in file order.
//
// Stable and by offset, so that the edits of one finding apply in
// order from the top of each file and the output does not depend on
// the order of the map of changes they came from.
func sortEdits(out map[*rules.Finding][]Edit) {
	for _, edits := range out {
		sort.SliceStable(edits, func(i, j int) bool {
			if edits[i].Path != edits[j].Path {
				return edits[i].Path < edits[j].Path
			}
			return edits[i].Start.Offset < edits[j].Start.Offset
		})
	}
}

// sharing returns the fixed findings whose fixes are made only together
// with f's, f among them: the starts of one method (rules.Loop.Starts).
// It returns f alone for any other fix.
func sharing(fixed []*rules.Finding, f *rules.Finding) []*rules.Finding {
	l, ok := f.Fix.(*rules.Loop)
	if !ok || len(l.Starts) < 2 {
		return []*rules.Finding{f}
	}
	// In the order of fixed, which is source order: the first of the unit
	// is the one that takes what the unit shares (see share).
	var unit []*rules.Finding
	for _, g := range fixed {
		if o, ok := g.Fix.(*rules.Loop); ok && len(o.Starts) > 1 && o.Starts[0] == l.Starts[0] {
			unit = append(unit, g)
		}
	}
	return unit
}

// share returns f's share of the edits that its unit of fixes (see
// sharing) makes together in the file path: those inside f's own starter,
// and for the unit's first finding, those outside every other starter of
// the unit too (the method's change, the fields, the cleanup).
func share(fset *token.FileSet, unit []*rules.Finding, f *rules.Finding, path string, edits []udiff.Edit) []udiff.Edit {
	if len(unit) < 2 {
		return edits
	}
	// in reports whether e lies inside g's starter, the function
	// whose go statement g's fix rewrites.
	in := func(e udiff.Edit, g *rules.Finding) bool {
		fn := g.Fix.Base().Starter
		start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
		return start.Filename == path && start.Offset <= e.Start && e.End <= end.Offset
	}
	var out []udiff.Edit
	for _, e := range edits {
		// An edit inside f's own starter is f's. What lies outside every
		// starter of the unit (the method the goroutines run, the
		// fields, the cleanup) is the unit's common work; it goes to the
		// first finding, so that it is given once.
		mine := in(e, f)
		if !mine && f == unit[0] {
			mine = true
			for _, g := range unit[1:] {
				mine = mine && !in(e, g)
			}
		}
		if mine {
			out = append(out, e)
		}
	}
	return out
}

// overlapsAny reports whether e overlaps one of edits. With strict, ranges
// must share a byte, or an insertion must fall strictly inside the other
// range; otherwise touching ends count too.
func overlapsAny(e udiff.Edit, edits []udiff.Edit, strict bool) bool {
	for _, a := range edits {
		// Strict is for the first pass, where only edits that really
		// change the same text should match: an insertion just before
		// or after another edit's range does not.
		if strict {
			if max(e.Start, a.Start) < min(e.End, a.End) ||
				e.Start == e.End && a.Start < e.Start && e.Start < a.End ||
				a.Start == a.End && e.Start < a.Start && a.Start < e.End ||
				e.Start == e.End && a.Start == a.End && e.Start == a.Start {
				return true
			}
		} else if e.Start <= a.End && a.Start <= e.End {
			return true
		}
	}
	return false
}

// nearest returns the index of the last finding in path at or before
// offset, else of the first finding in path, else 0.
func nearest(fset *token.FileSet, fixed []*rules.Finding, path string, offset int) int {
	best, first := -1, -1
	for i, f := range fixed {
		p := fset.Position(f.Pos)
		if p.Filename != path {
			continue
		}
		if first < 0 {
			first = i
		}
		// fixed is in source order, so the last finding at or before the
		// offset is the one whose code the edit follows.
		if p.Offset <= offset {
			best = i
		}
	}
	switch {
	case best >= 0:
		return best
	case first >= 0:
		return first
	}
	return 0
}

// lineStarts returns the offset at which each line of src starts. A final
// newline starts an empty line, so that the end of the file is column 1 of
// the line after the last, where whole-line edits end.
func lineStarts(src string) []int {
	starts := []int{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// position turns a byte offset of a file into a position.
func position(path string, starts []int, offset int) token.Position {
	// The first line starting after offset is the one after offset's
	// line; its index, counted from 0, is offset's line counted from 1.
	line := sort.Search(len(starts), func(i int) bool { return starts[i] > offset }) // 1-based
	return token.Position{Filename: path, Offset: offset, Line: line, Column: offset - starts[line-1] + 1}
}

// claimed returns the index in fixed of the finding whose wiring inserts
// code within [start, end] of path, or -1.
func claimed(fixed []*rules.Finding, claims []claim, path string, start, end int) int {
	// c.off is in the file as it was (fixAll mapped it back), as e's
	// range is; an insertion at either end of the edit's range is
	// inside it.
	for _, c := range claims {
		if c.path == path && start <= c.off && c.off <= end {
			for i, f := range fixed {
				if f == c.f {
					return i
				}
			}
		}
	}
	return -1
}
