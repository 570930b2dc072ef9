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
	t := f.pass.Info.TypeOf(lit)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
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
// inside a command's action.
func (f *loopFinder) processWide(fn *ast.FuncDecl, n ast.Node) bool {
	if isCommandRun(f.pass.Info, fn) {
		return true
	}
	for _, obj := range f.processFuncs {
		if f.methods[obj] == fn {
			return true
		}
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
	t := info.TypeOf(fn.Recv.List[0].Type)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if t == nil {
		return false
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return false
	}
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
