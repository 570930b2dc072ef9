package fixpkg

import (
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
