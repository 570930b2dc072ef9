// Command leakfix finds background work in Go code that nothing can stop,
// and rewrites it so that its owner can shut it down.
package main

import (
	"os"

	"github.com/leakfix/leakfix/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
