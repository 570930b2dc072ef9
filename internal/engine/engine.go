// Package engine runs leakfix's pipeline: load → find → plan → rewrite →
// verify → report. It knows nothing about the command line.
package engine

import (
	"context"
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/rules"
)

// Options configures a run. The zero value checks the packages in the
// current directory with every rule and changes nothing.
type Options struct {
	// Dir is where patterns are resolved and what reported paths are
	// relative to; "" means the current directory.
	Dir string
	// Tests also analyses _test.go files.
	Tests bool
	// Rules lists the rules to run by name; empty means all.
	Rules []string
	// Fix computes a fix for every finding that has one; Result.Changes
	// holds the new file contents.
	Fix bool
	// Write writes the fixed files to disk. It implies Fix.
	Write bool
	// BuildFlags are passed to the go command (e.g. -tags=integration).
	BuildFlags []string
	// Env is the go command's environment; nil means os.Environ().
	Env []string
	// Edits also divides each package's fix among its findings, as
	// Finding.Edits. It implies Fix.
	Edits bool
	// Keep, when set, decides which findings are reported and fixed, from
	// the rule and the first and last position of the reported statement;
	// the others are dropped before any fix is planned. Run calls it from
	// one goroutine at a time.
	Keep func(rule string, start, end token.Position) bool
	// Cache is the directory of the per-package result cache (see
	// internal/cache); "" means no cache.
	Cache string
}

// A Finding is a reported piece of work that cannot be stopped.
type Finding struct {
	Rule    string
	Pos     token.Position // Filename is absolute
	Message string
	Fixed   bool           // a fix was computed (and written, when Options.Write is set)
	Unfixed string         // why no fix was made; empty when Fixed or when fixes were not asked for
	Fixable bool           // the rule offers a fix for it
	Package string         // import path
	End     token.Position // end of the reported statement
	Related []Related      // other places that explain the finding
	Edits   []Edit         // with Options.Edits: this finding's share of the fix
}

// A Change is the old and new content of one file.
type Change struct {
	Path string // absolute
	Old  []byte
	New  []byte
}

// Result is what a run found and changed.
type Result struct {
	Findings []Finding
	Changes  []Change
	// Errors are problems with the input (packages that do not load,
	// files that cannot be written); the rest of the run went on.
	Errors    []error
	Packages  int // packages analysed
	Generated int // generated files skipped
	Cached    int // packages whose results came from the cache
}

// PosError is a problem at a position in the input.
type PosError struct {
	Pos string // file:line:col, or a file or package name
	Msg string
}

func (e *PosError) Error() string {
	if e.Pos == "" || e.Pos == "-" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

// Run loads the packages matched by patterns and runs the rules on them.
//
// Only the packages a rule could report on are type-checked: a syntactic
// pass over every file decides which (see prefilter.go). With Options.Cache,
// a package whose files and dependencies are unchanged since an earlier run
// is neither parsed nor type-checked; its findings are read back.
func Run(ctx context.Context, patterns []string, opts Options) (*Result, error) {
	if opts.Write || opts.Edits {
		opts.Fix = true
	}
	if keep := opts.Keep; keep != nil {
		var mu sync.Mutex // packages are analysed in parallel
		opts.Keep = func(rule string, start, end token.Position) bool {
			mu.Lock()
			defer mu.Unlock()
			return keep(rule, start, end)
		}
	}
	enabled, err := selectRules(opts.Rules)
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	var c *cache.Cache
	if opts.Cache != "" {
		if c, err = cache.Open(opts.Cache); err != nil {
			return nil, err
		}
		c.Trim() // best effort: a cache that cannot be trimmed still works
	}
	roots, err := listWithCache(ctx, c, dir, patterns, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if len(roots) == 0 {
		res.Errors = append(res.Errors, &PosError{Msg: fmt.Sprintf("%s matched no packages", strings.Join(patterns, " "))})
	}
	r := newRunner(ctx, dir, patterns, opts, enabled, roots)
	if err := r.openCache(c); err != nil {
		return nil, err
	}
	out, err := r.run()
	if err != nil {
		return nil, err
	}
	for _, o := range out {
		res.Findings = append(res.Findings, o.findings...)
		res.Changes = append(res.Changes, o.changes...)
		res.Errors = append(res.Errors, o.errors...)
		res.Generated += o.generated
		if o.analysed {
			res.Packages++
		}
		if o.cached {
			res.Cached++
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i].Pos, res.Findings[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Offset < b.Offset
	})
	sort.Slice(res.Changes, func(i, j int) bool { return res.Changes[i].Path < res.Changes[j].Path })
	if opts.Write {
		res.Errors = append(res.Errors, writeAll(res.Changes)...)
	}
	return res, nil
}

func selectRules(names []string) ([]*rules.Rule, error) {
	if len(names) == 0 {
		return rules.All, nil
	}
	var out []*rules.Rule
	for _, n := range names {
		r := rules.ByName(n)
		if r == nil {
			return nil, fmt.Errorf("unknown rule %q (see leakfix rules)", n)
		}
		out = append(out, r)
	}
	return out, nil
}

// An outcome is what a run learned about one package.
type outcome struct {
	findings  []Finding
	changes   []Change
	errors    []error
	generated int  // generated files skipped
	analysed  bool // false when the package did not load
	cached    bool // read from the cache
}

// loadErrors is the outcome of a package that did not load.
func loadErrors(pkg *packages.Package) outcome {
	var o outcome
	for _, e := range pkg.Errors {
		o.errors = append(o.errors, &PosError{Pos: e.Pos, Msg: e.Msg})
	}
	return o
}

// analyse runs the rules on one type-checked package and, when asked, fixes
// what they found. It also returns what check would report with no
// Options.Keep, for the cache: Keep only drops findings, and a
// //leakfix:ignore comment covers a finding whatever the others are, so
// Keep can as well be applied afterwards.
func analyse(pkg *packages.Package, enabled []*rules.Rule, opts Options, v *verifier) (o, checked outcome) {
	goFiles := map[string]bool{}
	for _, f := range pkg.GoFiles {
		goFiles[f] = true
	}
	pass := &rules.Pass{Fset: pkg.Fset, Pkg: pkg.Types, Info: pkg.TypesInfo, AllFiles: pkg.Syntax}
	if pkg.Module != nil {
		pass.GoVersion = pkg.Module.GoVersion
	}
	for _, f := range pkg.Syntax {
		name := pkg.Fset.File(f.Pos()).Name()
		switch {
		case !goFiles[name]: // cgo output and other files the user did not write
		case ast.IsGenerated(f):
			o.generated++
		default:
			pass.Files = append(pass.Files, f)
		}
	}
	o.analysed = true
	checked.generated, checked.analysed = o.generated, o.analysed

	var all []*rules.Finding
	for _, r := range enabled {
		all = append(all, r.Find(pass)...)
	}
	all, invalid := suppress(pkg, pass, all)
	checked.findings = invalid
	var found []*rules.Finding
	var outs []Finding
	for _, f := range all {
		out := Finding{
			Rule:    f.Rule,
			Pos:     pkg.Fset.Position(f.Pos),
			Message: f.Message,
			Fixable: f.Fix != nil,
			Package: pkg.PkgPath,
			Unfixed: f.Unfixable,
		}
		out.End, out.Related = extent(pkg, f)
		checked.findings = append(checked.findings, out)
		if keepFinding(opts, out) {
			found = append(found, f)
			outs = append(outs, out)
		}
	}
	for _, f := range invalid {
		if keepFinding(opts, f) {
			o.findings = append(o.findings, f)
		}
	}
	if len(found) == 0 {
		return o, checked
	}

	fixed := map[*rules.Finding]string{} // finding → why it is not fixed ("" = fixed)
	var edits map[*rules.Finding][]Edit
	if opts.Fix {
		changes, why := fix(pkg, found, v)
		fixed = why
		o.changes = changes
		if opts.Edits {
			edits = splitPackage(pkg, found, why, changes)
		}
	}
	for i, f := range found {
		out := outs[i]
		out.Edits = edits[f]
		if opts.Fix && f.Fix != nil {
			reason, ok := fixed[f]
			out.Fixed = ok && reason == ""
			out.Unfixed = reason
		}
		o.findings = append(o.findings, out)
	}
	return o, checked
}

// keepFinding applies Options.Keep.
func keepFinding(opts Options, f Finding) bool {
	return opts.Keep == nil || opts.Keep(f.Rule, f.Pos, f.End)
}

// Rel returns path relative to dir when it lies below it.
func Rel(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
