package rewrite

import (
	"go/token"
	"go/types"
	"strings"

	"github.com/dave/dst"
)

// This file holds the small constructors of the syntax the rewrite adds.

func varDecl(name string, typ dst.Expr) *dst.DeclStmt {
	return &dst.DeclStmt{Decl: &dst.GenDecl{
		Tok:   token.VAR,
		Specs: []dst.Spec{&dst.ValueSpec{Names: []*dst.Ident{dst.NewIdent(name)}, Type: typ}},
	}}
}

// typeExpr spells t for a declaration in this package, or returns nil for
// types it does not handle.
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
		if targs, ok := t.(interface{ TypeArgs() *types.TypeList }); ok && targs.TypeArgs().Len() > 0 {
			return nil
		}
		return qual(obj.Pkg().Path(), obj.Name())
	}
	return nil
}

func joinNames(names []string) string {
	if len(names) <= 2 {
		return strings.Join(names, " and ")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Node builders.

func qual(path, name string) *dst.Ident { return &dst.Ident{Name: name, Path: path} }

func sel(x dst.Expr, name string) *dst.SelectorExpr {
	return &dst.SelectorExpr{X: x, Sel: dst.NewIdent(name)}
}

func call(fun dst.Expr, args ...dst.Expr) *dst.CallExpr { return &dst.CallExpr{Fun: fun, Args: args} }

func recv(ch dst.Expr) *dst.UnaryExpr { return &dst.UnaryExpr{Op: token.ARROW, X: ch} }

func define(name string, value dst.Expr) *dst.AssignStmt {
	return &dst.AssignStmt{Lhs: []dst.Expr{dst.NewIdent(name)}, Tok: token.DEFINE, Rhs: []dst.Expr{value}}
}

func chanStruct() *dst.ChanType {
	return &dst.ChanType{Dir: dst.SEND | dst.RECV, Value: &dst.StructType{Fields: &dst.FieldList{Opening: true, Closing: true}}}
}

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
func (s stop) selectStmt(comm dst.Stmt) *dst.SelectStmt {
	return &dst.SelectStmt{Body: &dst.BlockStmt{List: []dst.Stmt{s.stopCase(), &dst.CommClause{Comm: comm}}}}
}
