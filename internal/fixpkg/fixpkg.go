// Package fixpkg is leakfix's per-package core: given one type-checked
// package, it decides which files the rules report on, runs the rules
// (a rule that panics fails alone), honours //leakfix:ignore comments,
// plans and rewrites the fixes, type-checks and vets the result, and fixes
// what the fixes themselves made fixable. The engine calls it for every
// package it loads, and the go/analysis Analyzer for the package a driver
// hands it, so that both report and fix alike.
//
// It never reads or writes a file, and never starts the go command: what
// a fix may write is for its caller to say (Options.Accept), and the
// packages a fix may import come from Package.Importer.
package fixpkg

import (
	"bytes"
	"go/ast"
	"go/token"
	"go/types"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// A Package is one type-checked package.
type Package struct {
	Path   string // import path
	Fset   *token.FileSet
	Syntax []*ast.File // every parsed file, including generated ones and cgo's translations
	Types  *types.Package
	Info   *types.Info
	// GoVersion is the module's go line ("1.22"); "" when unknown.
	GoVersion string
	// GoFiles names the files the package compiles. A file of Syntax that
	// is not one of them is cgo's translation of one, whose //line
	// comments lead back to it. Nil means every file of Syntax.
	GoFiles []string
	// Importer resolves the package's imports, and those a fix may add
	// (rewrite.MayImport), when the package is checked again with a fix.
	// Nil means the fixes cannot be checked: they are kept unverified, and
	// what they make fixable is left for the next run.
	//
	// Sizes, below, are those the package was checked with; the checks of
	// a fix use them too, so that constants built on unsafe.Sizeof come
	// out as they did and cannot make a sound fix fail to compile.
	Importer types.Importer
	Sizes    types.Sizes
}

// Options says what Run does with a package.
type Options struct {
	// Rules are the enabled rules, in the order they run. Ignore comments
	// are judged against them: one naming a rule that is not enabled does
	// not count as matching nothing.
	Rules []*rules.Rule
	// Tests reports on _test.go files too.
	Tests bool
	// Fix rewrites what the rules found.
	Fix bool
	// Keep, when set, decides which findings are kept, from the rule and
	// the first and last position of the reported statement; the others
	// are dropped before any fix is planned. It is given the findings
	// about ignore comments too.
	Keep func(rule string, start, end token.Position) bool
	// Accept, when set, is asked for every file a fix changes: it returns
	// the file's present content, against which the change is taken, or
	// why the file must not be written (then nothing of the package's fix
	// is kept). Unset, every file the rewrite produced counts as changed.
	Accept func(name string, content []byte) (old []byte, why string)
	// Edits divides the fix among the findings it fixes (SplitFix).
	Edits bool
}

// A Result is what Run found and fixed in a package.
type Result struct {
	// Found holds the rules' findings after ignore comments and Keep.
	Found []*rules.Finding
	// Outcome holds, for every finding of Found, whether it was fixed.
	Outcome map[*rules.Finding]Outcome
	// Done is what the rewrite did for each finding it fixed.
	Done map[*rules.Finding]rewrite.Done
	// Invalid are the ignore comments that cannot be honoured or matched
	// no finding of the enabled rules, kept by Keep.
	Invalid []*ignore.Directive
	// Files and Old hold the new and present content of the files the
	// fix changes; both are empty when nothing is fixed.
	Files, Old map[string][]byte
	// Seen names the files reported on, by their own name (a cgo
	// translation by the file it translates); Generated, sorted, the
	// generated files left out.
	Seen, Generated []string
	// Errors are the rules that failed on the package.
	Errors []error
	// Wired says, for each call in the package of a constructor whose work
	// was fixed, where the fix now calls the new cleanup or why it does
	// not (wirefix.go).
	Wired map[CallKey]WireNote
	// Targets are the cleanups the fix made, which the packages importing
	// this one may call (WireCallers).
	Targets []Target
}

// An Outcome is what became of one finding.
type Outcome struct {
	Fixed bool
	// Reason says why a finding was not fixed: the rule's reason for a
	// finding it offers no fix for, else, when fixing, why the fix was not
	// made.
	Reason string
	Edits  []Edit // with Options.Edits, the finding's share of the fix
}

// files sorts a package's files into those the rules report on and those
// they must not rewrite.
//
// The two differ: a generated file is seen (it counts as analysed) but
// not reported on, while a file that uses cgo is reported on but never
// rewritten: C's declarations are faked when it is checked (FakeImportC),
// so a check of the fixed package could not show that the fix compiles.
//
// goFiles names what the package compiles, so that cgo's translations can
// be told from the user's files they come from; generated names the
// generated files among them, which a fix must not edit. report holds the
// files the rules report on (rules.Pass.Files); seen names them by the
// user's file (a translation by the file it translates).
type files struct {
	goFiles   map[string]bool
	cgo       map[*token.File]bool // files cgo translated from a user's file, or that import "C"
	cgoFiles  map[string]bool      // the files of the package that import "C"
	generated map[string]bool
	report    []*ast.File
	seen      []string
}

// classify sorts p's files for one run. It keys by file name, not by
// *ast.File, because the fixed package is parsed anew (rebuild) and the
// same decisions must hold for its files too (reported, refuse).
func classify(p *Package, tests bool) *files {
	c := &files{goFiles: map[string]bool{}, cgo: map[*token.File]bool{}, cgoFiles: map[string]bool{}, generated: map[string]bool{}}
	for _, name := range p.GoFiles {
		c.goFiles[name] = true
	}
	for _, f := range p.Syntax {
		tf := p.Fset.File(f.Pos())
		name := tf.Name()
		// Without GoFiles (a go/analysis driver gives none), every file
		// of Syntax counts as compiled, as Package.GoFiles says.
		if p.GoFiles == nil {
			c.goFiles[name] = true
		}
		// Test files are left out altogether unless asked for: not seen,
		// so that a summary does not count them as analysed.
		if !tests && strings.HasSuffix(name, "_test.go") {
			continue
		}
		// Generated files are seen, so that the summary can say they were
		// left out, but never reported on, whether they use cgo or not:
		// their next generation would undo any fix.
		switch {
		case c.goFiles[name] && load.ImportsC(f):
			// A file with import "C", type-checked from source as it
			// is: its findings are reported, but it is not rewritten.
			c.seen = append(c.seen, name)
			c.cgo[tf], c.cgoFiles[name] = true, true
			if ast.IsGenerated(f) {
				c.generated[name] = true
				continue
			}
			c.report = append(c.report, f)
		case c.goFiles[name]:
			c.seen = append(c.seen, name)
			if ast.IsGenerated(f) {
				c.generated[name] = true
				continue
			}
			c.report = append(c.report, f)
		default:
			// A file with import "C" is compiled from cgo's translation,
			// whose //line comments lead back to the user's file: its
			// findings are reported there, but it cannot be rewritten.
			if user := p.Fset.PositionFor(f.Package, true).Filename; c.goFiles[user] {
				c.seen = append(c.seen, user)
				c.cgo[tf] = true
				if generatedFrom(p.Fset, f, user) {
					c.generated[user] = true
					continue
				}
				c.report = append(c.report, f)
			}
		}
	}
	return c
}

// generatedFrom reports whether user, the file cgo translated into f, is
// generated. f itself always is (cgo marks its output so), so only the
// comments that f's //line directives lead back to user are read: one by
// one, as the directive and the file's first comment make one group.
func generatedFrom(fset *token.FileSet, f *ast.File, user string) bool {
	own := *f
	own.Comments = nil
	for _, g := range f.Comments {
		for _, c := range g.List {
			if fset.PositionFor(c.Pos(), true).Filename == user {
				own.Comments = append(own.Comments, &ast.CommentGroup{List: []*ast.Comment{c}})
			}
		}
	}
	return ast.IsGenerated(&own)
}

// reported says whether the rules report on the file of that name.
func (c *files) reported(name string) bool {
	// refuse(name) == "" put the other way round, so that settle and
	// wiring never plan an edit that accept would then refuse. Unlike
	// classify, it does not consult Options.Tests: a _test.go file of
	// Syntax counts as reported.
	return c.goFiles[name] && !c.generated[name] && !c.cgoFiles[name]
}

// refuse says why a fix must not change the file of that name, or "".
func (c *files) refuse(name string) string {
	switch {
	case !c.goFiles[name]:
		return "the fix would edit " + filepath.Base(name) + ", which cgo generated"
	case c.cgoFiles[name]:
		return "the fix would edit " + filepath.Base(name) + ", which uses cgo, which leakfix does not rewrite"
	case c.generated[name]:
		return "the fix would edit the generated file " + filepath.Base(name)
	}
	return ""
}

// Run runs the rules on p and, with Options.Fix, fixes what they found.
//
// Run never fails as a whole: a rule that panics is recorded in
// Result.Errors and the other rules' findings are kept, and a fix that
// cannot be made is an Outcome with a reason, not an error.
func Run(p *Package, opts Options) *Result {
	c := classify(p, opts.Tests)
	res := &Result{Seen: c.seen, Generated: slices.Sorted(maps.Keys(c.generated))}
	// The rules gather their facts ("this channel is closed somewhere")
	// from every file, generated and test files included, but report
	// only on c.report.
	pass := &rules.Pass{Fset: p.Fset, Pkg: p.Types, Info: p.Info, AllFiles: p.Syntax, Files: c.report, GoVersion: p.GoVersion}
	var found []*rules.Finding
	for _, rule := range opts.Rules {
		fs, err := find(rule, pass)
		if err != nil {
			res.Errors = append(res.Errors, err)
		}
		found = append(found, fs...)
	}
	// Suppression sees every finding, so that an ignore comment covering
	// one that Keep drops is not taken for one that matches nothing.
	found, invalid := ignore.Filter(p.Fset, pass.Files, found, opts.Rules)
	// Keep is given the reported statement's extent, not just its first
	// position, so that a filter on changed lines catches a finding whose
	// go statement starts above the lines a change touched.
	if k := opts.Keep; k != nil {
		found = slices.DeleteFunc(found, func(f *rules.Finding) bool {
			end, _ := Extent(p.Syntax, f)
			return !k(f.Rule, p.Fset.Position(f.Pos), p.Fset.Position(end))
		})
		invalid = slices.DeleteFunc(invalid, func(d *ignore.Directive) bool {
			return !k(ignore.InvalidIgnore.Name, p.Fset.Position(d.Pos), p.Fset.Position(d.End))
		})
	}
	// Dropping findings may leave a method with only some of its starts
	// being fixed; Together refuses those, as the fix would change the
	// method for every start at once.
	rules.Together(p.Fset, found)
	res.Found, res.Invalid = found, invalid
	// Every finding has an Outcome, fixed or not: the report reads the
	// rule's reason for a shape it cannot fix from here alone.
	res.Outcome = map[*rules.Finding]Outcome{}
	for _, f := range found {
		res.Outcome[f] = Outcome{Reason: f.Unfixable}
	}
	if opts.Fix && len(found) > 0 {
		fixAll(p, c, opts, res)
	}
	return res
}

// fixAll fixes the findings of res and records the outcome in it.
//
// Its steps, in order: fix what the rules planned (fix), fix what those
// fixes made fixable (settle), call the new cleanups where the package
// shows the values' lives end (wireUp), and check that every file may be
// written (accept). The last step keeps the whole or nothing.
func fixAll(p *Package, c *files, opts Options, res *Result) {
	var fixable []*rules.Finding
	unfixed := map[*rules.Finding]string{}
	for _, f := range res.Found {
		switch {
		// The rule offers no fix; its reason is the Outcome's already.
		case f.Fix == nil:
		// Rewriting a cgo translation would be lost when cgo runs again,
		// and rewriting a file that imports "C" would need cgo's view of
		// it to verify; both are reported, neither is fixed.
		case c.cgo[p.Fset.File(f.Pos)]:
			unfixed[f] = "the loop is in a file that uses cgo, which leakfix does not rewrite"
		default:
			fixable = append(fixable, f)
		}
	}
	laterFixed := map[*rules.Finding]bool{} // not fixable at first, fixed once the others were
	var claims []claim                      // the wirings' edits, by the findings they wire
	if len(fixable) > 0 {
		files, why, done := fix(p, fixable)
		res.Done = done
		for f, reason := range why {
			unfixed[f] = reason
		}
		// A fix can make another finding fixable (it brings a context into
		// scope); settle fixes those too, so that a second run changes
		// nothing. It runs the rules on the fixed package, which it must
		// type-check to do so. Findings are matched across the rewrite by
		// goKey, as positions move; only those the run reports (not dropped
		// by an ignore comment or Keep) may be fixed so.
		//
		// Both settle and the wiring below need the fixed package
		// type-checked, which takes an Importer that resolves the imports
		// a fix adds; without one (a go/analysis driver) the fix stays as
		// planned and the next run does the rest.
		if len(files) > 0 && p.Importer != nil {
			allowed := map[string]bool{}
			for _, f := range res.Found {
				if key := goKey(p, f.Pos); key != "" {
					allowed[key] = true
				}
			}
			var later map[string]rewrite.Done
			files, later = settle(p, files, opts.Rules, c.reported, allowed)
			for key, d := range later {
				for _, f := range res.Found {
					if key != "" && goKey(p, f.Pos) == key {
						laterFixed[f] = true
						res.Done[f] = d
					}
				}
			}
			// The new cleanups are called where the code shows the
			// values' lives end.
			files, res.Wired, claims, res.Targets = wireUp(p, c, files, res.Found, res.Done)
		}
		if why := accept(p, c, opts, files, res); why != "" {
			// The package's fix is kept whole or not at all: the fixes of
			// one package depend on each other (shared fields, one
			// Shutdown), so part of it may not compile.
			for _, f := range res.Found {
				if unfixed[f] == "" && (f.Fix != nil || laterFixed[f]) {
					unfixed[f] = why
				}
			}
			// Nothing is written, so nothing was fixed: not even what settle
			// fixed, and no wiring or target is left to report on.
			laterFixed = nil
			res.Files, res.Old, res.Wired, res.Targets = nil, nil, nil, nil
		}
	}
	// A finding is fixed when its own plan, or settle, made a change that
	// was accepted; one whose plan went through but changed no file says
	// so rather than pass for fixed.
	var fixed []*rules.Finding
	for _, f := range res.Found {
		o := res.Outcome[f]
		switch {
		// Its first plan may have failed, but settle fixed it: the
		// reason that plan gave no longer holds.
		case laterFixed[f]:
			o.Fixed, o.Reason = true, ""
		case f.Fix != nil:
			o.Reason = unfixed[f]
			// The test is for the package as a whole: a fix that changed
			// nothing is told apart only when no other fix changed a file.
			o.Fixed = o.Reason == "" && len(res.Files) > 0
			if !o.Fixed && o.Reason == "" {
				o.Reason = "the fix changed nothing"
			}
		}
		if o.Fixed {
			fixed = append(fixed, f)
		}
		res.Outcome[f] = o
	}
	// The edits are taken against res.Old, the content the caller
	// will apply them to; with Accept unset that is empty, and each
	// file's edit would insert the whole of it.
	if opts.Edits && len(res.Files) > 0 {
		var changes []Change
		for name, content := range res.Files {
			changes = append(changes, Change{Path: name, Old: res.Old[name], New: content})
		}
		// A finding fixed once the others were has no plan of its own: its
		// edits go to it by position.
		sort.Slice(fixed, func(i, j int) bool { return fixed[i].Pos < fixed[j].Pos })
		// A claim's offset is in the file as the fix left it; the
		// edits are of the file as it was, so the offset is mapped back.
		for i, cl := range claims {
			if cl.before != nil {
				claims[i].off = OldOffset(res.Old[cl.path], cl.before, cl.off)
			}
		}
		for f, edits := range splitFix(p.rewrite(), fixed, changes, claims) {
			o := res.Outcome[f]
			o.Edits = edits
			res.Outcome[f] = o
		}
	}
}

// accept checks that every file the fix changes may be written, and keeps
// in res those it changes with the content they have. It returns why the
// fix cannot be written, or "".
func accept(p *Package, c *files, opts Options, files map[string][]byte, res *Result) string {
	res.Files, res.Old = map[string][]byte{}, map[string][]byte{}
	// leakfix's own refusal comes first: a file it will not write fails
	// the package without asking Accept, whose answer could not change
	// that.
	for name, content := range files {
		if why := c.refuse(name); why != "" {
			return why
		}
		var old []byte
		if opts.Accept != nil {
			var why string
			if old, why = opts.Accept(name, content); why != "" {
				return why
			}
		}
		// A file the rewrite printed again without a change (dst's
		// restorer renders every file it touched) is not a change to
		// write or to report.
		if !bytes.Equal(old, content) {
			res.Files[name], res.Old[name] = content, old
		}
	}
	return ""
}

// rewrite returns p as the rewriter sees it.
//
// It hands over every file, generated and cgo ones included: the
// rewriter must see the whole package to resolve names and place new
// declarations, and accept refuses what must not be written.
func (p *Package) rewrite() *rewrite.Package {
	return &rewrite.Package{Path: p.Path, Fset: p.Fset, Files: p.Syntax, Info: p.Info, Types: p.Types}
}
