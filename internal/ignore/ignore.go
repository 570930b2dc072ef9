// Package ignore reads //leakfix:ignore comments, which suppress a finding
// on their own line or the line below:
//
//	//leakfix:ignore unstoppable-loop the process exits when this ends
//	go func() { for range time.Tick(time.Minute) { flush() } }()
//
// The rule names are optional (without them every rule is suppressed); the
// reason is not. A comment without a reason, naming a rule that does not
// exist, or written "// leakfix:ignore" (which is an ordinary comment to the
// go command's conventions), suppresses nothing and is itself reported, as
// InvalidIgnore; so is a valid comment that suppressed no finding of the
// rules that ran, as staticcheck reports a linter directive that matched
// nothing.
package ignore

import (
	"go/ast"
	"go/token"
	"slices"
	"strings"

	"github.com/leakfix/leakfix/rules"
)

// InvalidIgnore is what leakfix reports for a //leakfix:ignore comment it
// cannot honour. It is not in rules.All: it has no Find of its own and is
// always on.
var InvalidIgnore = &rules.Rule{
	Name: "invalid-ignore",
	Doc: rules.Doc{
		Title: "A //leakfix:ignore comment that cannot be honoured, or that matches no finding",
		Text: `//leakfix:ignore suppresses findings on its own line or the line below. It must
say why the work may run forever, so that a reader can judge it later: a comment
without a reason suppresses nothing, and neither does one naming a rule that
does not exist (a typo would otherwise silence nothing, silently) or one written
with a space after the slashes ("// leakfix:ignore"). A valid comment that
suppresses no finding of the rules that ran is reported too: the work it
excused has changed or moved, and the comment would silence whatever comes
there next. With --platforms, a comment is reported as matching nothing only
when it matched nothing on every platform.

leakfix does not change these comments; the example shows what to write instead.`,
		Before: `// leakfix:ignore
go s.flushLoop()`,
		After: `//leakfix:ignore unstoppable-loop runs for the life of the process; main exits to stop it
go s.flushLoop()`,
		NoFix: true,
	},
}

const directive = "leakfix:ignore"

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
	// Problem says why the directive cannot be honoured, or that it
	// matched nothing (Unused); empty when valid.
	Problem string
}

// ran reports whether every rule d names ran, or every default rule when
// it names none: only then can leakfix tell that d matches nothing.
func (d *Directive) ran(enabled []*rules.Rule) bool {
	if len(d.Rules) == 0 {
		// Every default rule: an opt-in rule's findings are not expected
		// unless the project names it, and then it runs.
		return !slices.ContainsFunc(rules.Default(), func(r *rules.Rule) bool { return !slices.Contains(enabled, r) })
	}
	for _, name := range d.Rules {
		if !slices.ContainsFunc(enabled, func(r *rules.Rule) bool { return r.Name == name }) {
			return false
		}
	}
	return true
}

// UnusedPrefix starts the Problem of a directive that matches nothing.
const UnusedPrefix = "//leakfix:ignore matches "

// Unused gives each valid directive of ds whose rules all ran, and that
// used does not hold, the Problem that it matches nothing, and returns
// them.
func Unused(ds []*Directive, used map[*Directive]bool, enabled []*rules.Rule) []*Directive {
	var out []*Directive
	for _, d := range ds {
		if d.Problem != "" || used[d] || !d.ran(enabled) {
			continue
		}
		what := "no finding"
		if len(d.Rules) > 0 {
			what = "no " + strings.Join(d.Rules, " or ") + " finding"
		}
		d.Problem = UnusedPrefix + what + " on its line or the next; remove it"
		out = append(out, d)
	}
	return out
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
			body, ok := strings.CutPrefix(c.Text, "//")
			if !ok {
				continue
			}
			trimmed := strings.TrimLeft(body, " \t")
			rest, ok := strings.CutPrefix(trimmed, directive)
			if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				continue // e.g. //leakfix:ignored is not ours
			}
			d := &Directive{Pos: c.Pos(), End: c.End(), Line: fset.Position(c.Pos()).Line}
			if len(trimmed) < len(body) {
				d.Problem = "write //leakfix:ignore without a space after //: as written it is an ordinary comment and suppresses nothing"
			}
			fields := strings.Fields(rest)
			if len(fields) > 0 && looksLikeRules(fields[0]) {
				for _, name := range strings.Split(fields[0], ",") {
					if rules.ByName(name) == nil && d.Problem == "" {
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
// (lowercase words joined by dashes) and one of its names is a known rule
// or a near miss of one, in which case a misspelt rule is reported rather
// than taken for the first word of the reason. A reason may start with a
// hyphenated word ("long-lived"): it is no near miss of a rule.
func looksLikeRules(word string) bool {
	names := strings.Split(word, ",")
	known, near := true, false
	for _, name := range names {
		known = known && rules.ByName(name) != nil
		for _, r := range rules.All {
			near = near || distance(name, r.Name) <= 2
		}
	}
	if known {
		return true
	}
	if !near || !strings.Contains(word, "-") {
		return false
	}
	for _, r := range word {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == ',') {
			return false
		}
	}
	return true
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Filter drops the findings that a valid directive in files suppresses,
// and returns the rest with the directives of files to report: those that
// cannot be honoured, and those that matched nothing although the rules
// they name were among enabled (see Unused). found must hold every finding
// of the enabled rules in files, before any other filter.
func Filter(fset *token.FileSet, files []*ast.File, found []*rules.Finding, enabled []*rules.Rule) ([]*rules.Finding, []*Directive) {
	byLine := map[string]map[int][]*Directive{}
	var all, invalid []*Directive
	for _, f := range files {
		ds := Parse(fset, f)
		if len(ds) == 0 {
			continue
		}
		name := fset.File(f.Pos()).Name()
		if byLine[name] == nil {
			byLine[name] = map[int][]*Directive{}
		}
		all = append(all, ds...)
		for _, d := range ds {
			byLine[name][d.Line] = append(byLine[name][d.Line], d)
			if d.Problem != "" {
				invalid = append(invalid, d)
			}
		}
	}
	var kept []*rules.Finding
	used := map[*Directive]bool{}
	for _, f := range found {
		p := fset.Position(f.Pos)
		suppressed := false
		for _, d := range byLine[p.Filename][p.Line] {
			if d.Covers(f.Rule) {
				suppressed, used[d] = true, true
			}
		}
		for _, d := range byLine[p.Filename][p.Line-1] {
			if !d.Trailing && d.Covers(f.Rule) {
				suppressed, used[d] = true, true
			}
		}
		if !suppressed {
			kept = append(kept, f)
		}
	}
	invalid = append(invalid, Unused(all, used, enabled)...)
	slices.SortFunc(invalid, func(a, b *Directive) int { return int(a.Pos - b.Pos) })
	return kept, invalid
}
