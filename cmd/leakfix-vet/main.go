// Command leakfix-vet runs leakfix's analyzer under go vet:
//
//	go install github.com/leakfix/leakfix/cmd/leakfix-vet
//	go vet -vettool=$(which leakfix-vet) ./...        # report
//	go vet -vettool=$(which leakfix-vet) -diff ./...  # print the fixes as a diff
//	go vet -vettool=$(which leakfix-vet) -fix ./...   # apply them
package main

import (
	"golang.org/x/tools/go/analysis/unitchecker"

	"github.com/leakfix/leakfix/analyzer"
)

func main() { unitchecker.Main(analyzer.Analyzer) }
