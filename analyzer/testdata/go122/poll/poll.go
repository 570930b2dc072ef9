// Package poll is in a module whose go line is 1.22, where a ticker that
// is never stopped is never collected: the analyzer must know the module's
// Go version to report it.
package poll

import "time"

// Poll calls f every interval until it returns true.
func Poll(interval time.Duration, f func() bool) {
	t := time.NewTicker(interval) // want `ticker t made in Poll is never stopped; before Go 1\.23 it is never garbage-collected \(go\.mod says go 1\.22\)`
	for range t.C {
		if f() {
			return
		}
	}
}
