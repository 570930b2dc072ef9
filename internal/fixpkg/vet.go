package fixpkg

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/copylock"
	"golang.org/x/tools/go/analysis/passes/lostcancel"
)

// vetChecks are the go vet analyzers a fix could upset: the mutexes it
// adds (copylocks) and the cancel functions it stores (lostcancel).
var vetChecks = []*analysis.Analyzer{copylock.Analyzer, lostcancel.Analyzer}

// vet runs vetChecks on one type-checked package and returns their
// diagnostics as "check: message" strings, keyed by nothing but their text
// so that a fix's output can be compared with its input.
func vet(fset *token.FileSet, files []*ast.File, pkg *types.Package, info *types.Info) ([]string, error) {
	var out []string
	results := map[*analysis.Analyzer]any{}
	var run func(a *analysis.Analyzer) error
	// run runs a and, first, what it requires (inspect, ctrlflow), once
	// each, as a driver would: lostcancel reads ctrlflow's result.
	run = func(a *analysis.Analyzer) error {
		if _, ok := results[a]; ok {
			return nil
		}
		for _, req := range a.Requires {
			if err := run(req); err != nil {
				return err
			}
		}
		pass := &analysis.Pass{
			Analyzer:   a,
			Fset:       fset,
			Files:      files,
			Pkg:        pkg,
			TypesInfo:  info,
			TypesSizes: types.SizesFor("gc", "amd64"),
			ResultOf:   results,
			Report: func(d analysis.Diagnostic) {
				out = append(out, a.Name+": "+d.Message)
			},
			// Facts from other packages are not available here; the checks
			// then assume the least (a called function may return).
			// Nor do they read sizes, so any TypesSizes will do, or files,
			// which for a fix exist only in memory (ReadFile).
			ImportObjectFact:  func(types.Object, analysis.Fact) bool { return false },
			ExportObjectFact:  func(types.Object, analysis.Fact) {},
			ImportPackageFact: func(*types.Package, analysis.Fact) bool { return false },
			ExportPackageFact: func(analysis.Fact) {},
			AllObjectFacts:    func() []analysis.ObjectFact { return nil },
			AllPackageFacts:   func() []analysis.PackageFact { return nil },
			ReadFile:          func(string) ([]byte, error) { return nil, fmt.Errorf("not available") },
		}
		res, err := a.Run(pass)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		// As go/analysis' checker does: an analyzer whose result is not
		// of its declared type would make the one requiring it panic.
		if a.ResultType != nil && res != nil && !reflect.TypeOf(res).AssignableTo(a.ResultType) {
			return fmt.Errorf("%s: unexpected result type %T", a.Name, res)
		}
		results[a] = res
		return nil
	}
	for _, a := range vetChecks {
		if err := run(a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newVetFindings returns the diagnostics in after that before did not have
// (as many times as they occur).
func newVetFindings(before, after []string) []string {
	// The messages carry no position, which a fix moves anyway: the same
	// complaint before and after is matched by its text, and counting
	// keeps a second copy of an old complaint from hiding behind it.
	seen := map[string]int{}
	for _, d := range before {
		seen[d]++
	}
	var out []string
	for _, d := range after {
		if seen[d] > 0 {
			seen[d]--
			continue
		}
		out = append(out, d)
	}
	return out
}
