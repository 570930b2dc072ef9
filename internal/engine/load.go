package engine

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
)

// loadMode is what a typed load asks go/packages for: what the rules, the
// rewrite and the verifier read. NeedModule says which files may be
// written (writable) and the go version they are checked with; NeedForTest
// lets withoutTestDuplicates tell a test variant from the package it
// varies.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
	packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedTypesSizes | packages.NeedModule | packages.NeedForTest

// parseFunc is go/packages' Config.ParseFile.
type parseFunc func(fset *token.FileSet, filename string, src []byte) (*ast.File, error)

// typedLoad loads the packages with full syntax and types, reading the files in
// overlay from there instead of the disk. With Tests, a package's test
// variant replaces the package itself, since it holds the same files and
// more.
func typedLoad(ctx context.Context, dir string, patterns []string, opts Options, env []string, overlay map[string][]byte) ([]*packages.Package, error) {
	return loadWith(ctx, dir, patterns, opts, env, overlay, loadMode, nil, nil)
}

// listRuns counts the listings made, and goRuns every run of the go
// command (through go/packages or not), for the tests of the caches.
var listRuns, goRuns atomic.Int64

// list returns the packages matched by patterns, with their files and the
// metadata of their whole import graph, but no syntax or types.
func list(ctx context.Context, dir string, patterns []string, opts Options, env []string) ([]*packages.Package, error) {
	return listOverlay(ctx, dir, patterns, opts, env, nil)
}

// listOverlay lists as list does, reading the files in overlay from there
// instead of the disk (go list -overlay). Nothing is compiled.
func listOverlay(ctx context.Context, dir string, patterns []string, opts Options, env []string, overlay map[string][]byte) ([]*packages.Package, error) {
	listRuns.Add(1)
	return loadWith(ctx, dir, patterns, opts, env, overlay, load.ListMode, nil, nil)
}

// loadTyped loads the packages matched by patterns with full syntax and
// types, in the environment opts.Env.
func loadTyped(ctx context.Context, dir string, patterns []string, opts Options) ([]*packages.Package, error) {
	return typedLoad(ctx, dir, patterns, opts, opts.Env, nil)
}

// sourceLoad loads the packages matched by patterns as typedLoad does, with
// their syntax and types, but compiles nothing: they are type-checked from
// source, and what they import for its API only (internal/load), except the
// packages deep says need their function bodies checked too. Their
// types.Info is full when info is set, else nil. A package that imports
// one with errors, directly or not, has an error saying so. The checker
// returned holds the types, for more packages to share.
//
// With base, the packages are checked into base, whose earlier checks they
// reuse: a package of the new listing with the ID of one base checked is
// taken as checked. base must have been filled from a listing of the same
// files (the same platform, build flags and overlay): listing with tests
// adds test variants, whose IDs differ, and leaves the other packages as
// they were.
func sourceLoad(ctx context.Context, dir string, patterns []string, opts Options, env []string, overlay map[string][]byte, info bool, deep func(*packages.Package) bool, base *load.Checker) ([]*packages.Package, *load.Checker, error) {
	// The type sizes come from a go command of their own, which runs while
	// go list does; a base checker has them already.
	var sizes types.Sizes
	var std string
	var sizesErr error
	var wg sync.WaitGroup
	if base == nil {
		wg.Go(func() { sizes, std, sizesErr = sizesFor(ctx, dir, env) })
	}
	roots, err := loadWith(ctx, dir, patterns, opts, env, overlay, load.ListMode, nil, nil)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	if sizesErr != nil {
		return nil, nil, driverError(dir, patterns, sizesErr)
	}
	newInfo := fixpkg.FullInfo
	if !info {
		newInfo = func() *types.Info { return nil }
	}
	// A new checker needs the listing's overlay too: it parses the files
	// itself, and must see the content go list listed.
	c := base
	if c == nil {
		c = &load.Checker{Fset: load.SharedFset, Sizes: sizes, Std: std, Overlay: overlay, Info: newInfo}
	}
	isRoot := map[*packages.Package]bool{}
	for _, p := range roots {
		isRoot[p] = true
	}
	need := func(p *packages.Package) load.Need {
		if strings.HasSuffix(p.ID, ".test") {
			return load.None // a test main, which the go command generates
		}
		return load.Full
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
	if err := c.Check(ctx, append(deps, roots...), need); err != nil {
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

// loadWith runs go/packages in mode. fset and parse, when not nil, are
// go/packages' Config.Fset and Config.ParseFile.
func loadWith(ctx context.Context, dir string, patterns []string, opts Options, env []string, overlay map[string][]byte, mode packages.LoadMode, fset *token.FileSet, parse parseFunc) ([]*packages.Package, error) {
	goRuns.Add(1)
	cfg := &packages.Config{
		Context:    ctx,
		Mode:       mode,
		Dir:        dir,
		Tests:      opts.Tests,
		BuildFlags: opts.BuildFlags,
		Env:        env,
		Overlay:    overlay,
		Fset:       fset,
		ParseFile:  parse,
	}
	// An error here is the go command failing as a whole; a package that
	// does not list, parse or type-check comes back with its Errors set,
	// and the rest of the load goes on.
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, driverError(dir, patterns, err)
	}
	if !opts.Tests {
		return pkgs, nil
	}
	return withoutTestDuplicates(pkgs), nil
}

// reload loads the listed packages pkgs with types. It names them by import
// path, so that only they are loaded; a package that cannot be named that way
// (files given on the command line, a directory go list reaches only by its
// path) is found by loading the original patterns again. The result maps a
// listed package's ID to its typed form; a package missing from it could not
// be reloaded.
func reload(ctx context.Context, dir string, patterns []string, pkgs []*packages.Package, opts Options, env []string, overlay map[string][]byte, fset *token.FileSet, parse parseFunc) (map[string]*packages.Package, error) {
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
		typed, err := loadWith(ctx, dir, paths, opts, env, overlay, loadMode, fset, parse)
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
		typed, err := loadWith(ctx, dir, patterns, opts, env, overlay, loadMode, fset, parse)
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

// withoutTestDuplicates drops the test mains and the packages whose test
// variant is also loaded.
func withoutTestDuplicates(pkgs []*packages.Package) []*packages.Package {
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

// driverError turns a failure of the go command as a whole (a go.mod it
// rejects, a toolchain it will not run) into the go command's own words.
func driverError(dir string, patterns []string, err error) error {
	// go/packages words the go command's failure "err: exit status 1:
	// stderr: TEXT"; TEXT is the go command's own.
	msg := err.Error()
	if _, stderr, ok := strings.Cut(msg, "stderr: "); ok {
		msg = stderr
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(msg), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "go: ")
		if l != "" {
			lines = append(lines, l)
		}
	}
	// The go command says what it was doing ("errors parsing go.mod:") and
	// then where: lead with the position when there is one. So
	//
	//	go: errors parsing go.mod:
	//	/m/go.mod:3: unknown directive: frobnicate
	//
	// becomes "/m/go.mod:3: unknown directive: frobnicate": the header the
	// position replaces is dropped, and any other line follows in
	// parentheses.
	for i, l := range lines {
		if pos, m, ok := splitPos(l); ok {
			if !filepath.IsAbs(pos) {
				pos = filepath.Join(dir, pos)
			}
			rest := append(append([]string{}, lines[:i]...), lines[i+1:]...)
			if len(rest) > 0 && strings.HasSuffix(rest[0], ":") {
				rest = rest[1:]
			}
			if len(rest) > 0 {
				m += " (" + strings.Join(rest, "; ") + ")"
			}
			return &PosError{Pos: pos, Msg: m}
		}
	}
	if len(lines) == 0 {
		lines = []string{err.Error()}
	}
	return &PosError{Pos: dir, Msg: fmt.Sprintf("cannot load %s: %s", strings.Join(patterns, " "), strings.Join(lines, "; "))}
}

// pkgErrors returns the problems of a package as positioned errors, in
// terms the user can act on.
func pkgErrors(dir string, pkg *packages.Package) []error {
	// go list builds the packages it lists when asked for their export
	// data (a typed load without NeedDeps is) or cgo's output, and then
	// reports the compiler's errors as one list error. The parser's and
	// go/types' errors say the same of the same lines, and are kept rather
	// than both.
	compiled := false // go/types already reported what the compiler found
	for _, e := range pkg.Errors {
		if e.Kind == packages.ParseError || e.Kind == packages.TypeError {
			compiled = true
		}
	}
	var out []error
	for _, e := range pkg.Errors {
		msg, pos := e.Msg, e.Pos
		if e.Kind == packages.ListError && strings.HasPrefix(msg, "# ") {
			// The compiler's output when go list built the package: one
			// "file:line:col: msg" a line after a "# pkg" header.
			if compiled {
				continue
			}
			for _, line := range strings.Split(msg, "\n")[1:] {
				if p, m, ok := splitPos(strings.TrimSpace(line)); ok {
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					out = append(out, &PosError{Pos: p, Msg: m})
				}
			}
			continue
		}
		if e.Kind == packages.TypeError {
			msg = importError(pkg, msg)
		}
		if pos == "" || pos == "-" { // "-" is go/packages' position for none
			pos, msg = errorPosition(pkg, msg)
		} else if !filepath.IsAbs(pos) {
			pos = filepath.Join(dir, pos) // go list's positions are relative to where it ran
		}
		out = append(out, &PosError{Pos: pos, Msg: msg})
	}
	return out
}

var couldNotImport = regexp.MustCompile(`^could not import (\S+) \(`)

// importError replaces go/types' "could not import p (invalid package
// name)" by the reason go list gave for p, such as a missing module.
//
// go/types knows only that the import gave no package; what to do about it
// ("no required module provides package p; to add it: go get p") is in
// the listed dependency's own error, over several lines, which are joined.
func importError(pkg *packages.Package, msg string) string {
	m := couldNotImport.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	dep := pkg.Imports[m[1]]
	if dep == nil || len(dep.Errors) == 0 {
		return msg
	}
	var lines []string
	for _, l := range strings.Split(dep.Errors[0].Msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return "cannot import " + m[1] + ": " + strings.Join(lines, " ")
}

var openError = regexp.MustCompile(`^open (.+): ([^:]+)$`)

// errorPosition finds a position for an error go list gave without one.
func errorPosition(pkg *packages.Package, msg string) (string, string) {
	// "open /m/a.go: permission denied": the file is the position, and the
	// message need not repeat it.
	if m := openError.FindStringSubmatch(msg); m != nil {
		return m[1], "cannot read: " + m[2]
	}
	if pkg.Dir != "" {
		// go list ends some messages with the directory ("no Go files in
		// DIR"), which the position now names.
		if m, ok := strings.CutSuffix(msg, " in "+pkg.Dir); ok {
			return pkg.Dir, m
		}
		return pkg.Dir, msg
	}
	return pkg.ID, msg
}

// splitPos splits "path:line[:col]: msg". The path ends at the first colon
// followed by a line number and ": ", so that a colon within the path (a
// Windows drive, C:\) is taken for part of it.
func splitPos(s string) (pos, msg string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != ':' || i == 0 {
			continue
		}
		rest := s[i+1:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 0 {
			continue
		}
		// A column after the line is optional: "a.go:3: msg" and
		// "a.go:3:9: msg" both split after the last number.
		end := i + 1 + j
		if k := strings.IndexByte(s[end:], ':'); k == 0 && end+1 < len(s) && s[end+1] >= '0' && s[end+1] <= '9' {
			end++
			for end < len(s) && s[end] >= '0' && s[end] <= '9' {
				end++
			}
		}
		if strings.HasPrefix(s[end:], ": ") {
			if _, err := strconv.Atoi(rest[:j]); err == nil {
				return s[:end], s[end+2:], true
			}
		}
	}
	return "", "", false
}

// readError words a failure to read a file without repeating its path.
func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot " + pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// matches reports whether the package pkg is one that pattern names when
// resolved from dir. It lets a run say which of several patterns matched
// nothing, which the go command only prints as a warning.
func matches(dir, pattern string, pkg *packages.Package) bool {
	// The go command's meta-patterns are not matched by path here ("all"
	// is the main modules' packages and what they import, "tool" the
	// packages of the tool lines): every package the unit loaded counts as
	// matched, so they are reported only when it loaded none.
	switch pattern {
	case "all", "std", "cmd", "tool", "work":
		return true
	}
	if isRelative(pattern) {
		base := strings.TrimSuffix(strings.TrimSuffix(pattern, "..."), "/")
		if base == "" {
			base = "."
		}
		if !filepath.IsAbs(base) {
			base = filepath.Join(dir, base)
		}
		if pkg.Dir == "" {
			return false
		}
		if !strings.HasSuffix(pattern, "...") {
			return pkg.Dir == base
		}
		return pkg.Dir == base || strings.HasPrefix(pkg.Dir, base+string(filepath.Separator))
	}
	// A test variant or an external test package is matched by the path of
	// the package under test: the pattern named that one.
	path := pkg.PkgPath
	if pkg.ForTest != "" {
		path = pkg.ForTest
	}
	if !strings.Contains(pattern, "...") {
		return path == pattern || pkg.ID == pattern
	}
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\.\.\.`, `.*`)
	// As for the go command, net/... also matches net itself.
	if strings.HasSuffix(pattern, "/...") {
		re = strings.TrimSuffix(re, `/.*`) + `(/.*)?`
	}
	ok, _ := regexp.MatchString("^"+re+"$", path)
	return ok
}
