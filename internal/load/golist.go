package load

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/tools/go/packages"
)

// TypedMode is what a typed load asks go/packages for: what the rules, the
// rewrite and the verifier read. NeedModule says which files may be
// written (writable) and the go version they are checked with; NeedForTest
// lets WithoutTestDuplicates tell a test variant from the package it
// varies.
const TypedMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
	packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedTypesSizes | packages.NeedModule | packages.NeedForTest

// ParseFunc is go/packages' Config.ParseFile.
type ParseFunc func(fset *token.FileSet, filename string, src []byte) (*ast.File, error)

// listRuns counts the listings made, and goRuns every run of the go
// command (through go/packages or not), for the tests of the caches.
var listRuns, goRuns atomic.Int64

// Runs returns how many listings the process has made so far, and how many
// times it has run the go command, through go/packages or not: a run that
// a cache serves must start none, and the tests of the caches check that.
func Runs() (lists, all int64) { return listRuns.Load(), goRuns.Load() }

// Typed loads the packages with full syntax and types through go/packages,
// which has the go command compile what they import for its export data.
// With Tests, a package's test variant replaces the package itself, since
// it holds the same files and more.
func Typed(cfg *Config, patterns ...string) ([]*packages.Package, error) {
	return goPackages(cfg, patterns, TypedMode, nil, nil)
}

// List returns the packages matched by patterns, with their files and the
// metadata of their whole import graph, but no syntax or types. Nothing is
// compiled.
func List(cfg *Config, patterns ...string) ([]*packages.Package, error) {
	listRuns.Add(1)
	return goPackages(cfg, patterns, ListMode, nil, nil)
}

// Source loads the packages matched by patterns as Typed does, with their
// syntax and types, but compiles nothing: they are type-checked from
// source by a Checker, and what they import for its API only, except the
// packages deep says need their function bodies checked too. Their
// types.Info is what info returns, or nil when info is nil. A package that imports
// one with errors, directly or not, has an error saying so. The checker
// returned holds the types, for more packages to share.
//
// With base, the packages are checked into base, whose earlier checks they
// reuse: a package of the new listing with the ID of one base checked is
// taken as checked. base must have been filled from a listing of the same
// files (the same platform, build flags and overlay): listing with tests
// adds test variants, whose IDs differ, and leaves the other packages as
// they were.
func Source(cfg *Config, patterns []string, info func() *types.Info, deep func(*packages.Package) bool, base *Checker) ([]*packages.Package, *Checker, error) {
	// The type sizes come from a go command of their own, which runs while
	// go list does; a base checker has them already.
	var sizes types.Sizes
	var std string
	var sizesErr error
	var wg sync.WaitGroup
	if base == nil {
		wg.Go(func() { sizes, std, sizesErr = Sizes(cfg.Context, cfg.Dir, cfg.Env) })
	}
	roots, err := goPackages(cfg, patterns, ListMode, nil, nil)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	if sizesErr != nil {
		return nil, nil, DriverError(cfg.Dir, patterns, sizesErr)
	}
	if info == nil {
		info = func() *types.Info { return nil }
	}
	// A new checker needs the listing's overlay too: it parses the files
	// itself, and must see the content go list listed.
	c := base
	if c == nil {
		c = &Checker{Fset: SharedFset, Sizes: sizes, Std: std, Overlay: cfg.Overlay, Info: info}
	}
	isRoot := map[*packages.Package]bool{}
	for _, p := range roots {
		isRoot[p] = true
	}
	need := func(p *packages.Package) Need {
		if strings.HasSuffix(p.ID, ".test") {
			return None // a test main, which the go command generates
		}
		return Full
	}
	// The packages deep asks for go to Check as roots, for which need says
	// Full: their function bodies are checked too.
	var deps []*packages.Package
	if deep != nil {
		packages.Visit(roots, nil, func(p *packages.Package) {
			if !isRoot[p] && deep(p) {
				deps = append(deps, p)
			}
		})
	}
	if err := c.Check(cfg.Context, append(deps, roots...), need); err != nil {
		return nil, nil, err
	}
	out := make([]*packages.Package, len(roots))
	for i, p := range roots {
		typed, ok := c.Package(p)
		switch {
		case typed == nil:
			// Not checked: a test main, which need leaves out, or a
			// package caught in an import cycle, whose list error says
			// so. The listed form stands, without types.
			out[i] = p
			continue
		case !ok && len(typed.Errors) == 0:
			// Callers tell a broken package by its Errors alone; one whose
			// types are wrong because of what it imports must not pass for
			// clean.
			typed.Errors = append(typed.Errors, packages.Error{Pos: "-", Msg: "a package it imports has errors", Kind: packages.TypeError})
		}
		out[i] = typed
	}
	return out, c, nil
}

// goPackages runs go/packages in mode. fset and parse, when not nil, are
// go/packages' Config.Fset and Config.ParseFile.
func goPackages(cfg *Config, patterns []string, mode packages.LoadMode, fset *token.FileSet, parse ParseFunc) ([]*packages.Package, error) {
	goRuns.Add(1)
	pcfg := &packages.Config{
		Context:    cfg.Context,
		Mode:       mode,
		Dir:        cfg.Dir,
		Tests:      cfg.Tests,
		BuildFlags: cfg.BuildFlags,
		Env:        cfg.Env,
		Overlay:    cfg.Overlay,
		Fset:       fset,
		ParseFile:  parse,
	}
	// An error here is the go command failing as a whole; a package that
	// does not list, parse or type-check comes back with its Errors set,
	// and the rest of the load goes on.
	pkgs, err := packages.Load(pcfg, patterns...)
	if err != nil {
		return nil, DriverError(cfg.Dir, patterns, err)
	}
	if !cfg.Tests {
		return pkgs, nil
	}
	return WithoutTestDuplicates(pkgs), nil
}

// Reload loads the listed packages pkgs with types, as Typed does. It names them by import
// path, so that only they are loaded; a package that cannot be named that way
// (files given on the command line, a directory go list reaches only by its
// path) is found by loading the original patterns again. The result maps a
// listed package's ID to its typed form; a package missing from it could not
// be reloaded.
func Reload(cfg *Config, patterns []string, pkgs []*packages.Package, fset *token.FileSet, parse ParseFunc) (map[string]*packages.Package, error) {
	var paths []string
	seen := map[string]bool{}
	whole := false
	for _, p := range pkgs {
		path := p.PkgPath
		if p.ForTest != "" {
			path = p.ForTest // the xtest package p_test is loaded with p
		}
		// The package of files named as arguments (go list a.go b.go) has
		// this made-up path, which names nothing: only the patterns that
		// named the files load it again.
		if path == "command-line-arguments" {
			whole = true
		}
		if !seen[path] {
			seen[path] = true
			paths = append(paths, path)
		}
	}
	byID := map[string]*packages.Package{}
	missing := func() bool {
		for _, p := range pkgs {
			if byID[p.ID] == nil {
				return true
			}
		}
		return false
	}
	if !whole {
		typed, err := goPackages(cfg, paths, TypedMode, fset, parse)
		if err != nil {
			return nil, err
		}
		for _, t := range typed {
			byID[t.ID] = t
		}
		// A path go list cannot resolve on its own (a package under testdata,
		// say) comes back with a list error the first listing did not have.
		for _, p := range pkgs {
			if t := byID[p.ID]; t != nil && len(p.Errors) == 0 && hasListError(t) {
				delete(byID, p.ID)
			}
		}
	}
	if whole || missing() {
		typed, err := goPackages(cfg, patterns, TypedMode, fset, parse)
		if err != nil {
			return nil, err
		}
		for _, t := range typed {
			if byID[t.ID] == nil {
				byID[t.ID] = t
			}
		}
	}
	return byID, nil
}

// hasListError reports whether go list itself failed on p, as opposed to
// the parser or the type checker.
func hasListError(p *packages.Package) bool {
	for _, e := range p.Errors {
		if e.Kind == packages.ListError {
			return true
		}
	}
	return false
}

// WithoutTestDuplicates drops the test mains and the packages whose test
// variant is also loaded.
func WithoutTestDuplicates(pkgs []*packages.Package) []*packages.Package {
	// With Tests, go list gives for a package p with tests p itself, its
	// test variant "p [p.test]" (PkgPath p, ForTest p) when it has
	// in-package tests, the external test package "p_test [p.test]"
	// (PkgPath p_test) when it has external ones, and the test main
	// "p.test".
	hasTestVariant := map[string]bool{}
	for _, p := range pkgs {
		if p.ForTest != "" && p.PkgPath == p.ForTest {
			hasTestVariant[p.PkgPath] = true
		}
	}
	var out []*packages.Package
	for _, p := range pkgs {
		switch {
		case strings.HasSuffix(p.ID, ".test"): // the generated test main
		case p.ForTest == "" && hasTestVariant[p.PkgPath]:
			// Its test variant holds the same files and the in-package
			// tests: with both, its files would be analysed and fixed twice.
		default:
			out = append(out, p)
		}
	}
	return out
}
