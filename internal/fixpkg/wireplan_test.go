package fixpkg

import (
	"go/ast"
	"go/types"
	"testing"
)

// TestReceiverStaysInCycles asks, in every order, whether methods that
// call each other keep their receiver. B keeps it through A, which stores
// it; C calls only B; D and E call each other and keep nothing. The answer
// must not depend on which method is asked first: a method answered while
// another of its cycle was still being worked out must not keep the
// provisional answer it was given.
func TestReceiverStaysInCycles(t *testing.T) {
	src := `package p

var keep []*C

type C struct{ n int }

func (c *C) A() { c.B(); keep = append(keep, c) }
func (c *C) B() { if c.n > 0 { c.A() } }
func (c *C) C() { c.B() }
func (c *C) D() { if c.n > 0 { c.E() } }
func (c *C) E() { c.n++; c.D() }
`
	want := map[string]bool{"A": false, "B": false, "C": false, "D": true, "E": true}
	for _, order := range [][]string{{"A", "B", "C", "D", "E"}, {"B", "A", "C", "E", "D"}, {"C", "B", "A", "D", "E"}} {
		p := parse(t, map[string]string{"/p/c.go": src})
		w := newWirer(p)
		c := p.Types.Scope().Lookup("C").Type()
		for _, name := range order {
			m, _, _ := types.LookupFieldOrMethod(types.NewPointer(c), true, p.Types, name)
			if got := w.receiverStays(m.(*types.Func)); got != want[name] {
				t.Errorf("asked in the order %v: receiverStays(%s) = %v, want %v", order, name, got, want[name])
			}
		}
	}
}

// TestShutdownPathEnds checks why a main that cannot return, or fails,
// gets no deferred cleanup: a panic runs deferred calls, so its reason
// must not say they would not run.
func TestShutdownPathEnds(t *testing.T) {
	for _, tt := range []struct{ last, want string }{
		{`os.Exit(1)`, "main never returns (it ends in os.Exit), so a call deferred there would not run"},
		{`log.Fatal("x")`, "main never returns (it ends in log.Fatal), so a call deferred there would not run"},
		{`panic("x")`, "main ends in a panic, which fails the process however its work ends, so nothing is deferred there"},
		{`log.Panicf("%d", 1)`, "main ends in log.Panicf, which fails the process however its work ends, so nothing is deferred there"},
		{`select {}`, "main never returns (it ends blocked in select {}), so a call deferred there would not run"},
	} {
		p := parse(t, map[string]string{"/p/main.go": "package main\n\nimport (\n\t\"log\"\n\t\"os\"\n)\n\nvar _, _ = log.Print, os.Exit\n\nfunc main() {\n\t" + tt.last + "\n}\n"})
		w := newWirer(p)
		var main *ast.FuncDecl
		for _, d := range p.Syntax[0].Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "main" {
				main = fd
			}
		}
		if got := w.shutdownPath(main); got != tt.want {
			t.Errorf("main ending in %s: %q, want %q", tt.last, got, tt.want)
		}
	}
}
