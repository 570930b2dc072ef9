package engine

import (
	"go/ast"
	"go/token"
	"sort"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// Related is another place that explains a finding.
type Related struct {
	Pos     token.Position
	Message string
}

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
	end := f.Pos
	for _, file := range files {
		if file.FileStart <= f.Pos && f.Pos < file.FileEnd {
			// The outermost statement that starts at Pos: the go statement,
			// or the call that starts the work.
			ast.Inspect(file, func(n ast.Node) bool {
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

// extent is Extent with positions resolved.
func extent(pkg *packages.Package, f *rules.Finding) (token.Position, []Related) {
	end, places := Extent(pkg.Syntax, f)
	var related []Related
	for _, p := range places {
		related = append(related, Related{Pos: pkg.Fset.Position(p.Pos), Message: p.Message})
	}
	return pkg.Fset.Position(end), related
}

// keep asks k whether to keep f.
func keep(pkg *packages.Package, f *rules.Finding, k func(string, token.Position, token.Position) bool) bool {
	end, _ := extent(pkg, f)
	return k(f.Rule, pkg.Fset.Position(f.Pos), end)
}

// splitPackage divides a package's verified change among the findings it
// fixed (see SplitFix).
func splitPackage(pkg *packages.Package, found []*rules.Finding, why map[*rules.Finding]string, later map[*rules.Finding]bool, changes []Change) map[*rules.Finding][]Edit {
	var fixed []*rules.Finding
	for _, f := range found {
		// A finding fixed once the others were (later) has no plan of its
		// own: its edits go to it by position.
		if r, ok := why[f]; (f.Fix != nil && ok && r == "") || later[f] {
			fixed = append(fixed, f)
		}
	}
	sort.Slice(fixed, func(i, j int) bool { return fixed[i].Pos < fixed[j].Pos })
	rp := &rewrite.Package{Path: pkg.PkgPath, Fset: pkg.Fset, Files: pkg.Syntax, Info: pkg.TypesInfo, Types: pkg.Types}
	return SplitFix(rp, fixed, changes)
}
