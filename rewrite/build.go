package rewrite

import (
	"go/token"
	"go/types"
	"strings"

	"github.com/dave/dst"
)

// This file holds the small constructors of the syntax the rewrite adds.

// varDecl is `var name typ`: a variable declared before a select, so that
// the receive in one of its cases can assign it and the code after the
// select can read it.
func varDecl(name string, typ dst.Expr) *dst.DeclStmt {
	return &dst.DeclStmt{Decl: &dst.GenDecl{
		Tok:   token.VAR,
		Specs: []dst.Spec{&dst.ValueSpec{Names: []*dst.Ident{dst.NewIdent(name)}, Type: typ}},
	}}
}

// typeExpr spells t for a declaration in this package, or returns nil for
// types it does not handle.
//
// It handles the types that reach it: one declared at this package's scope
// and no instance of a generic type (what the rules' spellable check lets
// through), spelled by its bare name, and time.Time, the value of a timer
// channel. A nil result becomes an error, never a guess.
func (rw *rewriter) typeExpr(t types.Type) dst.Expr {
	switch t := t.(type) {
	case *types.Basic:
		return dst.NewIdent(t.Name())
	case *types.Pointer:
		if x := rw.typeExpr(t.Elem()); x != nil {
			return &dst.StarExpr{X: x}
		}
	case *types.Named, *types.Alias:
		obj := t.(interface{ Obj() *types.TypeName }).Obj()
		if obj.Pkg() == nil || obj.Pkg() == rw.pkg.Types {
			return dst.NewIdent(obj.Name())
		}
		// An instance of another package's generic type would need its type
		// arguments spelled as well.
		if targs, ok := t.(interface{ TypeArgs() *types.TypeList }); ok && targs.TypeArgs().Len() > 0 {
			return nil
		}
		// Qualified by path: the restorer writes the name the file imports it
		// by, and addImports adds the import if the file has none.
		return qual(obj.Pkg().Path(), obj.Name())
	}
	return nil
}

// joinNames lists names as a sentence does: "a and b", "a, b and c". The
// comments the fix writes read as prose (promise 5).
func joinNames(names []string) string {
	if len(names) <= 2 {
		return strings.Join(names, " and ")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Node builders.

// qual names name in the package path. Never spelled as a selector: the
// restorer picks the qualifier (an alias, or the one unshadowed gives),
// so new code never depends on how the file names the package.
func qual(path, name string) *dst.Ident { return &dst.Ident{Name: name, Path: path} }

// sel is x.name.
func sel(x dst.Expr, name string) *dst.SelectorExpr {
	return &dst.SelectorExpr{X: x, Sel: dst.NewIdent(name)}
}

// call is fun(args...).
func call(fun dst.Expr, args ...dst.Expr) *dst.CallExpr { return &dst.CallExpr{Fun: fun, Args: args} }

// recv is <-ch.
func recv(ch dst.Expr) *dst.UnaryExpr { return &dst.UnaryExpr{Op: token.ARROW, X: ch} }

// define is name := value.
func define(name string, value dst.Expr) *dst.AssignStmt {
	return &dst.AssignStmt{Lhs: []dst.Expr{dst.NewIdent(name)}, Tok: token.DEFINE, Rhs: []dst.Expr{value}}
}

// chanStruct is chan struct{}, the type of a done channel: it carries no
// values and is only ever closed, which every receiver sees at once.
func chanStruct() *dst.ChanType {
	return &dst.ChanType{Dir: dst.SEND | dst.RECV, Value: &dst.StructType{Fields: &dst.FieldList{Opening: true, Closing: true}}}
}

// field is a struct field on a line of its own, with a line comment that
// says what it holds: each generated field explains itself (promise 5).
func field(name string, typ dst.Expr, comment string) *dst.Field {
	f := &dst.Field{Names: []*dst.Ident{dst.NewIdent(name)}, Type: typ}
	f.Decs.Before = dst.NewLine
	f.Decs.After = dst.NewLine
	f.Decs.End = dst.Decorations{"// " + comment}
	return f
}

// stopCase is `case <-ctx.Done(): return` (or `return nil`).
func (s stop) stopCase() *dst.CommClause {
	ret := &dst.ReturnStmt{}
	if s.errResult {
		ret.Results = []dst.Expr{dst.NewIdent("nil")}
	}
	return &dst.CommClause{
		Comm: &dst.ExprStmt{X: recv(s.ch())},
		Body: []dst.Stmt{ret},
	}
}

// selectStmt waits for comm or for ctx to be done, whichever comes first.
// The wait's case has no body: the code that followed the wait stays
// after the select, where break and continue keep their meaning.
func (s stop) selectStmt(comm dst.Stmt) *dst.SelectStmt {
	return &dst.SelectStmt{Body: &dst.BlockStmt{List: []dst.Stmt{s.stopCase(), &dst.CommClause{Comm: comm}}}}
}
