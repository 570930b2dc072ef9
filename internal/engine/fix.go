package engine

import (
	"fmt"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// fix rewrites the fixable findings of pkg and keeps only fixes whose
// package still type-checks. It returns the new content of the files the
// rewrite produced and, for every finding, "" if it was fixed or the reason
// it was not.
func fix(pkg *packages.Package, fixable []*rules.Finding, v *verifier) (map[string][]byte, map[*rules.Finding]string) {
	why := map[*rules.Finding]string{}
	rp := &rewrite.Package{Path: pkg.PkgPath, Fset: pkg.Fset, Files: pkg.Syntax, Info: pkg.TypesInfo, Types: pkg.Types}

	// try rewrites the given findings and verifies the result.
	try := func(fs []*rules.Finding) (map[string][]byte, map[*rules.Finding]string, error) {
		var fixes []rules.Fix
		byFix := map[rules.Fix]*rules.Finding{}
		for _, f := range fs {
			fixes = append(fixes, f.Fix)
			byFix[f.Fix] = f
		}
		files, failures, err := apply(rp, fixes)
		if err != nil {
			return nil, nil, err
		}
		failed := map[*rules.Finding]string{}
		for _, fl := range failures {
			failed[byFix[fl.Fix]] = fl.Reason
		}
		if _, err := v.check(pkg, files, nil, nil); err != nil {
			return nil, failed, err
		}
		return files, failed, nil
	}

	files, failed, err := try(fixable)
	if err != nil {
		// Find the fixes that break the build on their own and retry without them.
		var good []*rules.Finding
		for _, f := range fixable {
			if _, _, err := try([]*rules.Finding{f}); err != nil {
				why[f] = "the fix was dropped: " + err.Error()
			} else {
				good = append(good, f)
			}
		}
		files, failed, err = nil, nil, nil
		if len(good) > 0 {
			files, failed, err = try(good)
		}
		if err != nil {
			for _, f := range good {
				why[f] = "the fix was dropped: " + err.Error()
			}
			files = nil
		}
	}
	for _, f := range fixable {
		if _, ok := why[f]; ok {
			continue
		}
		why[f] = failed[f]
		if files == nil && why[f] == "" {
			why[f] = "not fixed: another fix in this package failed"
		}
	}
	return files, why
}

// apply runs the rewrite, turning a panic into an error: one package the
// rewriter cannot handle must not end a run over a whole repository.
func apply(rp *rewrite.Package, fixes []rules.Fix) (files map[string][]byte, failures []rewrite.Failure, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PosError{Pos: rp.Path, Msg: "leakfix's rewriter failed (please report this bug): " + fmtPanic(p)}
		}
	}()
	return rewrite.Apply(rp, fixes)
}

func fmtPanic(p any) string { return fmt.Sprint(p) }
