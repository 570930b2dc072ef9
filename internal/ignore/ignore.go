// Package ignore reads //leakfix:ignore comments, which suppress a finding
// on their own line or the line below:
//
//	//leakfix:ignore unstoppable-loop the process exits when this ends
//	go func() { for range time.Tick(time.Minute) { flush() } }()
//
// The rule names are optional (without them every rule is suppressed); the
// reason is not. A comment without a reason, or naming a rule that does not
// exist, suppresses nothing and is itself reported, as InvalidIgnore.
package ignore

import (
	"go/ast"
	"go/token"
	"strings"

	"github.com/leakfix/leakfix/rules"
)

// InvalidIgnore is what leakfix reports for a //leakfix:ignore comment it
// cannot honour. It is not in rules.All: it has no Find of its own and is
// always on.
var InvalidIgnore = &rules.Rule{
	Name: "invalid-ignore",
	Doc: rules.Doc{
		Title: "A //leakfix:ignore comment without a reason, or naming an unknown rule",
		Text: `//leakfix:ignore suppresses findings on its own line or the line below. It must
say why the work may run forever, so that a reader can judge it later: a comment
without a reason suppresses nothing, and neither does one naming a rule that
does not exist (a typo would otherwise silence nothing, silently).`,
		Before: `//leakfix:ignore
go s.flushLoop()`,
		After: `//leakfix:ignore unstoppable-loop runs for the life of the process; main exits to stop it
go s.flushLoop()`,
	},
}

const prefix = "//leakfix:ignore"

// A Directive is one //leakfix:ignore comment.
type Directive struct {
	Pos  token.Pos
	End  token.Pos
	Line int
	// Trailing is set when code precedes the comment on its line; the
	// directive then covers its own line only.
	Trailing bool
	Rules    []string // empty: every rule
	Reason   string
	// Problem says why the directive cannot be honoured; empty when valid.
	Problem string
}

// Covers reports whether d, if valid, suppresses rule.
func (d *Directive) Covers(rule string) bool {
	if d.Problem != "" {
		return false
	}
	if len(d.Rules) == 0 {
		return true
	}
	for _, r := range d.Rules {
		if r == rule {
			return true
		}
	}
	return false
}

// Parse returns the directives in file.
func Parse(fset *token.FileSet, file *ast.File) []*Directive {
	var out []*Directive
	for _, group := range file.Comments {
		for _, c := range group.List {
			rest, ok := strings.CutPrefix(c.Text, prefix)
			if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				continue // e.g. //leakfix:ignored is not ours
			}
			d := &Directive{Pos: c.Pos(), End: c.End(), Line: fset.Position(c.Pos()).Line}
			fields := strings.Fields(rest)
			if len(fields) > 0 && looksLikeRules(fields[0]) {
				for _, name := range strings.Split(fields[0], ",") {
					if rules.ByName(name) == nil {
						d.Problem = "//leakfix:ignore names unknown rule " + name + " (see leakfix rules); it suppresses nothing"
					}
					d.Rules = append(d.Rules, name)
				}
				fields = fields[1:]
			}
			d.Reason = strings.Join(fields, " ")
			if d.Reason == "" && d.Problem == "" {
				d.Problem = "//leakfix:ignore needs a reason saying why the work may run forever; it suppresses nothing"
			}
			out = append(out, d)
		}
	}
	if len(out) > 0 {
		markTrailing(fset, file, out)
	}
	return out
}

// markTrailing sets Trailing on the directives that follow code on their
// line: some node ends on that line, before the comment.
func markTrailing(fset *token.FileSet, file *ast.File, ds []*Directive) {
	ends := map[int]token.Pos{} // line → the latest end of a node on it
	ast.Inspect(file, func(n ast.Node) bool {
		if n == nil {
			return false
		}
		if _, ok := n.(*ast.CommentGroup); ok {
			return false
		}
		if _, ok := n.(*ast.File); !ok {
			line := fset.Position(n.End()).Line
			if n.End() > ends[line] {
				ends[line] = n.End()
			}
		}
		return true
	})
	for _, d := range ds {
		if end, ok := ends[d.Line]; ok && end <= d.Pos {
			d.Trailing = true
		}
	}
}

// looksLikeRules reports whether word is a comma-separated list of rule
// names: either each is a known rule, or the word has the shape of one
// (lowercase words joined by dashes), in which case a misspelt rule is
// reported rather than taken for the first word of the reason.
func looksLikeRules(word string) bool {
	known := true
	for _, name := range strings.Split(word, ",") {
		known = known && rules.ByName(name) != nil
	}
	if known {
		return true
	}
	if !strings.Contains(word, "-") {
		return false
	}
	for _, r := range word {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == ',') {
			return false
		}
	}
	return true
}

// Filter drops the findings that a valid directive in files suppresses,
// and returns the rest with the invalid directives of files.
func Filter(fset *token.FileSet, files []*ast.File, found []*rules.Finding) ([]*rules.Finding, []*Directive) {
	byLine := map[string]map[int][]*Directive{}
	var invalid []*Directive
	for _, f := range files {
		ds := Parse(fset, f)
		if len(ds) == 0 {
			continue
		}
		name := fset.File(f.Pos()).Name()
		if byLine[name] == nil {
			byLine[name] = map[int][]*Directive{}
		}
		for _, d := range ds {
			byLine[name][d.Line] = append(byLine[name][d.Line], d)
			if d.Problem != "" {
				invalid = append(invalid, d)
			}
		}
	}
	var kept []*rules.Finding
	for _, f := range found {
		p := fset.Position(f.Pos)
		suppressed := false
		for _, d := range byLine[p.Filename][p.Line] {
			suppressed = suppressed || d.Covers(f.Rule)
		}
		for _, d := range byLine[p.Filename][p.Line-1] {
			suppressed = suppressed || !d.Trailing && d.Covers(f.Rule)
		}
		if !suppressed {
			kept = append(kept, f)
		}
	}
	return kept, invalid
}
