// Package analyzer exposes leakfix's rules as a go/analysis Analyzer, so
// that leakfix runs inside the tools teams already use: go vet
// -vettool (cmd/leakfix-vet), gopls, golangci-lint's module plugins and
// Bazel's nogo.
//
// Each finding with a fix carries it as one SuggestedFix of whole-line text
// edits, taken from the same dst rewrite leakfix fix uses and divided among
// the findings the same way (fixpkg.SplitFix), so that applying every fix
// (go vet -fix) writes what leakfix fix writes.
//
// Unlike leakfix fix, the analyzer cannot type-check its own output before
// offering it: a driver gives it one package's syntax and types, not the
// means to load the standard packages a fix may add imports of. The fixes
// are the ones leakfix fix verifies, but a fix the engine would drop for not
// compiling is offered here.
package analyzer

import (
	"errors"
	"fmt"
	"go/token"
	goversion "go/version"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/version"
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
	URL: version.HelpURI,
	Run: run,
}

var (
	enabledRules string
	withTests    bool
	compact      bool
)

func init() {
	Analyzer.Flags.StringVar(&enabledRules, "rules", "", "comma-separated rules to run (default: all but the opt-in global-hook; all selects every rule; -rule removes one)")
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
	// The driver hands over one package's syntax and types, not the means
	// to load what a fix may import: the package has no Importer, so the
	// fixes are offered unverified (see the package comment).
	p := &fixpkg.Package{Path: pass.Pkg.Path(), Fset: pass.Fset, Syntax: pass.Files, Types: pass.Pkg, Info: pass.TypesInfo,
		GoVersion: goVersion(pass)}
	res := fixpkg.Run(p, fixpkg.Options{Rules: enabled, Tests: withTests, Fix: true, Edits: true,
		Accept: func(name string, _ []byte) ([]byte, string) {
			old, err := pass.ReadFile(name)
			if err != nil {
				return nil, "cannot read " + name + ": " + err.Error()
			}
			return old, ""
		}})
	if len(res.Errors) > 0 {
		return nil, errors.Join(res.Errors...) // a rule that failed: the driver says so
	}
	found, invalid := res.Found, res.Invalid
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

	for _, f := range found {
		o := res.Outcome[f]
		end, related := fixpkg.Extent(pass.Files, f)
		d := analysis.Diagnostic{Pos: f.Pos, End: end, Category: f.Rule, Message: f.Message, URL: version.HelpURI}
		if !compact {
			for _, r := range related {
				d.Related = append(d.Related, analysis.RelatedInformation{Pos: r.Pos, Message: r.Message})
			}
		}
		switch {
		case f.Unfixable != "":
			d.Message += " (not fixed: " + f.Unfixable + ")"
		case o.Reason != "":
			d.Message += " (not fixed: " + o.Reason + ")"
		case len(o.Edits) > 0:
			d.SuggestedFixes = []analysis.SuggestedFix{{Message: "Make the work stoppable", TextEdits: textEdits(pass, o.Edits)}}
		}
		for _, p := range onLine[line(f.Pos)] {
			d.Message += "; " + ignore.InvalidIgnore.Name + ": " + p
		}
		delete(onLine, line(f.Pos)) // told once
		pass.Report(d)
	}
	for _, d := range alone {
		pass.Report(analysis.Diagnostic{Pos: d.Pos, End: d.End, Category: ignore.InvalidIgnore.Name, Message: d.Problem, URL: version.HelpURI})
	}
	return nil, nil
}

// textEdits turns whole-line edits into the driver's positions.
func textEdits(pass *analysis.Pass, edits []fixpkg.Edit) []analysis.TextEdit {
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

// goVersion returns the go line of the package's module ("1.22"), which
// rules such as the ticker's depend on: from the driver's module
// information, else from the version the package was type-checked for;
// "" when neither says.
func goVersion(pass *analysis.Pass) string {
	v := ""
	if pass.Module != nil {
		v = pass.Module.GoVersion
	}
	if v == "" {
		v = strings.TrimPrefix(goversion.Lang(pass.Pkg.GoVersion()), "go")
	}
	return v
}
