package engine

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"go/version"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/rules"
)

// The syntactic pass parses every file once, without types, and keeps for
// type-checking only the packages a rule could report on. Type-checking is
// most of the cost of a typed load, and in most code few packages start a
// goroutine or call the functions the rules look for.

// A scan is what the syntactic pass learned about one package.
type scan struct {
	generated []string // generated files among the files the rules report on
	broken    bool     // a file does not read or parse; the typed load reports why

	// What the package's files hold, spelled out without types. The rules
	// match by type; these are what any match needs in the source.
	goStmt   bool            // a go statement
	goMethod bool            // a call x.Go(func() {...}), as errgroup's
	blocks   bool            // an exported function whose body ends in a loop: it may block for ever
	goCall   bool            // a go statement calling a function by name with arguments (go scan(ctx, d))
	calls    map[string]bool // "path.Name": calls of functions of watched packages, through each file's imports
	// instanceCalls and assigns are in methods and in functions returning
	// a type of the package: code that may run once per instance.
	instanceCalls map[string]bool
	assigns       bool // an assignment to a name of an imported package (http.DefaultClient = ...)
	// dotAssigns are the exported names assigned to in files with a dot
	// import, by the dot-imported packages' paths: maybe their variables.
	dotAssigns map[string][]string
	unknown    bool // an import whose package name is unknown: nothing can be ruled out

	// ignores are the //leakfix:ignore comments in the files the rules
	// report on, each with the finding that reports it. In a package no rule
	// needs, those that cannot be honoured, and those that match nothing,
	// are reported without types (run.skip).
	ignores []scannedIgnore
}

// A scannedIgnore is a //leakfix:ignore comment the syntactic pass found,
// with its positions resolved before its file leaves the file set.
type scannedIgnore struct {
	d  *ignore.Directive
	at Finding // its finding, when it is reported; Message is d.Problem then
}

// watched are the packages whose functions some rule's Needs names: calling
// one needs an import of it in the calling file.
//
// It is built from rules.All, not from the enabled rules: a call recorded
// for a rule that does not run costs a map entry, and shows asks only for
// the calls of the rules it is given.
var watched = func() map[string]bool {
	w := map[string]bool{}
	for _, r := range rules.All {
		for _, call := range slices.Concat(r.Needs.Calls, r.Needs.InstanceCalls) {
			w[call[:strings.LastIndex(call, ".")]] = true
		}
	}
	return w
}()

// parseMode is how go/packages parses, so that the typed load can reuse
// what the syntactic pass parsed. The rules need the comments (ignore
// directives, the generated-file marker, the comments a fix keeps in place);
// nothing reads the parser's object resolution, which go/types replaces.
const parseMode = parser.AllErrors | parser.ParseComments | parser.SkipObjectResolution

// scanPackage parses the files of p into fset and returns what it saw and
// the parsed files. contents holds the files' bytes in the order of p.GoFiles
// when they were already read, or nil.
//
// The rules report on the package's own Go files (p.GoFiles) less the
// generated ones and those that use cgo, which the typed load replaces by
// the cgo command's output; they read all of them.
func scanPackage(fset *token.FileSet, p *packages.Package, contents [][]byte) (scan, map[string]*ast.File) {
	s := scan{calls: map[string]bool{}, instanceCalls: map[string]bool{}, dotAssigns: map[string][]string{}}
	files := map[string]*ast.File{}
	var parsed []*ast.File // in order, those without errors
	for i, name := range p.GoFiles {
		var src []byte
		if contents != nil {
			src = contents[i]
		} else {
			var err error
			if src, err = os.ReadFile(name); err != nil {
				s.broken = true
				continue
			}
		}
		f, err := parser.ParseFile(fset, name, src, parseMode)
		if f != nil {
			files[name] = f
		}
		if err != nil {
			s.broken = true
			continue
		}
		parsed = append(parsed, f)
		// Files with import "C" and generated files are still scanned
		// below for what the package holds, as the rules read them too;
		// only their ignore comments are not collected.
		if load.ImportsC(f) {
			continue
		}
		if ast.IsGenerated(f) {
			s.generated = append(s.generated, name)
			continue
		}
		// Most files have no ignore comment: a byte search is cheaper than
		// walking every comment of every file.
		if bytes.Contains(src, []byte("leakfix:ignore")) {
			for _, d := range ignore.Parse(fset, f) {
				s.ignores = append(s.ignores, scannedIgnore{d, invalidFinding(fset, p.PkgPath, d)})
			}
		}
	}
	types := map[string]bool{} // the package's type names
	for _, f := range parsed {
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, spec := range gd.Specs {
					types[spec.(*ast.TypeSpec).Name.Name] = true
				}
			}
		}
	}
	// The type names come from every file first: a constructor in one file
	// may return a type another file declares.
	for _, f := range parsed {
		s.file(p, f, types)
	}
	return s, files
}

// perInstance reports whether fn may run once per instance, as the hook rule
// sees it: a method, or a function that returns a type of its own package
// (a constructor). types are the package's type names.
func perInstance(fn *ast.FuncDecl, types map[string]bool) bool {
	if fn.Recv != nil {
		return true
	}
	// init runs once per process however many instances there are; a
	// function that returns nothing makes no instance.
	if fn.Name.Name == "init" || fn.Type.Results == nil {
		return false
	}
	// func New() *Cache[K, V] and func Open() (*DB, error) both count: the
	// pointer and the type arguments are stripped.
	for _, r := range fn.Type.Results.List {
		t := ast.Unparen(r.Type)
		if star, ok := t.(*ast.StarExpr); ok {
			t = ast.Unparen(star.X)
		}
		switch x := t.(type) { // an instance of a generic type: Cache[K] or Cache[K, V]
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		}
		if id, ok := t.(*ast.Ident); ok && types[id.Name] {
			return true
		}
	}
	return false
}

// file records what f holds. types are the package's type names.
func (s *scan) file(p *packages.Package, f *ast.File, types map[string]bool) {
	// An import without a name is known by the name its package declares,
	// which the listing gives: the path may end otherwise (gopkg.in/yaml.v3
	// declares yaml).
	names := map[string]string{} // name in f → import path
	var dots []string            // packages whose names f uses unqualified
	// Scanning a watched package itself (package time, in a check of std):
	// its own NewTicker(d) calls are unqualified.
	if watched[p.PkgPath] {
		dots = append(dots, p.PkgPath) // a package calls its own functions by bare name
	}
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			s.unknown = true
			continue
		}
		switch {
		case imp.Name != nil && imp.Name.Name == "_": // nothing can be called through it
		case imp.Name != nil && imp.Name.Name == ".":
			dots = append(dots, path)
		case imp.Name != nil:
			names[imp.Name.Name] = path
		case path == "C": // cgo's pseudo-package, which no rule watches
		case p.Imports[path] != nil && p.Imports[path].Name != "":
			names[p.Imports[path].Name] = path
		default:
			// Listed without a name (it did not list): a call through
			// it could be any watched function.
			s.unknown = true
		}
	}
	// dotPaths, unlike dots, leaves out the package itself: an assignment
	// to one of its own variables is not one to another package's.
	var dotPaths []string // of f's dot imports
	for _, imp := range f.Imports {
		if imp.Name != nil && imp.Name.Name == "." {
			if path, err := strconv.Unquote(imp.Path.Value); err == nil {
				dotPaths = append(dotPaths, path)
			}
		}
	}
	var instance bool // inside a function that may run once per instance
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			instance = perInstance(n, types)
			// func CaptureStats(r *Registry, d time.Duration) { for range
			// time.Tick(d) { ... } }: meant to be run with go by its
			// callers, in packages that may not be loaded, so no go
			// statement here shows it. The loop must be the last
			// statement, as the rule requires of a function that blocks.
			if n.Name.IsExported() && n.Body != nil && len(n.Body.List) > 0 {
				switch n.Body.List[len(n.Body.List)-1].(type) {
				case *ast.ForStmt, *ast.RangeStmt:
					s.blocks = true
				}
			}
			// The function is walked here, not by the enclosing Inspect,
			// so that instance holds within it only.
			ast.Inspect(n.Type, walk)
			if n.Body != nil {
				ast.Inspect(n.Body, walk)
			}
			instance = false
			return false
		case *ast.GoStmt:
			s.goStmt = true
			// go scan(ctx, d): in package main the only go statement the
			// loop rule reports (Needs.MainGoCalls), a function handed
			// what may be a context it ignores; go func() { ... }() is not.
			if _, lit := ast.Unparen(n.Call.Fun).(*ast.FuncLit); !lit && len(n.Call.Args) > 0 {
				s.goCall = true
			}
		case *ast.CallExpr:
			switch fun := ast.Unparen(n.Fun).(type) {
			case *ast.SelectorExpr:
				// g.Go(func() error { ... }) of errgroup, conc or
				// sync.WaitGroup: the rules follow such a Go only into a
				// function literal, so g.Go(s.loop) need not count.
				if fun.Sel.Name == "Go" && len(n.Args) == 1 {
					if _, ok := ast.Unparen(n.Args[0]).(*ast.FuncLit); ok {
						s.goMethod = true
					}
				}
				// A local variable that shadows an import's name counts
				// too: keeping a package is always safe.
				if x, ok := fun.X.(*ast.Ident); ok {
					if path := names[x.Name]; watched[path] {
						s.call(path+"."+fun.Sel.Name, instance)
					}
				}
			case *ast.Ident:
				// Tick(Second) in a file that imports . "time": a bare
				// call may be of any dot-imported package, so it counts for
				// every one that is watched.
				for _, path := range dots {
					if watched[path] {
						s.call(path+"."+fun.Name, instance)
					}
				}
			}
		case *ast.AssignStmt:
			// := declares names of its own: it cannot assign another
			// package's variable.
			if !instance || n.Tok == token.DEFINE {
				break
			}
			for _, lhs := range n.Lhs {
				switch lhs := ast.Unparen(lhs).(type) {
				case *ast.SelectorExpr:
					// http.DefaultClient = c; a field of a local variable
					// that shadows the import's name counts too.
					if x, ok := lhs.X.(*ast.Ident); ok && names[x.Name] != "" {
						s.assigns = true
					}
				case *ast.Ident: // a dot-imported name is exported
					if ast.IsExported(lhs.Name) {
						for _, path := range dotPaths {
							s.dotAssigns[path] = append(s.dotAssigns[path], lhs.Name)
						}
					}
				}
			}
		}
		return true
	}
	ast.Inspect(f, walk)
}

// call records a call of the function path.name.
func (s *scan) call(fn string, instance bool) {
	s.calls[fn] = true
	if instance {
		s.instanceCalls[fn] = true
	}
}

// needsTypes reports whether any of the enabled rules could report on p: s
// and the package's imports show what the rule's Needs ask for.
//
// It may keep a package no rule reports on, which costs a type-check, but
// must never rule out one a rule would report on, which would lose the
// finding without a word: what the syntactic pass cannot tell (an import
// whose name is unknown, the variables of a dot import it cannot read)
// keeps the package.
//
// It runs in the Checker's workers, for several packages at once: it reads
// s and p, and asks g, which locks.
func needsTypes(p *packages.Package, s *scan, g *graph, enabled []*rules.Rule) bool {
	if s.unknown {
		return true
	}
	for _, r := range enabled {
		if shows(p, s, g, r.Needs) {
			return true
		}
	}
	return false
}

// shows reports whether p, as the syntactic pass saw it in s, shows what n
// needs (see rules.Needs for what each condition means).
func shows(p *packages.Package, s *scan, g *graph, n rules.Needs) bool {
	// The conditions on the package come first, and each rules it out
	// alone; the conditions on the code are alternatives, any one of which
	// keeps it.
	if n.NotMain && p.Name == "main" || n.MainGoCalls && p.Name == "main" && !s.goCall {
		return false
	}
	if len(n.DependsOn) > 0 && !slices.ContainsFunc(n.DependsOn, func(path string) bool { return g.dependsOn(p, path) }) {
		return false
	}
	// An unknown go line (no module, or none in go.mod) rules the package
	// out, as the rule itself reports nothing then.
	if n.GoBefore != "" && (p.Module == nil || p.Module.GoVersion == "" ||
		version.Compare("go"+p.Module.GoVersion, "go"+n.GoBefore) >= 0) {
		return false
	}
	if !n.Go && !n.BlocksForever && n.Calls == nil && n.InstanceCalls == nil && !n.Assigns {
		return true // no condition on the code
	}
	switch {
	case n.Go && (s.goStmt || s.goMethod),
		n.BlocksForever && s.blocks,
		slices.ContainsFunc(n.Calls, func(c string) bool { return s.calls[c] }),
		slices.ContainsFunc(n.InstanceCalls, func(c string) bool { return s.instanceCalls[c] }),
		n.Assigns && s.assigns:
		return true
	}
	if n.Assigns {
		// An assignment to an exported name in a file with a dot import:
		// a variable of the dot-imported package, unless its listed
		// names say otherwise. DefaultClient = &Client{} under . "net/http"
		// keeps the package; var S string; S = ToUpper(v) under
		// . "strings" does not, as strings declares no variable S.
		for path, names := range s.dotAssigns {
			vars := g.vars(p.Imports[path])
			for _, name := range names {
				if vars == nil || vars[name] {
					return true
				}
			}
		}
	}
	return false
}

// A graph answers questions about the listed import graph.
// Its answers are remembered, and asked from the Checker's workers at once
// (scanOnce): mu guards both maps.
type graph struct {
	mu       sync.Mutex
	deps     map[string]map[*packages.Package]bool // import path → each package asked about → whether it depends on it
	varNames map[*packages.Package]map[string]bool // see vars
}

// newGraph returns a graph that has answered nothing yet.
func newGraph() *graph {
	return &graph{deps: map[string]map[*packages.Package]bool{}, varNames: map[*packages.Package]map[string]bool{}}
}

// vars returns the names of the package-level variables p declares, read
// from its files; nil when they cannot be read.
func (g *graph) vars(p *packages.Package) map[string]bool {
	if p == nil {
		return nil
	}
	g.mu.Lock()
	names, ok := g.varNames[p]
	g.mu.Unlock()
	if ok {
		return names
	}
	// The lock is not held while the files are parsed: two workers may both
	// parse p, and store the same answer. The files are parsed into a file
	// set of their own, since nothing else needs their positions.
	names = map[string]bool{}
	// Only the declarations matter: the files are parsed without comments.
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		// One file that does not parse may hold any variable: nil, which
		// shows takes for "maybe", not an empty set.
		if err != nil {
			names = nil
			break
		}
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, spec := range gd.Specs {
					for _, id := range spec.(*ast.ValueSpec).Names {
						names[id.Name] = true
					}
				}
			}
		}
	}
	g.mu.Lock()
	g.varNames[p] = names
	g.mu.Unlock()
	return names
}

// dependsOn reports whether p is the package path or imports it, directly or
// not.
func (g *graph) dependsOn(p *packages.Package, path string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	memo := g.deps[path]
	if memo == nil {
		memo = map[*packages.Package]bool{}
		g.deps[path] = memo
	}
	var walk func(p *packages.Package) bool
	walk = func(p *packages.Package) bool {
		if v, ok := memo[p]; ok {
			return v
		}
		memo[p] = false // import cycles are errors; this ends the walk on one
		v := p.PkgPath == path
		for _, imp := range p.Imports {
			if walk(imp) {
				v = true
				break
			}
		}
		memo[p] = v
		return v
	}
	return walk(p)
}

// parallel calls f(0), ..., f(n-1) on as many goroutines as there are
// processors. f must be safe to call concurrently; it is never called
// twice for one i. Each worker takes the next i as it finishes one, rather
// than a fixed share: the calls (hashing a package's files, reading a cache
// entry) vary in cost with the size of the package.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				f(j)
			}
		}()
	}
	wg.Wait()
}
