// Command leakfix finds background work in Go code that nothing can stop,
// and rewrites it so that its owner can shut it down.
package main

import (
	"os"
	"runtime/debug"

	"github.com/leakfix/leakfix/internal/cli"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// Most of what a run allocates is syntax trees that die as soon as
		// a file is scanned, while the live heap stays small: collecting
		// less often saves a quarter of the CPU time on std for a few tens
		// of megabytes more at the peak.
		debug.SetGCPercent(400)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
