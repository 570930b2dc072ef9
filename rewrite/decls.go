package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"unicode"
	"unicode/utf8"

	"github.com/dave/dst"

	"github.com/leakfix/leakfix/rules"
)

// This file adds declarations: the state's fields or package variables,
// the cleanup method, and the questions they ask of the owner type (its
// receiver name, whether it is copied).

// declared is one state variable to declare.
type declared struct {
	name    string
	typ     dst.Expr
	comment string
}

// declare adds the state as fields of the owner type, or as a block of
// package variables right before the first loop's starter.
//
// Fields go at the end of the struct, so that the existing fields keep
// their order and their lines; each has a comment saying what it is for.
// Package variables go before the starter, where a reader of the starter
// meets them before the code that sets them.
func (rw *rewriter) declare(anchor *ast.FuncDecl, h *holder, decls []declared) error {
	if h.typ != nil {
		spec, err := rw.node(h.items[0].Base().Owner.Spec)
		if err != nil {
			return err
		}
		st := spec.(*dst.TypeSpec).Type.(*dst.StructType)
		for _, d := range decls {
			st.Fields.List = append(st.Fields.List, field(d.name, d.typ, d.comment))
		}
		return nil
	}
	// One variable reads as var x T, several as a block.
	gd := &dst.GenDecl{Tok: token.VAR, Lparen: len(decls) > 1, Rparen: len(decls) > 1}
	for _, d := range decls {
		vs := &dst.ValueSpec{Names: []*dst.Ident{dst.NewIdent(d.name)}, Type: d.typ}
		vs.Decs.Before, vs.Decs.After = dst.NewLine, dst.NewLine
		vs.Decs.End = dst.Decorations{"// " + d.comment}
		gd.Specs = append(gd.Specs, vs)
	}
	gd.Decs.Before, gd.Decs.After = dst.EmptyLine, dst.EmptyLine
	return rw.insertDecl(anchor, gd, false)
}

// addCleanup declares the cleanup method (or package function) after the
// function that starts the first loop.
//
// A method always has a pointer receiver: it must reach the fields the
// starter wrote, not a copy, and a value receiver would copy the mutex
// that guarded state holds (vet's copylocks, promise 1). It goes right
// after the starter, where a reader of the starter looks for the way to
// stop what it starts.
func (rw *rewriter) addCleanup(anchor *ast.FuncDecl, h *holder, name string, ftype *dst.FuncType, doc []string, body []dst.Stmt) error {
	if ftype == nil {
		ftype = &dst.FuncType{}
	}
	fn := &dst.FuncDecl{
		Name: dst.NewIdent(name),
		Type: ftype,
		Body: &dst.BlockStmt{List: body},
	}
	if h.typ != nil {
		fn.Recv = &dst.FieldList{List: []*dst.Field{{Names: []*dst.Ident{dst.NewIdent(h.recv)}, Type: &dst.StarExpr{X: typeExpr(h.typ, h.items[0].Base().Owner.Spec)}}}}
	}
	fn.Decs.Before = dst.EmptyLine
	fn.Decs.Start = doc
	return rw.insertDecl(anchor, fn, true)
}

// insertDecl inserts d before or after the declaration of fn, or of the
// package variable whose sync.OnceFunc literal fn stands for.
func (rw *rewriter) insertDecl(fn *ast.FuncDecl, d dst.Decl, after bool) error {
	file, err := rw.file(fn)
	if err != nil {
		return err
	}
	var decl ast.Node = fn
	// A package variable's sync.OnceFunc literal comes from the rules as a
	// stand-in FuncDecl (their onceStarters), in no file's Decls; the new
	// declarations go beside the variable's declaration, whose range holds
	// the literal's body.
	for _, f := range rw.pkg.Files {
		for _, fd := range f.Decls {
			if fd != ast.Decl(fn) && fd.Pos() <= fn.Body.Pos() && fn.Body.End() <= fd.End() {
				decl = fd // fn is no declaration of the file
			}
		}
	}
	target, err := rw.node(decl)
	if err != nil {
		return err
	}
	for i, decl := range file.Decls {
		if decl == target {
			if after {
				i++
			}
			file.Decls = append(file.Decls[:i], append([]dst.Decl{d}, file.Decls[i:]...)...)
			return nil
		}
	}
	return fmt.Errorf("%s: declaration not found in its file", rw.pkg.Fset.Position(fn.Pos()))
}

// typeExpr spells the type t as its methods' receivers do: T or T[K, V].
// A receiver names the type parameters, without their constraints, in
// the order the declaration gives them.
func typeExpr(t *types.Named, spec *ast.TypeSpec) dst.Expr {
	var typ dst.Expr = dst.NewIdent(t.Obj().Name())
	if spec.TypeParams == nil {
		return typ
	}
	var params []dst.Expr
	for _, f := range spec.TypeParams.List {
		for _, n := range f.Names {
			params = append(params, dst.NewIdent(n.Name))
		}
	}
	if len(params) == 1 {
		return &dst.IndexExpr{X: typ, Index: params[0]}
	}
	return &dst.IndexListExpr{X: typ, Indices: params}
}

// cleanupDecl returns the existing cleanup that h's fixes extend, or nil
// when one is to be generated. For a type the rules decided it, knowing
// which methods only pause the value; where the fixes of one type disagree,
// a new method is safer. For the package it is the package's own cleanup
// function, as the rules found it.
func (rw *rewriter) cleanupDecl(h *holder) *ast.FuncDecl {
	if h.typ == nil && len(h.items) == 0 {
		// Only values in package variables: no fix of the package's own
		// work said which cleanup the package has.
		// The rules' own function, so that the package's cleanup is found the
		// same way the rules find it for the package's own work.
		return rules.PackageCleanup(rw.pkg.Types, rw.pkg.Info, rw.pkg.Files)
	}
	var decl *ast.FuncDecl
	for i, item := range h.items {
		c := item.Base().Owner.Cleanup
		if i > 0 && c != decl {
			return nil
		}
		decl = c
	}
	return decl
}

// decl returns the declaration of a function of this package.
// A linear search: it is asked about few functions, and only the
// package's own files are searched.
func (rw *rewriter) decl(fn *types.Func) *ast.FuncDecl {
	for _, f := range rw.pkg.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && rw.pkg.Info.Defs[fd.Name] == fn {
				return fd
			}
		}
	}
	return nil
}

// receiverName returns the receiver name t's methods already use, or the
// lower-cased first letter of its name.
// The first method with one named receiver decides, so the new method
// looks like the others.
func (rw *rewriter) receiverName(t *types.Named) string {
	for i := 0; i < t.NumMethods(); i++ {
		if decl := rw.decl(t.Method(i)); decl != nil {
			if names := decl.Recv.List[0].Names; len(names) == 1 && names[0].Name != "_" {
				return names[0].Name
			}
		}
	}
	// The first rune, as upperFirst takes it; a type named _x gives no
	// letter, and a receiver _ could not be referred to.
	r, _ := utf8.DecodeRuneInString(t.Obj().Name())
	if !unicode.IsLetter(r) {
		return "v"
	}
	return string(unicode.ToLower(r))
}

// copied reports whether values of t are copied while it holds no lock
// yet: it has a method with a value receiver, or the package dereferences a
// *t into a value or passes t by value. Adding a mutex would then make vet's
// copylocks check flag the copies, and state without one races with a copy
// made while Start writes it: such an owner's Start is not fixed. (Copies
// this misses are caught by the verifier, which runs copylocks on the
// result.)
func (rw *rewriter) copied(t *types.Named) bool {
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	for i := 0; i < st.NumFields(); i++ {
		if rules.IsLock(st.Field(i).Type()) {
			return false // copying it is flagged already
		}
	}
	// A method with a value receiver copies the value on every call.
	for i := 0; i < t.NumMethods(); i++ {
		if _, ptr := t.Method(i).Type().(*types.Signature).Recv().Type().(*types.Pointer); !ptr {
			return true
		}
	}
	isT := func(e ast.Expr) bool {
		n, ok := types.Unalias(rw.pkg.Info.TypeOf(e)).(*types.Named)
		return ok && n.Origin() == t.Origin()
	}
	// The package's own code is all that can be seen; a copy another package
	// makes is left to the verifier.
	found := false
	for _, f := range rw.pkg.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.StarExpr: // *p as a value
				if tv, ok := rw.pkg.Info.Types[n]; ok && tv.IsValue() && isT(n) {
					found = true
				}
			case *ast.FuncType: // a parameter or result of type t
				for _, fl := range []*ast.FieldList{n.Params, n.Results} {
					if fl != nil {
						for _, field := range fl.List {
							if isT(field.Type) {
								found = true
							}
						}
					}
				}
			}
			return !found
		})
	}
	return found
}
