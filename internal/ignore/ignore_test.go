package ignore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/rules"
)

const src = `package p

func f() {
	//leakfix:ignore unstoppable-loop the process exits to stop it
	go a() // line 5: suppressed by the line above

	go b() //leakfix:ignore runs for the life of the process

	//leakfix:ignore
	go c() // line 10: the directive has no reason

	//leakfix:ignore unstopable-loop typo in the rule
	go d() // line 13: unknown rule

	//leakfix:ignore other-rule,unstoppable-loop both
	go e() // line 16: unknown rule in a list

	x := 1 //leakfix:ignore trailing, covers its own line only
	go g() // line 19: not suppressed
	_ = x

	//leakfix:ignored is not a directive
	go h() // line 23

	//leakfix:ignore Unstoppable loops here are fine: see doc.go
	go i() // line 26: a reason whose first word is not a rule

	//leakfix:ignore long-lived singleton, stopped by exiting
	go j() // line 29: a hyphenated first word of the reason is no rule

	// leakfix:ignore unstoppable-loop with a space
	go k() // line 32: an ordinary comment, reported

	//leakfix:ignore unstoppable-loop nothing below it
	x = 2 // line 35: no finding here

	//leakfix:ignore global-hook a rule that did not run
	go l() // line 38: not suppressed, not reported as matching nothing

	//leakfix:ignore nothing below it either
	x = 3 // line 41
}
`

func TestFilter(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	// A finding on every go statement.
	var found []*rules.Finding
	ast.Inspect(file, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			found = append(found, &rules.Finding{Rule: "unstoppable-loop", Pos: g.Pos()})
		}
		return true
	})
	// Only unstoppable-loop ran: a directive naming another rule, or none,
	// cannot be known to match nothing.
	kept, invalid := Filter(fset, []*ast.File{file}, found, []*rules.Rule{rules.UnstoppableLoop})
	var keptLines []int
	for _, f := range kept {
		keptLines = append(keptLines, fset.Position(f.Pos).Line)
	}
	if want := []int{10, 13, 16, 19, 23, 32, 38}; !reflect.DeepEqual(keptLines, want) {
		t.Errorf("kept findings on lines %v, want %v", keptLines, want)
	}
	var problems []string
	for _, d := range invalid {
		problems = append(problems, fset.Position(d.Pos).String()+": "+d.Problem)
	}
	want := []string{
		"p.go:9:2: //leakfix:ignore needs a reason saying why the work may run forever; it suppresses nothing",
		"p.go:12:2: //leakfix:ignore names unknown rule unstopable-loop (see leakfix rules); it suppresses nothing",
		"p.go:15:2: //leakfix:ignore names unknown rule other-rule (see leakfix rules); it suppresses nothing",
		"p.go:31:2: write //leakfix:ignore without a space after //: as written it is an ordinary comment and suppresses nothing",
		"p.go:34:2: //leakfix:ignore matches no unstoppable-loop finding on its line or the next; remove it",
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("invalid directives:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}

	// With every rule run, the directive naming none is known to match
	// nothing too.
	file, err = parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	_, invalid = Filter(fset, []*ast.File{file}, nil, rules.All)
	var unused []int
	for _, d := range invalid {
		if strings.Contains(d.Problem, "matches no") {
			unused = append(unused, fset.Position(d.Pos).Line)
		}
	}
	if want := []int{4, 7, 18, 25, 28, 34, 37, 40}; !reflect.DeepEqual(unused, want) {
		t.Errorf("with no findings and every rule run, directives on lines %v match nothing, want %v", unused, want)
	}
}
