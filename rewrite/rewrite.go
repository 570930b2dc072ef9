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
	// Path is the package's import path. The decorator and the restorer need it
	// to tell the package's own identifiers, which are never qualified, from
	// those of the packages it imports.
	Path  string
	Fset  *token.FileSet
	Files []*ast.File // every parsed file of the package
	// Info must hold Uses, Defs, Types, Scopes, Implicits and Selections: the
	// rewrite resolves every name through it rather than by spelling (an
	// import alias or a local named time must not fool it).
	Info  *types.Info
	Types *types.Package
}

// A Failure is a fix that could not be made, and why. Reason is written for
// the finding's message, so it says what in the code stands in the way, not
// what the rewriter tried.
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
	// Files holds only files the rewrite decorated; one decorated to look a
	// node up and left unchanged comes back printed as it was.
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
//
// A fix the rewrite cannot make for a reason the user can act on is a
// Failure, and the others go on; an error means a plan asked for what the
// rewriter cannot do (a node that is not where the plan says, a type it
// cannot spell), and the whole package is left as it was, since some of its
// files may already be half changed. Apply never changes pkg's syntax trees: every edit is made on
// the dst copies, so callers may apply other subsets of the fixes to the
// same package (fixpkg does, to learn which lines belong to which finding).
func Apply(pkg *Package, fixes []rules.Fix) (*Result, error) {
	rw := &rewriter{
		pkg:     pkg,
		dec:     decorator.NewDecoratorWithImports(pkg.Fset, pkg.Path, gotypes.New(pkg.Info.Uses)),
		files:   map[*ast.File]*dst.File{},
		taken:   map[*ast.FuncDecl]map[string]bool{},
		done:    map[rules.Fix]Done{},
		changed: map[loopKey]bool{},
	}
	// The starts of one method are fixed all or none, before anything is
	// changed: together only filters, so a refused start costs no edit.
	fixes, failures := together(pkg.Fset, fixes)
	var holders []*holder
	byType := map[*types.Named]*holder{}
	for _, fix := range fixes {
		site := fix.Base()
		// An owner whose cleanup already fires a stop signal needs no new state:
		// the loop only learns to honour that signal, and the record names the
		// method that fires it, which is where the report sends the reader.
		if loop, ok := fix.(*rules.Loop); ok && site.Owner != nil && site.Owner.Existing != nil {
			if err := rw.honourOwner(loop); err != nil {
				return nil, err
			}
			rw.done[fix] = Done{Type: site.Owner.Type.Obj().Name(), Method: site.Owner.Existing.By}
			continue
		}
		// Without an owner there is no state to hold and no cleanup to write:
		// each of these fixes is one local edit, made at once.
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
			// A plan type this switch does not know would otherwise be dropped
			// without a word; failing loudly keeps a new rule from shipping a fix
			// that silently does nothing (DESIGN: one decision, one place).
			default:
				err = fmt.Errorf("rewrite: fix plan %T has no owner and no transform", fix)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		// The rest are owned: gather them by owner type, so that all the work of
		// one type gets one set of fields and one cleanup (promise 4). The
		// package's own work (Type nil) is kept apart; its holder goes last.
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
	// own decides for a whole holder: either every fix it holds is made, or
	// none is and they all share the reason.
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
			// The record is what own decided, read back from the holder, so that the
			// report, the verifier and the wiring never work it out again.
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

// A rewriter is one rewrite of one package. Its maps are keyed by the ast
// nodes of Package, which stay untouched; the edits are all made on the
// dst nodes that dec maps them to. touched lists the decorated files in the
// order they were first used, so that restore prints exactly the files a fix
// may have changed; changed marks the loops whose code is already rewritten
// (see first).
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

// keyOf returns the loopKey of l's code. A method's key is the method
// itself, not the go statement, so that every start of it finds the same
// key.
func keyOf(l *rules.Loop) loopKey {
	if l.Method != nil {
		return loopKey{l.Method, l.Stmt.Pos()}
	}
	return loopKey{l.Lit, l.Stmt.Pos()}
}

// first reports whether l's code is not yet changed, and marks it changed.
// Rewriting the same loop twice would give it two stop cases per wait and,
// for a method, a second context parameter, which no longer compiles.
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
		// A fix with no Starts (a literal, or a method started once) is kept as
		// it is; so is every fix that is no *rules.Loop.
		kept = append(kept, fix)
	}
	return kept, failed
}

// embeddedFirst orders holders so that a type comes before every type that
// embeds it.
//
// An exchange sort repeated once per holder, not sort.Slice: embedding is
// only a partial order (most pairs of types are unrelated), which a
// comparison sort does not promise to respect, and a package's holders are
// few.
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
// Only direct embedding counts: a cleanup calls the one it shadows, which
// is the one promoted through a field of its own struct.
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
		// Origin, so that an embedded Store[K] is the generic Store the fix changed.
		if n, ok := types.Unalias(t).(*types.Named); ok && n.Origin() == inner.Origin() {
			return f
		}
	}
	return nil
}

// holds reports whether a variable of type t holds a value of the named
// type owner, directly or through a pointer.
func holds(t types.Type, owner *types.Named) bool {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && owner != nil && n.Origin() == owner
}

// packageValues returns the package's holder, with the package variables
// initialized by a constructor whose loops are fixed (var b = newBridge()),
// or nil when the package has neither loops nor such variables.
//
// Such a variable lives as long as the process, and no code shows where its
// life ends but the package's own: the package's cleanup calls its cleanup,
// or the fix of the value's type would take no effect (promise 10).
func (rw *rewriter) packageValues(holders []*holder, pkg *holder) *holder {
	constructors := map[types.Object]*holder{}
	var anchor *ast.FuncDecl
	for _, h := range holders {
		for _, fix := range h.items {
			// Only free functions: a method starter runs on a value someone already
			// holds, and is not what initializes a package variable.
			if starter := fix.Base().Starter; starter.Recv == nil {
				constructors[rw.pkg.Info.Defs[starter.Name]] = h
				// The package's cleanup goes after the first such constructor when the
				// package has no loop of its own to put it beside.
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
					// var a, b = newA(), newB() pairs names and values one to one; var b, err
					// = newB() has one value for two names, and the first is the owner.
					// A value assigned to _ has no name to call its cleanup by.
					c, ok := ast.Unparen(v).(*ast.CallExpr)
					if !ok || i >= len(vs.Names) || vs.Names[i].Name == "_" {
						continue
					}
					id := calleeIdent(c)
					if id == nil || constructors[rw.pkg.Info.Uses[id]] == nil {
						continue
					}
					// Only a variable of the owner's own type has its
					// cleanup: var Default Store = NewMemory() holds an
					// interface the new method is not in, and calling it
					// there would not compile. Such a value's work runs on as
					// it did, and the wiring report says the call is not
					// wired.
					h := constructors[rw.pkg.Info.Uses[id]]
					if v := rw.pkg.Info.Defs[vs.Names[i]]; v == nil || !holds(v.Type(), h.typ) {
						continue
					}
					values = append(values, value{name: vs.Names[i].Name, h: h})
				}
			}
		}
	}
	if len(values) == 0 {
		// No values: the package's holder is what its own loops made of it, or
		// nil when it has none.
		return pkg
	}
	if pkg == nil {
		pkg = &holder{free: rw.freeOn(nil), anchor: anchor}
	}
	pkg.values = values
	return pkg
}

// calleeIdent returns the identifier naming a call's function, or nil.
// Only plain names: the constructors packageValues looks for are free
// functions of this package, called by name; pkg.New() is another
// package's, whose fixes are not this rewrite's.
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
// Files are decorated on first use, and only those are printed: a file no
// fix reaches is never printed again. A file must be decorated only once,
// since dec.Dst.Nodes maps each ast node to the dst node of the last
// decoration, and edits made to an earlier copy would be lost.
func (rw *rewriter) file(n ast.Node) (*dst.File, error) {
	for _, f := range rw.pkg.Files {
		// FileStart and FileEnd span the whole file, where Pos and End stop at
		// the package clause and at the end of the last declaration.
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
// Every edit reaches the code through this map, never by matching text,
// so that the node a rule found on the type-checked ast is the one that
// changes.
func (rw *rewriter) node(n ast.Node) (dst.Node, error) {
	if _, err := rw.file(n); err != nil {
		return nil, err
	}
	d, ok := rw.dec.Dst.Nodes[n]
	// A node the plan made up (not from the parsed files) has no dst twin;
	// saying so beats a nil dereference deep in a transform.
	if !ok {
		return nil, fmt.Errorf("no decorated node at %s", rw.pkg.Fset.Position(n.Pos()))
	}
	return d, nil
}

// restore prints every touched file. It also returns the packages the new
// code imports that its file did not.
//
// Imports are added by addImports before printing, in the groups the
// file's authors chose; the restorer's own import management would sort
// them into its own layout (promise 5: the diff stays small).
func (rw *rewriter) restore() (map[string][]byte, []string, error) {
	names := newImportNames(rw.pkg.Types)
	out := map[string][]byte{}
	var imports []string
	for _, f := range rw.touched {
		name := rw.pkg.Fset.File(f.Pos()).Name()
		for _, path := range addImports(rw.files[f], rw.pkg.Path) {
			// The verifier type-checks the result against the packages MayImport
			// names, and only those are loaded for it; an import outside that list
			// means the rewriter built a node it did not mean to, and the result
			// could not be checked.
			if !slices.Contains(MayImport, path) {
				return nil, nil, fmt.Errorf("print %s: the new code imports %s, which the rewriter never adds", name, path)
			}
			if !slices.Contains(imports, path) {
				imports = append(imports, path)
			}
		}
		r := decorator.NewRestorerWithImports(rw.pkg.Path, names).FileRestorer()
		// Where a parameter or a local hides a package the new code names
		// (context context.Context), the file imports it under another name.
		r.Alias = rw.unshadowed(f, rw.files[f])
		var buf bytes.Buffer
		if err := r.Fprint(&buf, rw.files[f]); err != nil {
			return nil, nil, fmt.Errorf("print %s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	// Sorted, so that the report and the verifier see the same list on every
	// run.
	slices.Sort(imports)
	return out, imports, nil
}

// importNames resolves import paths to package names from the type-checked
// imports, so the restorer never has to guess.
type importNames map[string]string

// ResolvePackage implements the restorer's package resolver: the name a
// package declares, which the restorer needs to tell whether an import needs an
// alias; guessing it from the path is wrong for gopkg.in/yaml.v3 or
// github.com/x/go-redis.
func (m importNames) ResolvePackage(path string) (string, error) {
	if name, ok := m[path]; ok {
		return name, nil
	}
	// Only the standard library packages the fix adds are missing.
	return path[strings.LastIndex(path, "/")+1:], nil
}

// newImportNames maps every import of pkg, by path, to its package name.
func newImportNames(pkg *types.Package) importNames {
	m := importNames{}
	for _, imp := range pkg.Imports() {
		m[imp.Path()] = imp.Name()
		// In GOPATH mode a vendored package's path keeps its vendor/ prefix,
		// while the import spec the restorer resolves spells the path without it.
		if i := strings.LastIndex(imp.Path(), "/vendor/"); i >= 0 {
			m[imp.Path()[i+len("/vendor/"):]] = imp.Name()
		}
	}
	return m
}
