package rules

import (
	"go/ast"
	"go/types"
	"reflect"
	"strings"
)

// This file decides which work lives as long as the process: reached only
// from main or a command-line command's action.

// commandFields are the fields of CLI command types whose functions run a
// command: work they start lives as long as the process, like main's.
var commandFields = map[string]bool{
	"Run": true, "RunE": true, "PreRun": true, "PreRunE": true, "PersistentPreRun": true,
	"PersistentPreRunE": true, "Action": true, "Before": true,
}

// commandActions records the functions a cobra or urfave/cli command literal
// runs as its action.
func (f *loopFinder) commandActions(lit *ast.CompositeLit) {
	// By type, not spelling: an aliased import of cobra counts. The prefix
	// takes urfave/cli at every major version (cli, cli/v2, cli/v3).
	t := derefType(f.pass.Info.TypeOf(lit))
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return
	}
	path := n.Obj().Pkg().Path()
	if !(path == "github.com/spf13/cobra" && n.Obj().Name() == "Command") &&
		!(strings.HasPrefix(path, "github.com/urfave/cli") && (n.Obj().Name() == "Command" || n.Obj().Name() == "App")) {
		return
	}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if key, ok := kv.Key.(*ast.Ident); !ok || !commandFields[key.Name] {
			continue
		}
		// RunE: func(cmd *cobra.Command, args []string) error { ... } is
		// code in place; RunE: runServe names a function, which
		// processCalls marks along with what only it calls. A method value
		// (RunE: o.run) is neither, and is not followed.
		switch v := ast.Unparen(kv.Value).(type) {
		case *ast.FuncLit:
			f.process = append(f.process, v)
		case *ast.Ident:
			if fn, ok := f.pass.Info.Uses[v].(*types.Func); ok {
				f.processFuncs = append(f.processFuncs, fn)
			}
		}
	}
}

// processWide reports whether n, in fn, runs for the life of the process:
// inside a command's action, or in a function that only command actions
// call.
func (f *loopFinder) processWide(fn *ast.FuncDecl, n ast.Node) bool {
	if obj, ok := f.pass.Info.Defs[fn.Name].(*types.Func); ok && f.processOnly[obj] {
		return true
	}
	for _, p := range f.process {
		if p.Pos() <= n.Pos() && n.End() <= p.End() {
			return true
		}
	}
	return false
}

// commandTags are the struct tag keys that mark a command-line struct: kong
// (and go-arg) read them, and kong runs the chosen command by calling its
// Run method from main.
var commandTags = []string{"cmd", "arg", "help"}

// isCommandRun reports whether fn is the Run method of a command-line struct
// (a field tagged cmd:, arg: or help:), which runs a command for the life of
// the process, as a cobra command's RunE does. The field that makes the
// struct a subcommand is often declared in package main, out of sight, but
// the command's own flags carry the tags.
func isCommandRun(info *types.Info, fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) == 0 || fn.Name.Name != "Run" {
		return false
	}
	t := derefType(info.TypeOf(fn.Recv.List[0].Type))
	// A receiver whose type did not check has no type to read.
	if t == nil {
		return false
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	// One tagged field is enough: type ServeCmd struct { Addr string
	// `help:"listen address"` } is a command whatever else it holds.
	for i := range st.NumFields() {
		tag := reflect.StructTag(st.Tag(i))
		for _, key := range commandTags {
			if _, ok := tag.Lookup(key); ok {
				return true
			}
		}
	}
	return false
}

// processCalls computes f.processOnly from the call graph: the command
// actions, and then every unexported function of the package that is
// referred to only from code already known to run for the process's life
// (func electCommandFunc(...) { observe(...) }, where nothing else calls
// observe). Methods are left out: an interface call reaches them without
// naming them, so their references do not show every caller. Work such a
// function starts lives as long as the command, like main's.
func (f *loopFinder) processCalls() {
	info := f.pass.Info
	for obj, fn := range f.methods {
		if isCommandRun(info, fn) {
			f.processOnly[obj] = true
		}
	}
	for _, obj := range f.processFuncs {
		f.processOnly[obj] = true
	}
	// refs[fn] are the functions whose bodies name fn; nil stands for code
	// outside any function body (a package variable's initializer) and for
	// code in a command literal, told apart by inProcess.
	type ref struct {
		from      *types.Func
		inProcess bool
	}
	refs := map[*types.Func][]ref{}
	for _, file := range f.pass.AllFiles {
		for _, decl := range file.Decls {
			var from *types.Func
			if fn, ok := decl.(*ast.FuncDecl); ok {
				from, _ = info.Defs[fn.Name].(*types.Func)
			}
			// Only a call runs the function where it is named: a function
			// passed as a value (http.HandleFunc("/", serve) in a command)
			// may run many times, for as long as whoever holds it.
			// Inspect meets a call before its function, so the callee is
			// marked before its identifier is visited below.
			called := map[*ast.Ident]bool{}
			ast.Inspect(decl, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
						called[id] = true
					}
				}
				id, ok := n.(*ast.Ident)
				if !ok {
					return true
				}
				obj, ok := info.Uses[id].(*types.Func)
				if !ok || obj.Pkg() != f.pass.Pkg {
					return true
				}
				in := false
				for _, p := range f.process {
					if p.Pos() <= id.Pos() && id.End() <= p.End() {
						in = true
					}
				}
				r := ref{from, in}
				if !called[id] {
					r = ref{} // as if named outside any function
				}
				refs[obj.Origin()] = append(refs[obj.Origin()], r)
				return true
			})
		}
	}
	// Until nothing changes: a function becomes process-only once all its
	// callers are, which may be learnt in a later round (observe called by
	// elect, itself called by a command). Marks are only added, so the
	// result does not depend on map order. An exported function may be
	// called from another package, out of view.
	for changed := true; changed; {
		changed = false
		for obj, rs := range refs {
			if f.processOnly[obj] || obj.Exported() || obj.Type().(*types.Signature).Recv() != nil || f.methods[obj] == nil {
				continue
			}
			all, outside := true, false
			for _, r := range rs {
				if r.from == obj {
					continue // recursion: the outside callers decide
				}
				outside = true
				if !r.inProcess && (r.from == nil || !f.processOnly[r.from]) {
					all = false
					break
				}
			}
			// A function only its own body names is called by nothing,
			// and runs for no one's lifetime.
			if all && outside {
				f.processOnly[obj] = true
				changed = true
			}
		}
	}
}

// enclosing returns the function declaration of the package whose body
// holds n, or nil.
func (f *loopFinder) enclosing(n ast.Node) *ast.FuncDecl {
	// Declarations do not nest, so at most one holds n, and the map's
	// order does not change the answer. A function literal of a package
	// variable's initializer is in none.
	for _, fn := range f.methods {
		if fn.Body != nil && fn.Body.Pos() <= n.Pos() && n.End() <= fn.Body.End() {
			return fn
		}
	}
	return nil
}

// packageVar returns the package-level variable of this package that x
// names, directly or through fields (arbiter, pool.workers), or nil.
func packageVar(pass *Pass, x ast.Expr) *types.Var {
	// Down the selectors to the root: pool.workers runs on pool. Anything
	// else at the root (a call, an index) names no variable.
	for {
		switch e := ast.Unparen(x).(type) {
		case *ast.SelectorExpr:
			x = e.X
			continue
		case *ast.Ident:
			v, ok := pass.Info.Uses[e].(*types.Var)
			if ok && !v.IsField() && v.Pkg() == pass.Pkg && v.Parent() == pass.Pkg.Scope() {
				return v
			}
		}
		return nil
	}
}
