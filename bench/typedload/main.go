// Command typedload is the baseline leakfix's speed is measured against: it
// loads the packages matched by its arguments with full syntax and types, as
// any type-based checker must, and does nothing else.
//
//	typedload [-tags list] [packages]
package main

import (
	"flag"
	"fmt"
	"os"

	"golang.org/x/tools/go/packages"
)

func main() {
	tags := flag.String("tags", "", "comma-separated build tags")
	flag.Parse()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}
	if *tags != "" {
		cfg.BuildFlags = []string{"-tags=" + *tags}
	}
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "typedload: %v\n", err)
		os.Exit(2)
	}
	errs := packages.PrintErrors(pkgs)
	fmt.Printf("%d packages, %d with errors\n", len(pkgs), errs)
}
