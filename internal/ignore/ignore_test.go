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
	kept, invalid := Filter(fset, []*ast.File{file}, found)
	var keptLines []int
	for _, f := range kept {
		keptLines = append(keptLines, fset.Position(f.Pos).Line)
	}
	if want := []int{10, 13, 16, 19, 23}; !reflect.DeepEqual(keptLines, want) {
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
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("invalid directives:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}
