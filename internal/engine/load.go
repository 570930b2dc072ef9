package engine

import (
	"context"
	"fmt"
	"go/ast"
	"go/token"
	"strings"
	"sync/atomic"

	"golang.org/x/tools/go/packages"
)

// Loading happens in two steps, so that only the packages a rule could
// report on are type-checked:
//
//  1. list asks the go command which packages the patterns match, with their
//     files and import graph (go list -deps: no parsing, no types);
//  2. the packages the syntactic pass kept are type-checked from source,
//     with their dependencies read from export data (typecheck.go), or, for
//     a package with errors, loaded by go/packages as a whole (reload).
//
// Nothing ever loads the syntax or types of the whole program.

// listMode is the metadata the syntactic pass and the cache keys need.
const listMode = packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps | packages.NeedModule

// typedMode is what the rules and the rewriter need.
const typedMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
	packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedTypesSizes | packages.NeedModule

// list returns the packages matched by patterns, with their files and the
// metadata of their whole import graph, but no syntax or types.
func list(ctx context.Context, dir string, patterns []string, opts Options) ([]*packages.Package, error) {
	listRuns.Add(1)
	return load(ctx, dir, patterns, opts, listMode, nil, nil)
}

// listRuns counts the go list runs of list, for tests of the listing cache.
var listRuns atomic.Int64

// loadTyped loads the packages matched by patterns with full syntax and
// types.
func loadTyped(ctx context.Context, dir string, patterns []string, opts Options) ([]*packages.Package, error) {
	return load(ctx, dir, patterns, opts, typedMode, nil, nil)
}

// parseFunc is go/packages' Config.ParseFile.
type parseFunc func(fset *token.FileSet, filename string, src []byte) (*ast.File, error)

// load runs go/packages. With Tests, a package's test variant replaces the
// package itself, since it holds the same files and more.
func load(ctx context.Context, dir string, patterns []string, opts Options, mode packages.LoadMode, fset *token.FileSet, parse parseFunc) ([]*packages.Package, error) {
	cfg := &packages.Config{
		Context:    ctx,
		Mode:       mode,
		Dir:        dir,
		Tests:      opts.Tests,
		BuildFlags: opts.BuildFlags,
		Env:        opts.Env,
		Fset:       fset,
		ParseFile:  parse,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", strings.Join(patterns, " "), err)
	}
	if !opts.Tests {
		return pkgs, nil
	}
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
		default:
			out = append(out, p)
		}
	}
	return out, nil
}

// reload type-checks the listed packages pkgs. It names them by import path,
// so that only they are loaded; a package that cannot be named that way (files
// given on the command line, a directory go list reaches only by its path) is
// found by loading the original patterns again. The result maps a listed
// package's ID to its typed form; a package missing from it could not be
// reloaded. fset and parse, when not nil, are go/packages' Config.Fset and
// Config.ParseFile.
func reload(ctx context.Context, dir string, patterns []string, pkgs []*packages.Package, opts Options, fset *token.FileSet, parse parseFunc) (map[string]*packages.Package, error) {
	var paths []string
	seen := map[string]bool{}
	whole := false
	for _, p := range pkgs {
		path := p.PkgPath
		if p.ForTest != "" {
			path = p.ForTest // the xtest package p_test is loaded with p
		}
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
		typed, err := load(ctx, dir, paths, opts, typedMode, fset, parse)
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
		typed, err := load(ctx, dir, patterns, opts, typedMode, fset, parse)
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

func hasListError(p *packages.Package) bool {
	for _, e := range p.Errors {
		if e.Kind == packages.ListError {
			return true
		}
	}
	return false
}
