// Package unfixable installs a process-wide hook in a constructor: it is
// reported with the reason there is no fix, and no fix is offered.
package unfixable

import (
	"io"
	"log"
)

// Tracker records errors.
type Tracker struct{ w io.Writer }

// New returns a tracker that writes to w.
func New(w io.Writer) *Tracker {
	log.SetOutput(w) // want `New changes process-wide state with log.SetOutput every time it runs \(not fixed: .+\)`
	return &Tracker{w: w}
}
