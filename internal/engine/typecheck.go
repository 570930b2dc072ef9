package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/tools/go/gcexportdata"
	"golang.org/x/tools/go/packages"
)

// The packages that need types are type-checked from source, each with
// every import read from export data, even the import of another package
// that is checked too; the export data of a dependency is read once and
// shared (exportView). go/packages would check such an import from
// source first, so that net, crypto/tls and net/http are checked one after
// the other; here they are checked side by side, on every core. One go list
// run gives the export data of their dependencies (and the cgo output of
// packages that use cgo). A package this cannot handle (a dependency without
// export data, files named on the command line) is loaded with go/packages.

// A listedPackage is what go list -export says of a package.
type listedPackage struct {
	ImportPath      string
	Dir             string
	Export          string
	CompiledGoFiles []string
	Imports         []string              // the packages imported, cgo's output included
	ImportMap       map[string]string     // import path in the source → ImportPath, where they differ
	Error           *struct{ Err string } // why the package does not build, when it does not
}

// builds reports whether go list built p: its export data exists, so the
// package and its dependencies compile.
func (lp *listedPackage) builds() bool {
	return lp != nil && lp.Export != "" && lp.Error == nil
}

// exportData runs go list -export on the dependencies of pkgs and returns
// the packages by ID, and the type sizes of the target platform.
func exportData(ctx context.Context, dir string, pkgs []*packages.Package, opts Options, env []string) (map[string]*listedPackage, types.Sizes, error) {
	var paths []string
	seen := map[string]bool{}
	for _, p := range pkgs {
		path := p.PkgPath
		if p.ForTest != "" {
			path = p.ForTest
		}
		if path == "command-line-arguments" {
			continue // cannot be named as a package again
		}
		if !seen[path] {
			seen[path] = true
			paths = append(paths, path)
		}
	}
	if len(paths) == 0 {
		return nil, nil, nil
	}
	var (
		wg       sync.WaitGroup
		sizes    types.Sizes
		sizesErr error
	)
	wg.Go(func() { sizes, sizesErr = sizesFor(ctx, dir, env) })
	args := []string{"list", "-e", "-json=ImportPath,Dir,Export,CompiledGoFiles,Imports,ImportMap,Error", "-export", "-compiled", "-deps",
		"-pgo=off", "-buildvcs=false", fmt.Sprintf("-test=%t", opts.Tests)}
	args = append(args, opts.BuildFlags...)
	args = append(args, "--")
	out, err := goCmd(ctx, dir, env, append(args, paths...)...)
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	if sizesErr != nil {
		return nil, nil, sizesErr
	}
	listed := map[string]*listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		p := new(listedPackage)
		if err := dec.Decode(p); err != nil {
			return nil, nil, fmt.Errorf("go list: %w", err)
		}
		listed[p.ImportPath] = p
	}
	return listed, sizes, nil
}

// sizesFor returns the type sizes of the platform env builds for.
func sizesFor(ctx context.Context, dir string, env []string) (types.Sizes, error) {
	arch, err := goCmd(ctx, dir, env, "env", "GOARCH")
	if err != nil {
		return nil, err
	}
	return types.SizesFor("gc", strings.TrimSpace(string(arch))), nil
}

// exported returns what go list -export said of roots and everything they
// import, from a listing that asked for export data: the same as exportData
// would, without running go list again.
func exported(roots []*packages.Package) map[string]*listedPackage {
	listed := map[string]*listedPackage{}
	packages.Visit(roots, nil, func(p *packages.Package) {
		lp := &listedPackage{ImportPath: p.ID, Dir: p.Dir, Export: p.ExportFile, CompiledGoFiles: p.CompiledGoFiles}
		for path, imp := range p.Imports {
			lp.Imports = append(lp.Imports, imp.ID)
			if path != imp.ID {
				if lp.ImportMap == nil {
					lp.ImportMap = map[string]string{}
				}
				lp.ImportMap[path] = imp.ID
			}
		}
		if len(p.Errors) > 0 {
			lp.Error = &struct{ Err string }{p.Errors[0].Msg}
		}
		listed[p.ID] = lp
	})
	return listed
}

// goCmd runs the go command in dir with the environment env.
func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	goRuns.Add(1)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// An exportView holds the packages read from export data, shared by the
// packages type-checked side by side, so that each dependency's export data
// is read once, as go/packages does. Reading is serialised; the packages it
// gives may be used by several type-checkers at once.
type exportView struct {
	mu   sync.Mutex
	pkgs map[string]*types.Package // by path
}

func newExportView() *exportView {
	return &exportView{pkgs: map[string]*types.Package{}}
}

// load returns the package path from its export data in file.
func (v *exportView) load(fset *token.FileSet, path, file string) (*types.Package, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if tp := v.pkgs[path]; tp != nil && tp.Complete() {
		return tp, nil
	}
	return readExport(fset, v.pkgs, path, file)
}

// checkOne type-checks p, or returns nil when some import has no export
// data or p is not in listed. Its imports come from shared, except in a
// test variant or a package that imports one: a test variant has the path
// of the package it varies, with other export data, so such a package
// reads its imports into a view of its own.
//
// With local, an import that local holds (by ID) is that package's types,
// not its export data, and the result's Imports lead to what was imported:
// local's packages, or packages holding the types read from export data.
func checkOne(p *packages.Package, listed map[string]*listedPackage, sizes types.Sizes, fset *token.FileSet, parsed parseFunc, shared *exportView, local map[string]*packages.Package) *packages.Package {
	lp := listed[p.ID]
	if lp == nil || sizes == nil {
		return nil
	}
	for _, id := range lp.Imports {
		// cgo's output, which is checked, imports no "C".
		if id != "unsafe" && id != "C" && (listed[id] == nil || listed[id].Export == "") {
			return nil
		}
	}
	t := &packages.Package{
		ID:           p.ID,
		Name:         p.Name,
		PkgPath:      p.PkgPath,
		Dir:          p.Dir,
		GoFiles:      p.GoFiles,
		OtherFiles:   p.OtherFiles,
		IgnoredFiles: p.IgnoredFiles,
		Imports:      p.Imports,
		Module:       p.Module,
		ForTest:      p.ForTest,
		Fset:         fset,
		TypesSizes:   sizes,
		TypesInfo:    fullInfo(),
	}
	t.CompiledGoFiles = make([]string, len(lp.CompiledGoFiles))
	for i, name := range lp.CompiledGoFiles {
		if !filepath.IsAbs(name) {
			name = filepath.Join(lp.Dir, name)
		}
		t.CompiledGoFiles[i] = name
	}
	addError := func(err error) {
		var list scanner.ErrorList
		var terr types.Error
		switch {
		case errors.As(err, &list):
			for _, e := range list {
				t.Errors = append(t.Errors, packages.Error{Pos: e.Pos.String(), Msg: e.Msg, Kind: packages.ParseError})
			}
		case errors.As(err, &terr):
			t.Errors = append(t.Errors, packages.Error{Pos: terr.Fset.Position(terr.Pos).String(), Msg: terr.Msg, Kind: packages.TypeError})
		default:
			t.Errors = append(t.Errors, packages.Error{Pos: "-", Msg: err.Error(), Kind: packages.UnknownError})
		}
	}
	for _, name := range t.CompiledGoFiles {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Errors = append(t.Errors, packages.Error{Pos: name + ":1", Msg: err.Error(), Kind: packages.ParseError})
			continue
		}
		f, err := parsed(fset, name, src)
		if err != nil {
			addError(err)
		}
		if f != nil {
			t.Syntax = append(t.Syntax, f)
		}
	}

	view := shared
	if p.ForTest != "" || strings.Contains(p.ID, " [") || importsVariant(listed, lp) {
		view = newExportView()
	}
	imported := map[string]*types.Package{} // by import path in the source
	conf := &types.Config{
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if path == "unsafe" {
				imported[path] = types.Unsafe
				return types.Unsafe, nil
			}
			id := path
			if mapped, ok := lp.ImportMap[path]; ok {
				id = mapped
			}
			if l := local[id]; l != nil {
				imported[path] = l.Types
				return l.Types, nil
			}
			imp := listed[id]
			if imp == nil || imp.Export == "" {
				return nil, fmt.Errorf("no export data for %s", path)
			}
			pkgPath, _, _ := strings.Cut(id, " ") // a test variant's ID is "path [p.test]"
			tp, err := view.load(fset, pkgPath, imp.Export)
			if err == nil {
				imported[path] = tp
			}
			return tp, err
		}),
		Error: addError,
		Sizes: sizes,
	}
	if p.Module != nil && p.Module.GoVersion != "" {
		conf.GoVersion = "go" + p.Module.GoVersion
	}
	t.Types = types.NewPackage(p.PkgPath, p.Name)
	err := types.NewChecker(conf, fset, t.Types, t.TypesInfo).Files(t.Syntax)
	if err != nil && len(t.Errors) == 0 {
		addError(err)
	}
	if local != nil {
		t.Imports = map[string]*packages.Package{}
		for path, dep := range p.Imports {
			if l := local[dep.ID]; l != nil {
				t.Imports[path] = l
			} else {
				t.Imports[path] = &packages.Package{ID: dep.ID, Name: dep.Name, PkgPath: dep.PkgPath, Module: dep.Module, Types: imported[path]}
			}
		}
	}
	return t
}

// checkFromSource type-checks pkgs from their source files (their content
// in overlay, for the files it holds), in dependency order, each against
// the others' new types and everything else's export data, as go/packages
// loads the packages its patterns match. Export data that names one of
// pkgs is given its new types too. It returns the typed
// packages by ID, or nil when one of them cannot be checked this way (a
// test variant, a dependency without export data, an error): go/packages
// then loads them.
func checkFromSource(pkgs []*packages.Package, listed map[string]*listedPackage, sizes types.Sizes, overlay map[string][]byte) map[string]*packages.Package {
	in := map[string]*packages.Package{}
	for _, p := range pkgs {
		if p.ForTest != "" || strings.Contains(p.ID, " [") || listed[p.ID] == nil {
			return nil
		}
		in[p.ID] = p
	}
	var order []*packages.Package
	seen := map[string]bool{}
	var visit func(p *packages.Package)
	visit = func(p *packages.Package) {
		if seen[p.ID] {
			return
		}
		seen[p.ID] = true
		for _, dep := range p.Imports {
			if in[dep.ID] != nil {
				visit(in[dep.ID])
			}
		}
		order = append(order, p)
	}
	for _, p := range pkgs {
		visit(p)
	}
	fset := token.NewFileSet()
	view := newExportView()
	typed := map[string]*packages.Package{}
	parse := func(fs *token.FileSet, filename string, src []byte) (*ast.File, error) {
		if content, ok := overlay[filename]; ok {
			src = content
		}
		return parser.ParseFile(fs, filename, src, parser.AllErrors|parser.ParseComments) // as go/packages parses
	}
	for _, p := range order {
		t := checkOne(p, listed, sizes, fset, parse, view, typed)
		if t == nil || len(t.Errors) > 0 {
			return nil
		}
		typed[p.ID] = t
		view.mu.Lock()
		view.pkgs[p.PkgPath] = t.Types
		view.mu.Unlock()
	}
	return typed
}

// importsVariant reports whether a listed package imports a test variant,
// directly or not.
func importsVariant(listed map[string]*listedPackage, lp *listedPackage) bool {
	seen := map[string]bool{}
	var visit func(lp *listedPackage) bool
	visit = func(lp *listedPackage) bool {
		for _, id := range lp.Imports {
			if strings.Contains(id, " [") {
				return true
			}
			if dep := listed[id]; dep != nil && !seen[id] {
				seen[id] = true
				if visit(dep) {
					return true
				}
			}
		}
		return false
	}
	return visit(lp)
}

// readExport reads the export data of package path from file into view.
func readExport(fset *token.FileSet, view map[string]*types.Package, path, file string) (*types.Package, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := gcexportdata.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("reading export data for %s: %w", path, err)
	}
	tp, err := gcexportdata.Read(r, fset, view, path)
	if err != nil {
		return nil, fmt.Errorf("reading export data for %s: %w", path, err)
	}
	return tp, nil
}
