// Package rewrite turns the rules' fix plans into edited source with dst, so
// that comments stay where they were and imports are managed for us.
package rewrite

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dave/dst"
	"github.com/dave/dst/decorator"
	"github.com/dave/dst/decorator/resolver/gotypes"

	"github.com/leakfix/leakfix/rules"
)

// Package is a type-checked package as the rewriter needs it.
type Package struct {
	Path  string
	Fset  *token.FileSet
	Files []*ast.File // every parsed file of the package
	Info  *types.Info
	Types *types.Package
}

// A Failure is a fix that could not be made, and why.
type Failure struct {
	Fix    rules.Fix
	Reason string
}

// Done is what the rewriter did for one fix: the one record that reports,
// the migration advice and wiring read, so that none of them has to guess
// what the rewrite decided.
type Done struct {
	// Type is the owner type that now holds the work's state; "" when the
	// package holds it, or when the work honours a context.
	Type string
	// Method is the cleanup that now stops the work: a method of Type, or a
	// package function when Type is "". It is "" when the work honours a
	// context (Ctx) or needs no cleanup (a ticker stopped where it is made).
	Method string
	// Added says Method was generated; otherwise an existing one was extended.
	Added bool
	// Ctx names the context the work now honours.
	Ctx string
}

// A Result is the rewritten package: the new content of every changed file
// keyed by file name, what was done for each fix made, and the fixes that
// could not be made.
type Result struct {
	Files    map[string][]byte
	Done     map[rules.Fix]Done
	Failures []Failure
	// Imports are the packages the new code imports that its file did not.
	Imports []string
}

// MayImport lists every package the rewriter's new code can import. A file
// may gain an import of these and of no other package.
var MayImport = []string{"context", "os/signal", "sync", "time"}

// Apply rewrites pkg according to the fix plans. Callers verify the result
// as a whole before writing it.
func Apply(pkg *Package, fixes []rules.Fix) (*Result, error) {
	rw := &rewriter{
		pkg:     pkg,
		dec:     decorator.NewDecoratorWithImports(pkg.Fset, pkg.Path, gotypes.New(pkg.Info.Uses)),
		files:   map[*ast.File]*dst.File{},
		taken:   map[*ast.FuncDecl]map[string]bool{},
		done:    map[rules.Fix]Done{},
		changed: map[loopKey]bool{},
	}
	fixes, failures := together(pkg.Fset, fixes)
	var holders []*holder
	byType := map[*types.Named]*holder{}
	for _, fix := range fixes {
		site := fix.Base()
		if loop, ok := fix.(*rules.Loop); ok && site.Owner != nil && site.Owner.Existing != nil {
			if err := rw.honourOwner(loop); err != nil {
				return nil, err
			}
			rw.done[fix] = Done{Type: site.Owner.Type.Obj().Name(), Method: site.Owner.Existing.By}
			continue
		}
		if site.Owner == nil {
			var err error
			switch fix := fix.(type) {
			case *rules.Loop:
				err = rw.honourCtx(fix)
				rw.done[fix] = Done{Ctx: fix.Ctx}
			case *rules.TickerStop:
				err = rw.stopTicker(fix)
				rw.done[fix] = Done{}
			case *rules.ContextVariant:
				err = rw.contextVariant(fix)
				rw.done[fix] = Done{}
			case *rules.SignalStop:
				err = rw.stopSignal(fix)
				rw.done[fix] = Done{}
			default:
				err = fmt.Errorf("rewrite: fix plan %T has no owner and no transform", fix)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		h := byType[site.Owner.Type]
		if h == nil {
			h = &holder{typ: site.Owner.Type, free: rw.freeOn(site.Owner.Type)}
			byType[site.Owner.Type] = h
			if site.Owner.Type != nil {
				holders = append(holders, h)
			}
		}
		h.items = append(h.items, fix)
	}
	// A type's work is owned before that of the types embedding it, whose
	// cleanup may have to call the embedded one's.
	holders = embeddedFirst(holders)
	rw.holders = holders
	// The package's cleanup comes last: it calls the cleanup of owners
	// that package variables hold.
	if pkg := rw.packageValues(holders, byType[nil]); pkg != nil {
		holders = append(holders, pkg)
	}
	for _, h := range holders {
		why, err := rw.own(h)
		if err != nil {
			return nil, err
		}
		for _, fix := range h.items {
			if why != "" {
				failures = append(failures, Failure{Fix: fix, Reason: why})
				continue
			}
			d := Done{Method: h.cleanup, Added: h.added}
			if h.typ != nil {
				d.Type = h.typ.Obj().Name()
			}
			rw.done[fix] = d
		}
	}
	out, imports, err := rw.restore()
	if err != nil {
		return nil, err
	}
	return &Result{Files: out, Done: rw.done, Failures: failures, Imports: imports}, nil
}

type rewriter struct {
	pkg     *Package
	dec     *decorator.Decorator
	files   map[*ast.File]*dst.File
	touched []*ast.File
	taken   map[*ast.FuncDecl]map[string]bool // identifiers used in a function, plus those we added
	done    map[rules.Fix]Done
	holders []*holder // the owner types of this rewrite, embedded types first
	changed map[loopKey]bool
}

// A loopKey names a loop's code: the function it runs in and where the loop
// starts. The starts of one method (rules.Loop.Starts) are different fixes
// of the same code, which is changed once.
type loopKey struct {
	fn   ast.Node
	loop token.Pos
}

func keyOf(l *rules.Loop) loopKey {
	if l.Method != nil {
		return loopKey{l.Method, l.Stmt.Pos()}
	}
	return loopKey{l.Lit, l.Stmt.Pos()}
}

// first reports whether l's code is not yet changed, and marks it changed.
func (rw *rewriter) first(l *rules.Loop) bool {
	if rw.changed[keyOf(l)] {
		return false
	}
	rw.changed[keyOf(l)] = true
	return true
}

// together keeps the fixes of a method's starts (rules.Loop.Starts) only
// where every start is being fixed: they change the method together, and
// one alone would leave the others' go statements not compiling, or a
// WaitGroup the others never add to.
func together(fset *token.FileSet, fixes []rules.Fix) ([]rules.Fix, []Failure) {
	starts := map[ast.Stmt]bool{}
	for _, fix := range fixes {
		if l, ok := fix.(*rules.Loop); ok {
			starts[l.Start] = true
		}
	}
	var kept []rules.Fix
	var failed []Failure
	for _, fix := range fixes {
		l, ok := fix.(*rules.Loop)
		if ok {
			if i := slices.IndexFunc(l.Starts, func(g *ast.GoStmt) bool { return !starts[g] }); i >= 0 {
				p := fset.Position(l.Starts[i].Pos())
				failed = append(failed, Failure{Fix: fix, Reason: fmt.Sprintf("the loop's method %s is also started at %s:%d, which is not being fixed",
					l.Method.Name.Name, filepath.Base(p.Filename), p.Line)})
				continue
			}
		}
		kept = append(kept, fix)
	}
	return kept, failed
}

// embeddedFirst orders holders so that a type comes before every type that
// embeds it.
func embeddedFirst(holders []*holder) []*holder {
	out := slices.Clone(holders)
	for range out {
		for i := 0; i+1 < len(out); i++ {
			for j := i + 1; j < len(out); j++ {
				if embeds(out[i].typ, out[j].typ) {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
	}
	return out
}

// embeds reports whether the struct type outer embeds inner or *inner.
func embeds(outer, inner *types.Named) bool {
	return embeddedField(outer, inner) != nil
}

// embeddedField returns outer's embedded field of type inner or *inner.
func embeddedField(outer, inner *types.Named) *types.Var {
	if outer == nil || inner == nil {
		return nil
	}
	st, ok := outer.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	for i := range st.NumFields() {
		f := st.Field(i)
		if !f.Embedded() {
			continue
		}
		t := f.Type()
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		if n, ok := types.Unalias(t).(*types.Named); ok && n.Origin() == inner.Origin() {
			return f
		}
	}
	return nil
}

// packageValues returns the package's holder, with the package variables
// initialized by a constructor whose loops are fixed (var b = newBridge()),
// or nil when the package has neither loops nor such variables.
func (rw *rewriter) packageValues(holders []*holder, pkg *holder) *holder {
	constructors := map[types.Object]*holder{}
	var anchor *ast.FuncDecl
	for _, h := range holders {
		for _, fix := range h.items {
			if starter := fix.Base().Starter; starter.Recv == nil {
				constructors[rw.pkg.Info.Defs[starter.Name]] = h
				if anchor == nil {
					anchor = starter
				}
			}
		}
	}
	var values []value
	for _, f := range rw.pkg.Files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					c, ok := ast.Unparen(v).(*ast.CallExpr)
					if !ok || i >= len(vs.Names) || vs.Names[i].Name == "_" {
						continue
					}
					if id := calleeIdent(c); id != nil && constructors[rw.pkg.Info.Uses[id]] != nil {
						values = append(values, value{name: vs.Names[i].Name, h: constructors[rw.pkg.Info.Uses[id]]})
					}
				}
			}
		}
	}
	if len(values) == 0 {
		return pkg
	}
	if pkg == nil {
		pkg = &holder{free: rw.freeOn(nil), anchor: anchor}
	}
	pkg.values = values
	return pkg
}

// calleeIdent returns the identifier naming a call's function, or nil.
func calleeIdent(c *ast.CallExpr) *ast.Ident {
	switch fun := ast.Unparen(c.Fun).(type) {
	case *ast.Ident:
		return fun
	case *ast.IndexExpr: // a generic constructor: newCache[string](...)
		if id, ok := fun.X.(*ast.Ident); ok {
			return id
		}
	case *ast.IndexListExpr:
		if id, ok := fun.X.(*ast.Ident); ok {
			return id
		}
	}
	return nil
}

// file returns the decorated file holding n, decorating it on first use.
func (rw *rewriter) file(n ast.Node) (*dst.File, error) {
	for _, f := range rw.pkg.Files {
		if f.FileStart <= n.Pos() && n.Pos() < f.FileEnd {
			if df, ok := rw.files[f]; ok {
				return df, nil
			}
			df, err := rw.dec.DecorateFile(f)
			if err != nil {
				return nil, fmt.Errorf("decorate %s: %w", rw.pkg.Fset.File(f.Pos()).Name(), err)
			}
			rw.files[f] = df
			rw.touched = append(rw.touched, f)
			return df, nil
		}
	}
	return nil, fmt.Errorf("no file holds %s", rw.pkg.Fset.Position(n.Pos()))
}

// node returns the dst node for an ast node, decorating its file if needed.
func (rw *rewriter) node(n ast.Node) (dst.Node, error) {
	if _, err := rw.file(n); err != nil {
		return nil, err
	}
	d, ok := rw.dec.Dst.Nodes[n]
	if !ok {
		return nil, fmt.Errorf("no decorated node at %s", rw.pkg.Fset.Position(n.Pos()))
	}
	return d, nil
}

// restore prints every touched file. It also returns the packages the new
// code imports that its file did not.
func (rw *rewriter) restore() (map[string][]byte, []string, error) {
	names := newImportNames(rw.pkg.Types)
	out := map[string][]byte{}
	var imports []string
	for _, f := range rw.touched {
		name := rw.pkg.Fset.File(f.Pos()).Name()
		for _, path := range addImports(rw.files[f], rw.pkg.Path) {
			if !slices.Contains(MayImport, path) {
				return nil, nil, fmt.Errorf("print %s: the new code imports %s, which the rewriter never adds", name, path)
			}
			if !slices.Contains(imports, path) {
				imports = append(imports, path)
			}
		}
		r := decorator.NewRestorerWithImports(rw.pkg.Path, names).FileRestorer()
		r.Alias = rw.unshadowed(f, rw.files[f])
		var buf bytes.Buffer
		if err := r.Fprint(&buf, rw.files[f]); err != nil {
			return nil, nil, fmt.Errorf("print %s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	slices.Sort(imports)
	return out, imports, nil
}

// importNames resolves import paths to package names from the type-checked
// imports, so the restorer never has to guess.
type importNames map[string]string

func (m importNames) ResolvePackage(path string) (string, error) {
	if name, ok := m[path]; ok {
		return name, nil
	}
	// Only the standard library packages the fix adds are missing.
	return path[strings.LastIndex(path, "/")+1:], nil
}

func newImportNames(pkg *types.Package) importNames {
	m := importNames{}
	for _, imp := range pkg.Imports() {
		m[imp.Path()] = imp.Name()
		if i := strings.LastIndex(imp.Path(), "/vendor/"); i >= 0 {
			m[imp.Path()[i+len("/vendor/"):]] = imp.Name()
		}
	}
	return m
}
