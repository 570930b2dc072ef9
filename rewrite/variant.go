package rewrite

import (
	"fmt"
	"slices"

	"github.com/dave/dst"

	"github.com/leakfix/leakfix/rules"
)

// contextVariant turns a blocking function into its context-taking variant
// and adds a function with the old name and signature that calls it with
// context.Background(), as the standard library migrates an API:
//
//	// Capture records the stats every d.
//	func Capture(r Registry, d time.Duration) {
//		CaptureContext(context.Background(), r, d)
//	}
//
//	// CaptureContext is Capture until ctx is done.
//	func CaptureContext(ctx context.Context, r Registry, d time.Duration) { …waits also on ctx.Done()… }
func (rw *rewriter) contextVariant(v *rules.ContextVariant) error {
	if err := rw.stoppable(v.Loop, v.Loop.Ctx); err != nil {
		return err
	}
	n, err := rw.node(v.Decl)
	if err != nil {
		return err
	}
	fn := n.(*dst.FuncDecl)
	file, err := rw.file(v.Decl)
	if err != nil {
		return err
	}
	i := slices.Index(file.Decls, dst.Decl(fn))
	if i < 0 {
		return fmt.Errorf("%s: %s is not a top-level declaration", rw.pkg.Fset.Position(v.Decl.Pos()), v.Decl.Name.Name)
	}
	old := v.Decl.Name.Name

	// The old function: same doc, name and signature; it passes its
	// parameters on, the last with ... when it is variadic.
	// Cloned before the ctx parameter is added below, so the wrapper keeps
	// the old signature, and existing callers compile unchanged.
	wrapper := &dst.FuncDecl{Name: dst.NewIdent(old), Type: dst.Clone(fn.Type).(*dst.FuncType)}
	args := []dst.Expr{call(qual("context", "Background"))}
	for _, field := range fn.Type.Params.List {
		for _, name := range field.Names {
			args = append(args, dst.NewIdent(name.Name))
		}
	}
	var target dst.Expr = dst.NewIdent(v.NewName)
	if fn.Recv != nil {
		wrapper.Recv = dst.Clone(fn.Recv).(*dst.FieldList)
		target = sel(dst.NewIdent(fn.Recv.List[0].Names[0].Name), v.NewName)
	}
	c := call(target, args...)
	if l := fn.Type.Params.List; len(l) > 0 {
		if _, ok := l[len(l)-1].Type.(*dst.Ellipsis); ok {
			c.Ellipsis = true
		}
	}
	body := &dst.ExprStmt{X: c}
	body.Decs.Before, body.Decs.After = dst.NewLine, dst.NewLine
	wrapper.Body = &dst.BlockStmt{List: []dst.Stmt{body}}
	wrapper.Decs.Before = fn.Decs.Before
	wrapper.Decs.Start = fn.Decs.Start
	wrapper.Decs.After = dst.EmptyLine

	// The variant: the loop, taking its lifetime from ctx.
	fn.Name.Name = v.NewName
	fn.Decs.Before = dst.EmptyLine
	fn.Decs.Start = dst.Decorations{"// " + v.NewName + " is " + old + " until ctx is done: it returns once ctx is cancelled."}
	ctx := &dst.Field{Names: []*dst.Ident{dst.NewIdent(v.Loop.Ctx)}, Type: qual("context", "Context")}
	fn.Type.Params.List = append([]*dst.Field{ctx}, fn.Type.Params.List...)

	// The wrapper takes the old declaration's place, doc and all; the variant
	// follows it, so the old name keeps its place and its doc in the file.
	file.Decls = slices.Insert(file.Decls, i, dst.Decl(wrapper))
	return nil
}
