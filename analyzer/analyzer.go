// Package analyzer exposes leakfix's rules as a go/analysis Analyzer, so
// that leakfix runs inside the tools teams already use: go vet
// -vettool (cmd/leakfix-vet), gopls, golangci-lint's module plugins and
// Bazel's nogo.
//
// Each finding with a fix carries it as one SuggestedFix of whole-line text
// edits, taken from the same dst rewrite leakfix fix uses and divided among
// the findings the same way (engine.SplitFix), so that applying every fix
// (go vet -fix) writes what leakfix fix writes.
//
// Unlike leakfix fix, the analyzer cannot type-check its own output before
// offering it: a driver gives it one package's syntax and types, not the
// means to load the standard packages a fix may add imports of. The fixes
// are the ones leakfix fix verifies, but a fix the engine would drop for not
// compiling is offered here.
package analyzer

import (
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/report"
	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// Analyzer reports background work that nothing can stop, with fixes.
var Analyzer = &analysis.Analyzer{
	Name: "leakfix",
	Doc: `report goroutines whose timed loops can never be stopped, and fix them

leakfix finds goroutines that loop on tickers, time.Tick, time.After or
time.Sleep with no way to stop them. Its fix moves the stop and done signals
into fields of the type that starts the work and adds a Shutdown method (or
extends the type's Close or Stop) that ends the work and waits for it.`,
	URL: report.HelpURI,
	Run: run,
}

var (
	enabledRules string
	withTests    bool
	compact      bool
)

func init() {
	Analyzer.Flags.StringVar(&enabledRules, "rules", "", "comma-separated rules to run (default all; -rule removes one)")
	Analyzer.Flags.BoolVar(&withTests, "tests", false, "also report in _test.go files")
	Analyzer.Flags.BoolVar(&compact, "compact", false,
		"one diagnostic per finding and per line, for drivers that make an issue of every related location and keep one issue per line (golangci-lint): no related information, and a bad //leakfix:ignore on the line of a finding is reported in that finding's message")
}

func run(pass *analysis.Pass) (any, error) {
	var names []string
	if enabledRules != "" {
		names = strings.Split(enabledRules, ",")
	}
	enabled, err := rules.Choose(names, ignore.InvalidIgnore.Name)
	if err != nil {
		return nil, err
	}
	rp := &rules.Pass{Fset: pass.Fset, Pkg: pass.Pkg, Info: pass.TypesInfo, AllFiles: pass.Files}
	for _, f := range pass.Files {
		name := pass.Fset.File(f.Pos()).Name()
		if ast.IsGenerated(f) || !withTests && strings.HasSuffix(name, "_test.go") {
			continue
		}
		rp.Files = append(rp.Files, f)
	}
	var found []*rules.Finding
	for _, r := range enabled {
		found = append(found, r.Find(rp)...)
	}
	found, invalid := ignore.Filter(pass.Fset, rp.Files, found, enabled)
	// In compact mode, a bad ignore comment on the line of a finding is
	// told in the finding's message: one issue per line would hide one of
	// them otherwise.
	line := func(p token.Pos) string { pos := pass.Fset.Position(p); return fmt.Sprint(pos.Filename, ":", pos.Line) }
	onLine := map[string][]string{}
	if compact {
		for _, f := range found {
			onLine[line(f.Pos)] = nil
		}
	}
	var alone []*ignore.Directive
	for _, d := range invalid {
		if probs, ok := onLine[line(d.Pos)]; ok {
			onLine[line(d.Pos)] = append(probs, d.Problem)
		} else {
			alone = append(alone, d)
		}
	}

	unfixed, edits := fixes(pass, found)
	for _, f := range found {
		end, related := engine.Extent(pass.Files, f)
		d := analysis.Diagnostic{Pos: f.Pos, End: end, Category: f.Rule, Message: f.Message, URL: report.HelpURI}
		if !compact {
			for _, r := range related {
				d.Related = append(d.Related, analysis.RelatedInformation{Pos: r.Pos, Message: r.Message})
			}
		}
		switch why := unfixed[f]; {
		case f.Unfixable != "":
			d.Message += " (not fixed: " + f.Unfixable + ")"
		case why != "":
			d.Message += " (not fixed: " + why + ")"
		case len(edits[f]) > 0:
			d.SuggestedFixes = []analysis.SuggestedFix{{Message: "Make the work stoppable", TextEdits: textEdits(pass, edits[f])}}
		}
		for _, p := range onLine[line(f.Pos)] {
			d.Message += "; " + ignore.InvalidIgnore.Name + ": " + p
		}
		delete(onLine, line(f.Pos)) // told once
		pass.Report(d)
	}
	for _, d := range alone {
		pass.Report(analysis.Diagnostic{Pos: d.Pos, End: d.End, Category: ignore.InvalidIgnore.Name, Message: d.Problem, URL: report.HelpURI})
	}
	return nil, nil
}

// fixes rewrites the fixable findings together and divides the result
// among them. It returns why a finding was not fixed, and each fixed
// finding's edits.
func fixes(pass *analysis.Pass, found []*rules.Finding) (map[*rules.Finding]string, map[*rules.Finding][]engine.Edit) {
	unfixed := map[*rules.Finding]string{}
	var plans []rules.Fix
	byPlan := map[rules.Fix]*rules.Finding{}
	for _, f := range found {
		if f.Fix != nil {
			plans = append(plans, f.Fix)
			byPlan[f.Fix] = f
		}
	}
	if len(plans) == 0 {
		return unfixed, nil
	}
	pkg := &rewrite.Package{Path: pass.Pkg.Path(), Fset: pass.Fset, Files: pass.Files, Info: pass.TypesInfo, Types: pass.Pkg}
	res, err := rewrite.Apply(pkg, plans)
	if err != nil {
		for _, f := range byPlan {
			unfixed[f] = err.Error()
		}
		return unfixed, nil
	}
	files := res.Files
	for _, fl := range res.Failures {
		unfixed[byPlan[fl.Fix]] = fl.Reason
	}
	var changes []engine.Change
	for name, content := range files {
		old, err := pass.ReadFile(name)
		if err != nil {
			for _, f := range byPlan {
				unfixed[f] = "cannot read " + name + ": " + err.Error()
			}
			return unfixed, nil
		}
		if string(old) != string(content) {
			changes = append(changes, engine.Change{Path: name, Old: old, New: content})
		}
	}
	var fixed []*rules.Finding
	for _, f := range found {
		if f.Fix != nil && unfixed[f] == "" {
			fixed = append(fixed, f)
		}
	}
	sort.Slice(fixed, func(i, j int) bool { return fixed[i].Pos < fixed[j].Pos })
	return unfixed, engine.SplitFix(pkg, fixed, changes)
}

// textEdits turns whole-line edits into the driver's positions.
func textEdits(pass *analysis.Pass, edits []engine.Edit) []analysis.TextEdit {
	var out []analysis.TextEdit
	files := map[string]*token.File{}
	for _, f := range pass.Files {
		tf := pass.Fset.File(f.Pos())
		files[tf.Name()] = tf
	}
	for _, e := range edits {
		tf := files[e.Path]
		out = append(out, analysis.TextEdit{Pos: tf.Pos(e.Start.Offset), End: tf.Pos(e.End.Offset), NewText: []byte(e.New)})
	}
	return out
}
