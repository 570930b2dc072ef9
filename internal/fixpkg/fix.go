package fixpkg

import (
	"fmt"
	"go/ast"
	"go/token"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// fix rewrites the fixable findings of p and keeps only fixes whose
// package still type-checks and vets (when p can be checked: p.Importer).
// It returns the new content of the files the rewrite produced; for every
// finding, "" if it was fixed or the reason it was not; and for every fixed
// finding, what the rewrite did.
func fix(p *Package, fixable []*rules.Finding) (map[string][]byte, map[*rules.Finding]string, map[*rules.Finding]rewrite.Done) {
	why := map[*rules.Finding]string{}
	rp := p.rewrite()
	var done map[rules.Fix]rewrite.Done

	// try rewrites the given findings and verifies the result.
	try := func(fs []*rules.Finding) (map[string][]byte, map[*rules.Finding]string, error) {
		var fixes []rules.Fix
		// The rewriter names what failed by its plan; byFix leads back to
		// the finding.
		byFix := map[rules.Fix]*rules.Finding{}
		for _, f := range fs {
			fixes = append(fixes, f.Fix)
			byFix[f.Fix] = f
		}
		res, err := apply(rp, fixes)
		if err != nil {
			return nil, nil, err
		}
		failed := map[*rules.Finding]string{}
		for _, fl := range res.Failures {
			failed[byFix[fl.Fix]] = fl.Reason
		}
		// The whole package is checked with the fix, vet included: a
		// fix that compiles but copies a lock or loses a cancel breaks
		// promise 1 as surely as one that does not compile.
		if p.Importer != nil {
			if _, err := Check(p, res.Files, nil, true); err != nil {
				return nil, failed, err
			}
		}
		// Only a try that verified records what it did, so the records
		// read below are those of the files returned.
		done = res.Done
		return res.Files, failed, nil
	}

	// All the fixes at once first: in the common case they verify, and
	// the package is rewritten and checked once.
	files, failed, err := try(fixable)
	if err != nil {
		// Find the fixes that break the build on their own and retry without them.
		var good []*rules.Finding
		// Each unit is tried on the package as it was, not on top of
		// the others: a fix that fails alone is dropped with the
		// checker's own complaint as its reason.
		for _, unit := range units(fixable) {
			if _, _, err := try(unit); err != nil {
				for _, f := range unit {
					why[f] = "the fix was dropped: " + err.Error()
				}
			} else {
				good = append(good, unit...)
			}
		}
		files, failed, err = nil, nil, nil
		if len(good) > 0 {
			files, failed, err = try(good)
		}
		// Units that verify alone may still fail together; then none
		// is kept, rather than guess which of them clash, and each says
		// why.
		if err != nil {
			for _, f := range good {
				why[f] = "the fix was dropped: " + err.Error()
			}
			files = nil
		}
	}
	records := map[*rules.Finding]rewrite.Done{}
	for _, f := range fixable {
		// A finding dropped above keeps its own reason.
		if _, ok := why[f]; ok {
			continue
		}
		// Otherwise the rewriter's reason, if it could not make the
		// plan; and when nothing of the package survived, one that says
		// the failure lies elsewhere rather than pass for fixed.
		why[f] = failed[f]
		if files == nil && why[f] == "" {
			why[f] = "another fix in this package failed"
		}
		// A record only for a fix that was made: wiring and the report
		// read Done as proof that the cleanup exists.
		if d, ok := done[f.Fix]; ok && why[f] == "" {
			records[f] = d
		}
	}
	return files, why, records
}

// units splits fixable into the fixes that are made, or dropped, as one:
// each alone, but the starts of one method (rules.Loop.Starts) together,
// since the rewrite makes none of them without the others.
func units(fixable []*rules.Finding) [][]*rules.Finding {
	var out [][]*rules.Finding
	byMethod := map[ast.Stmt]int{} // the first start of a method: its unit's index in out
	for _, f := range fixable {
		// Every fix of one unit lists the same Starts, so the first
		// start names the unit.
		if l, ok := f.Fix.(*rules.Loop); ok && len(l.Starts) > 1 {
			if i, ok := byMethod[l.Starts[0]]; ok {
				out[i] = append(out[i], f)
				continue
			}
			byMethod[l.Starts[0]] = len(out)
		}
		out = append(out, []*rules.Finding{f})
	}
	return out
}

// apply runs the rewrite, turning a panic into an error: one package the
// rewriter cannot handle must not end a run over a whole repository.
func apply(rp *rewrite.Package, fixes []rules.Fix) (res *rewrite.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: leakfix's rewriter failed (please report this bug): %v", rp.Path, p)
		}
	}()
	return rewrite.Apply(rp, fixes)
}

// find runs a rule, turning a panic into an error so that the run goes on
// with the other packages.
func find(rule *rules.Rule, pass *rules.Pass) (found []*rules.Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			// What the rule found before it panicked is dropped: part of
			// an analysis may leave out what would have made a finding
			// managed.
			found, err = nil, fmt.Errorf("rule %s failed (please report this bug): %v", rule.Name, p)
		}
	}()
	return rule.Find(pass), nil
}

// settle analyses the fixed package again and fixes what the fixes
// themselves made fixable, so that running leakfix again changes nothing.
// A fix declares a context before its go statement; a later goroutine of
// the same function that could not be fixed (it has no owner) now has that
// context in scope, and the rules would fix it on the next run.
//
// reported says which files the rules report on; allowed holds the goKeys
// of the findings the run reported (those a Keep function or an ignore
// comment dropped must stay unfixed). It returns the files with the later
// fixes added, and what was done for the findings those fixed, by goKey.
func settle(p *Package, files map[string][]byte, enabled []*rules.Rule, reported func(name string) bool,
	allowed map[string]bool) (map[string][]byte, map[string]rewrite.Done) {
	later := map[string]rewrite.Done{}
	// Bounded, so that fixes that keep making others fixable cannot
	// loop: the second round covers a context brought into scope by a
	// fix made in the first.
	for round := 0; round < 2 && len(files) > 0; round++ {
		np, err := rebuild(p, files)
		// fix verified these files, so this is defensive: settle stops
		// with what it has done.
		if err != nil {
			break
		}
		// Ignore comments and Keep are not applied again: allowed stands
		// for them. Nor is Together: the rewriter refuses a start whose
		// siblings are not fixed with it.
		pass := &rules.Pass{Fset: np.Fset, Pkg: np.Types, Info: np.Info, AllFiles: np.Syntax, GoVersion: np.GoVersion}
		for _, f := range np.Syntax {
			if reported(np.Fset.File(f.Pos()).Name()) {
				pass.Files = append(pass.Files, f)
			}
		}
		var fixable []*rules.Finding
		for _, rule := range enabled {
			// A rule that fails on the fixed code fails quietly here:
			// settle only adds to a fix, and what the rule found on the
			// code as it is Run has reported.
			fs, _ := find(rule, pass)
			for _, f := range fs {
				if f.Fix != nil && allowed[goKey(np, f.Pos)] {
					fixable = append(fixable, f)
				}
			}
		}
		if len(fixable) == 0 {
			break
		}
		// fix on np verifies against np, which is p with the earlier
		// fixes: the later fixes are checked on top of them.
		more, why, done := fix(np, fixable)
		// Every later fix failed; another round would find the same.
		if len(more) == 0 {
			break
		}
		// By goKey: these findings are np's, not the run's, and fixAll
		// leads them back to the run's own.
		for _, f := range fixable {
			if why[f] == "" {
				later[goKey(np, f.Pos)] = done[f]
			}
		}
		// more holds np's changed files in full, which replace what the
		// earlier round wrote.
		for name, content := range more {
			files[name] = content
		}
	}
	return files, later
}

// goKey names the go statement at pos in a way a fix does not change: its
// file, the function declaring it with that function's rank among the
// file's declarations of the same name, and its rank among that function's
// go statements. A fix adds no go statement and removes none.
func goKey(p *Package, pos token.Pos) string {
	// Only a go statement inside a function declaration has a key: one
	// started by a wrapper call (errgroup's Go) or from a package-level
	// declaration gets "", which allowed never holds, so settle leaves
	// it.
	for _, f := range p.Syntax {
		if pos < f.FileStart || pos >= f.FileEnd {
			continue
		}
		// rules.FuncName names every init of a file alike (and every
		// func _): by name alone, the go statements of two inits would
		// share a key, and an ignore comment on the second's would not
		// keep settle from fixing it with the first's. The rank among
		// the declarations of one name tells them apart, and a fix
		// keeps it: the rewriter adds no init, and a function it adds
		// under an existing name (a context variant's wrapper) takes
		// the name from the function it renames.
		same := map[string]int{}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			name := rules.FuncName(fd)
			nth := same[name]
			same[name]++
			if pos < fd.Pos() || pos >= fd.End() {
				continue
			}
			rank, key := 0, ""
			ast.Inspect(fd, func(n ast.Node) bool {
				if g, ok := n.(*ast.GoStmt); ok {
					if g.Pos() == pos {
						key = fmt.Sprintf("%s %s#%d %d", p.Fset.File(pos).Name(), name, nth, rank)
					}
					rank++
				}
				return key == ""
			})
			return key
		}
	}
	return ""
}
