// Package load is everything of leakfix that talks to the go command:
// listing packages (List, with the listing cache of ListCached), loading
// them with types through go/packages (Typed, Reload), type-checking them
// from source without compiling anything (Source, Checker), the platform's
// type sizes (Sizes), and the package errors worded for the user
// (PkgErrors, DriverError, PosError).
//
// A Checker gives the types of Go packages without compiling anything: the
// go command lists the packages and their import graph (go list -deps, no
// -export, no -compiled), and go/types checks them from source, side by
// side along the import graph. A package whose types only serve its
// importers is checked for its declarations alone
// (types.Config.IgnoreFuncBodies) and its syntax dropped at once; only the
// packages a caller analyses keep their syntax and full type information.
//
// Files that import "C" are checked as they are, with go/types' FakeImportC:
// cgo never runs. References to C have no types, which the declarations of a
// dependency survive; a package to analyse that gets type errors that way is
// left to the caller, which loads it with go/packages.
package load

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
)

// ListMode is what List asks go/packages for: every package's files and the
// whole import graph, without parsing, types, export data or cgo's output.
const ListMode = packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps | packages.NeedModule | packages.NeedForTest

// A Config says where and how the go command lists packages.
type Config struct {
	Context    context.Context
	Dir        string
	Env        []string // nil means os.Environ()
	BuildFlags []string
	Tests      bool
	// Overlay maps files to the content they have instead of what is on
	// disk, for the go command and for parsing.
	Overlay map[string][]byte
}

// A Need says how much a caller needs of a package.
type Need int

const (
	// None: nothing, unless an importer needs its API.
	None Need = iota
	// API: the types of its declarations, without its function bodies;
	// its syntax is dropped once they are checked.
	API
	// Full: its syntax, its function bodies checked, and full type
	// information.
	Full
)

// A Checker type-checks listed packages from source. It remembers what it
// checked, so that a later Check reuses the types of the dependencies an
// earlier one checked. Its methods may not be called concurrently.
type Checker struct {
	// Fset receives the parsed files; every checked package's positions
	// are in it.
	Fset *token.FileSet
	// Sizes are the target platform's type sizes.
	Sizes types.Sizes
	// Overlay maps files to the content to parse instead of what is on disk.
	Overlay map[string][]byte
	// Parse, when set, is asked first for the files of each package to
	// check: it returns them parsed into Fset (with comments, for Full),
	// and how much of the package is wanted now that they are read, more
	// or less than asked (None: the package is not checked, as if it did
	// not parse). With ok false the Checker parses them.
	Parse func(p *packages.Package, need Need) (files []*ast.File, now Need, ok bool)
	// Info returns the types.Info a Full package records into.
	Info func() *types.Info
	// Progress, when set, is called with the number of packages checked so
	// far and the number the current Check will check in all.
	Progress func(done, total int)
	// Std, when set with Fset SharedFset, is the source directory of the
	// standard library the go command lists (GOROOT/src): the packages
	// below it that are checked for their API share their types with the
	// process's other Checkers (shared.go).
	Std string

	// done holds what was checked, by package ID, across Checks. Every
	// result's Imports lead to results in done: Forget removes a package
	// together with its importers, so that none is left pointing at types
	// that a later Check replaces.
	done map[string]*result
}

// A result is what checking one package gave.
type result struct {
	pkg  *packages.Package // with Types, TypesSizes, Fset, Imports leading to results; Syntax and TypesInfo if full
	full bool
	// bad reports errors in the package or in one it imports, directly or
	// not: its types may not be what the compiler would say.
	bad bool
}

// Check type-checks the packages need asks for among roots, and what they
// import, directly or not, for its API. A package an earlier Check checked
// for as much as need asks is not checked again.
func (c *Checker) Check(ctx context.Context, roots []*packages.Package, need func(*packages.Package) Need) error {
	if c.done == nil {
		c.done = map[string]*result{}
	}
	// A package checked for its API alone that is now wanted in full is
	// checked again, and so is every package that imports it, so that no
	// two sets of types stand for one package.
	upgrade := map[string]bool{}
	for _, p := range roots {
		if r := c.done[p.ID]; r != nil && !r.full && need(p) == Full {
			upgrade[p.ID] = true
		}
	}
	if len(upgrade) > 0 {
		c.Forget(upgrade)
	}
	// The packages to check, and for how much, by ID: a package may be
	// reached through several *packages.Package values (a typed form among
	// roots, the listed one among its importers' imports).
	type node struct {
		p         *packages.Package
		need      Need
		waiting   int
		importers []*node
	}
	nodes := map[string]*node{}
	var add func(p *packages.Package, n Need)
	add = func(p *packages.Package, n Need) {
		// Checked by an earlier Check, for enough (upgrade forgot those
		// that were not), and so were its imports.
		if c.done[p.ID] != nil {
			return
		}
		if old := nodes[p.ID]; old != nil {
			old.need = max(old.need, n)
			return
		}
		nodes[p.ID] = &node{p: p, need: n}
		for _, dep := range p.Imports {
			add(dep, API)
		}
	}
	for _, p := range roots {
		if n := need(p); n != None {
			add(p, n)
		}
	}
	if len(nodes) == 0 {
		return nil
	}

	// Each package waits for its imports; workers take the packages whose
	// imports are all checked.
	var ready []*node
	for _, n := range nodes {
		for _, dep := range n.p.Imports {
			if d := nodes[dep.ID]; d != nil {
				n.waiting++
				d.importers = append(d.importers, n)
			}
		}
		if n.waiting == 0 {
			ready = append(ready, n)
		}
	}
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		checked int
		busy    int // packages being checked
	)
	worker := func() {
		mu.Lock()
		defer mu.Unlock()
		for {
			// A cancelled context is seen once a running check ends and
			// broadcasts: while busy > 0, one always will.
			for len(ready) == 0 && busy > 0 && ctx.Err() == nil {
				cond.Wait()
			}
			// Nothing ready and nothing running: all is checked, or what
			// is left waits on an import cycle, which go list reports.
			if len(ready) == 0 || ctx.Err() != nil {
				cond.Broadcast() // the workers still waiting see it too, and return
				return
			}
			n := ready[len(ready)-1]
			ready = ready[:len(ready)-1]
			busy++
			// Read under the lock, which the other workers hold to write
			// c.done; the check itself runs without it.
			deps := make(map[string]*result, len(n.p.Imports))
			for path, dep := range n.p.Imports {
				deps[path] = c.done[dep.ID]
			}
			mu.Unlock()
			r := c.checkOne(n.p, n.need, deps)
			mu.Lock()
			busy--
			c.done[n.p.ID] = r
			checked++
			if c.Progress != nil {
				c.Progress(checked, len(nodes)) // under the lock: its calls never overlap
			}
			for _, imp := range n.importers {
				if imp.waiting--; imp.waiting == 0 {
					ready = append(ready, imp)
				}
			}
			cond.Broadcast()
		}
	}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(worker)
	}
	wg.Wait()
	return ctx.Err()
}

// checkOne parses and checks p against deps, the results of its imports
// by import path.
//
// It fills a new package, not p, with a copy of p's errors: the listed
// package stays as the go command gave it, for a later Check to check again
// after Forget, and for the callers that hold it.
func (c *Checker) checkOne(p *packages.Package, need Need, deps map[string]*result) *result {
	t := &packages.Package{
		ID:           p.ID,
		Name:         p.Name,
		PkgPath:      p.PkgPath,
		Dir:          p.Dir,
		GoFiles:      p.GoFiles,
		OtherFiles:   p.OtherFiles,
		IgnoredFiles: p.IgnoredFiles,
		Module:       p.Module,
		ForTest:      p.ForTest,
		Errors:       append([]packages.Error(nil), p.Errors...),
		Fset:         c.Fset,
		TypesSizes:   c.Sizes,
		Imports:      make(map[string]*packages.Package, len(p.Imports)),
	}
	r := &result{pkg: t, full: need == Full, bad: len(p.Errors) > 0}
	if p.PkgPath == "unsafe" {
		// Its source only documents it: its types are go/types' own, which
		// the importer below gives every package that imports it.
		t.Types = types.Unsafe
		return r
	}
	var fakeC func(types.Error) bool // set once the files are parsed
	addError := func(err error) {
		var list scanner.ErrorList
		var terr types.Error
		switch {
		case errors.As(err, &list):
			for _, e := range list {
				t.Errors = append(t.Errors, packages.Error{Pos: e.Pos.String(), Msg: e.Msg, Kind: packages.ParseError})
			}
		case errors.As(err, &terr):
			if fakeC != nil && fakeC(terr) {
				// Not the package's error: see FakeCgo.
				return
			}
			t.Errors = append(t.Errors, packages.Error{Pos: terr.Fset.Position(terr.Pos).String(), Msg: terr.Msg, Kind: packages.TypeError})
		default:
			t.Errors = append(t.Errors, packages.Error{Pos: "-", Msg: err.Error(), Kind: packages.UnknownError})
		}
		r.bad = true
	}

	var files []*ast.File
	parsed := false
	if c.Parse != nil {
		var now Need
		if files, now, parsed = c.Parse(p, need); parsed {
			need = now
			r.full = need == Full
			if need == None {
				// The caller takes the package elsewhere; its importers
				// must not trust types it never got.
				r.bad = true
				return r
			}
		}
	}
	shareKey := "" // set while this Checker makes the result shared under it
	if !parsed {
		if key := c.sharedKey(p, need, deps); key != "" {
			if s, ok := shared(key); ok {
				c.link(t, r, deps)
				t.Types, t.Errors, r.bad = s.types, slices.Clone(s.errors), s.bad
				return r
			}
			// The others that want it wait for put, which a check that
			// panics calls too, with nothing.
			shareKey = key
			defer func() {
				if shareKey != "" {
					put(shareKey, nil, false)
				}
			}()
		}
		mode := parser.SkipObjectResolution
		if need == Full {
			mode |= parser.ParseComments | parser.AllErrors // as go/packages parses
		}
		for _, name := range p.GoFiles {
			src, ok := c.Overlay[name]
			if !ok {
				var err error
				if src, err = os.ReadFile(name); err != nil {
					// At line 1 of the file, so that the error has a
					// position to be reported at, as a parse error does.
					t.Errors = append(t.Errors, packages.Error{Pos: name + ":1", Msg: err.Error(), Kind: packages.ParseError})
					r.bad = true
					continue
				}
			}
			f, err := parser.ParseFile(c.Fset, name, src, mode)
			if err != nil {
				addError(err)
			}
			if f != nil {
				files = append(files, f)
			}
		}
	}

	fakeC = FakeCgo(c.Fset, files)
	c.link(t, r, deps)
	conf := &types.Config{
		Importer: ImporterFunc(func(path string) (*types.Package, error) {
			if path == "unsafe" {
				return types.Unsafe, nil
			}
			if dep := t.Imports[path]; dep != nil && dep.Types != nil {
				return dep.Types, nil
			}
			return nil, errors.New("not listed as an import of " + p.PkgPath)
		}),
		IgnoreFuncBodies: need != Full,
		FakeImportC:      true,
		Error:            addError,
		Sizes:            c.Sizes,
	}
	// The module's go line decides which language features its files may
	// use, as it does for the compiler.
	if p.Module != nil && p.Module.GoVersion != "" {
		conf.GoVersion = "go" + p.Module.GoVersion
	}
	var info *types.Info
	if need == Full {
		info = c.Info()
	}
	t.Types = types.NewPackage(p.PkgPath, p.Name)
	if err := types.NewChecker(conf, c.Fset, t.Types, info).Files(files); err != nil && !r.bad {
		addError(err)
	}
	if need == Full {
		t.Syntax, t.TypesInfo = files, info
	}
	if shareKey != "" {
		put(shareKey, t, r.bad)
		shareKey = ""
	}
	return r
}

// link sets the imports of t, the typed form of a package being checked,
// to the results deps of its imports.
func (c *Checker) link(t *packages.Package, r *result, deps map[string]*result) {
	for path, d := range deps {
		if d != nil {
			t.Imports[path] = d.pkg
			// Types built on a bad import may not be what the compiler
			// would say: the package is bad too.
			r.bad = r.bad || d.bad
		} else {
			r.bad = true // not checked: an import cycle
		}
	}
}

// Package returns the typed form of the listed package p after a Check that
// asked for it: Full gives its syntax and type information, API its types
// only. Its Imports lead to the typed forms of its imports. ok is false
// when p, or a package it imports, directly or not, has errors (those of
// p are in its Errors), or when p was not checked.
func (c *Checker) Package(p *packages.Package) (typed *packages.Package, ok bool) {
	r := c.done[p.ID]
	if r == nil {
		return nil, false
	}
	return r.pkg, !r.bad
}

// ImportsOK reports whether the packages p imports, directly or not, were
// checked without errors; p's own errors may then be worded as go/types
// words them.
func (c *Checker) ImportsOK(p *packages.Package) bool {
	r := c.done[p.ID]
	if r == nil {
		return false
	}
	// bad spreads from a package to its importers, so the direct imports
	// tell for all.
	for _, dep := range r.pkg.Imports {
		if d := c.done[dep.ID]; d == nil || d.bad {
			return false
		}
	}
	return true
}

// Forget drops what was checked of the packages ids name and of every
// package that imports one of them, directly or not, so that a later Check
// checks them again (after their files changed, or to have more of them).
// The importers go too: their types refer to the forgotten packages'
// types, which a new check replaces by others.
func (c *Checker) Forget(ids map[string]bool) {
	memo := map[string]bool{}
	var reaches func(p *packages.Package) bool
	reaches = func(p *packages.Package) bool {
		if v, ok := memo[p.ID]; ok {
			return v
		}
		memo[p.ID] = false // cycles end here
		v := ids[p.ID]
		for _, dep := range p.Imports {
			if reaches(dep) {
				v = true
			}
		}
		memo[p.ID] = v
		return v
	}
	for id, r := range c.done {
		if reaches(r.pkg) {
			delete(c.done, id)
		}
	}
}

// FakeCgo returns what tells, of the errors go/types reports on files
// checked with FakeImportC, those that come of it: what a file that imports
// "C" derives from C has no type, and go/types may complain about it there,
// or where the package's other files use it. Those complaints are not the
// package's errors.
func FakeCgo(fset *token.FileSet, files []*ast.File) func(types.Error) bool {
	cgo := map[string]bool{}
	for _, f := range files {
		if ImportsC(f) {
			cgo[fset.File(f.FileStart).Name()] = true
		}
	}
	return func(err types.Error) bool {
		return len(cgo) > 0 && (cgo[err.Fset.Position(err.Pos).Filename] || strings.Contains(err.Msg, "invalid type"))
	}
}

// An ImporterFunc is a types.Importer.
type ImporterFunc func(path string) (*types.Package, error)

// Import returns f(path).
func (f ImporterFunc) Import(path string) (*types.Package, error) { return f(path) }

// ImportsC reports whether f imports "C", which makes its package a cgo
// package.
func ImportsC(f *ast.File) bool {
	for _, imp := range f.Imports {
		if path, err := strconv.Unquote(imp.Path.Value); err == nil && path == "C" {
			return true
		}
	}
	return false
}
