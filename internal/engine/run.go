package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/rules"
)

// A runner carries one run from the listed packages to their outcomes.
type runner struct {
	ctx      context.Context
	dir      string
	patterns []string
	opts     Options
	enabled  []*rules.Rule
	roots    []*packages.Package

	g    *graph
	fset *token.FileSet // every file parsed in the run

	parsedMu sync.Mutex
	parsed   map[string]*ast.File // files of the packages that need types, parsed by the syntactic pass
	cache    *cache.Cache         // nil without Options.Cache
	keys     map[*packages.Package]cache.Key
	files    map[*packages.Package][][]byte // the roots' files, read while computing keys
}

func newRunner(ctx context.Context, dir string, patterns []string, opts Options, enabled []*rules.Rule, roots []*packages.Package) *runner {
	return &runner{
		ctx: ctx, dir: dir, patterns: patterns, opts: opts, enabled: enabled, roots: roots,
		g: newGraph(), fset: token.NewFileSet(), parsed: map[string]*ast.File{},
	}
}

// openCache computes the packages' cache keys when there is a cache.
func (r *runner) openCache(c *cache.Cache) error {
	if c == nil {
		return nil
	}
	global, err := globalKey(r.opts, r.enabled)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	k := newKeyer(r.roots, global)
	r.keys = map[*packages.Package]cache.Key{}
	for _, p := range r.roots {
		r.keys[p] = k.key(p)
	}
	r.files = k.contents
	r.cache = c
	return nil
}

// run returns the outcome of every root, in order: from the cache, from the
// syntactic pass when no rule could report on the package, or from the rules
// on the type-checked package.
func (r *runner) run() ([]outcome, error) {
	out := make([]outcome, len(r.roots))
	// How each package that needs types gets them: checked here, or loaded
	// by go/packages when it did not list or parse cleanly, so that its
	// errors read as they always have.
	const (
		untyped = iota
		check
		load
	)
	how := make([]int, len(r.roots))
	parallel(len(r.roots), func(i int) {
		if r.ctx.Err() != nil {
			return
		}
		p := r.roots[i]
		if len(p.Errors) > 0 {
			how[i] = load
			return
		}
		if o, ok := r.cached(p); ok {
			out[i] = o
			return
		}
		s, files := scanPackage(r.fset, p, r.files[p])
		switch {
		case s.broken:
			how[i] = load
		case needsTypes(p, &s, r.g, r.enabled):
			how[i] = check
			r.parsedMu.Lock()
			maps.Copy(r.parsed, files)
			r.parsedMu.Unlock()
		default:
			forget(r.fset, files)
			checked := outcome{findings: s.invalid, generated: s.generated, analysed: true}
			r.store(p, checked)
			out[i] = r.keep(checked)
		}
	})
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	r.files = nil // the roots' contents are parsed by now

	v := newVerifier(r.ctx, r.dir, r.opts)
	analyseTyped := func(i int, pkg *packages.Package) {
		if len(pkg.Errors) > 0 {
			out[i] = loadErrors(pkg)
			return
		}
		var checked outcome
		out[i], checked = analyse(pkg, r.enabled, r.opts, v)
		r.store(r.roots[i], checked)
	}

	var checkIdx []int
	for i := range r.roots {
		if how[i] == check {
			checkIdx = append(checkIdx, i)
		}
	}
	if len(checkIdx) > 0 {
		pkgs := make([]*packages.Package, len(checkIdx))
		for j, i := range checkIdx {
			pkgs[j] = r.roots[i]
		}
		listed, sizes, err := exportData(r.ctx, r.dir, pkgs, r.opts)
		if err != nil {
			return nil, err
		}
		// Each package is analysed as soon as it is checked, so that only
		// as many packages' types are in memory as there are cores.
		parallel(len(checkIdx), func(j int) {
			if r.ctx.Err() != nil {
				return
			}
			i := checkIdx[j]
			// A package with errors is loaded again by go/packages, whose
			// reports (the go command's among them) users know.
			if pkg := checkOne(pkgs[j], listed, sizes, r.fset, r.parsedFile); pkg != nil && len(pkg.Errors) == 0 {
				analyseTyped(i, pkg)
			} else {
				how[i] = load
			}
		})
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
	}

	var loadIdx []int
	var need []*packages.Package
	for i, p := range r.roots {
		if how[i] == load {
			loadIdx = append(loadIdx, i)
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	byID, err := reload(r.ctx, r.dir, r.patterns, need, r.opts, r.fset, r.parsedFile)
	if err != nil {
		return nil, err
	}
	parallel(len(need), func(j int) {
		if r.ctx.Err() != nil {
			return
		}
		i := loadIdx[j]
		if pkg := byID[need[j].ID]; pkg != nil {
			analyseTyped(i, pkg)
		} else {
			out[i] = outcome{errors: []error{&PosError{Pos: need[j].ID, Msg: "the package could not be loaded again with types"}}}
		}
	})
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parsedFile is go/packages' ParseFile: it hands out what the syntactic pass
// parsed, once per file, and parses what it did not.
func (r *runner) parsedFile(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
	r.parsedMu.Lock()
	f := r.parsed[filename]
	delete(r.parsed, filename)
	r.parsedMu.Unlock()
	if f != nil && fset == r.fset {
		return f, nil
	}
	return parser.ParseFile(fset, filename, src, parseMode)
}

// An entry is what the cache keeps of a package: its outcome as check
// reports it.
type entry struct {
	Findings  []Finding `json:",omitempty"`
	Generated int       `json:",omitempty"`
}

// cached returns p's outcome from the cache. A cached finding that could be
// fixed is of no use to a run that fixes: the fix needs the package's types.
func (r *runner) cached(p *packages.Package) (outcome, bool) {
	if r.cache == nil {
		return outcome{}, false
	}
	data, ok := r.cache.Get(r.keys[p])
	if !ok {
		return outcome{}, false
	}
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return outcome{}, false
	}
	if r.opts.Fix {
		for _, f := range e.Findings {
			if f.Fixable {
				return outcome{}, false
			}
		}
	}
	o := r.keep(outcome{findings: e.Findings, generated: e.Generated, analysed: true})
	o.cached = true
	return o, true
}

// keep applies Options.Keep to an outcome as check reports it.
func (r *runner) keep(o outcome) outcome {
	if r.opts.Keep == nil {
		return o
	}
	all := o.findings
	o.findings = nil
	for _, f := range all {
		if keepFinding(r.opts, f) {
			o.findings = append(o.findings, f)
		}
	}
	return o
}

// store puts a package's outcome, as check reports it, in the cache.
func (r *runner) store(p *packages.Package, o outcome) {
	if r.cache == nil || len(o.errors) > 0 {
		return
	}
	data, err := json.Marshal(entry{Findings: o.findings, Generated: o.generated})
	if err != nil {
		return
	}
	r.cache.Put(r.keys[p], data) // best effort: a failed write only costs the next run time
}
