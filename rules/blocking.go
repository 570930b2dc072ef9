package rules

import (
	"go/ast"
	"go/types"
)

// This file finds exported functions that block for ever and are meant to
// be run as a goroutine (func CaptureStats(r Registry, d time.Duration) {
// for range time.Tick(d) { … } }, common in metrics libraries): whoever
// starts one cannot stop it. The fix is the standard library's way of
// migrating an API: a context-taking variant that honours ctx, and the old
// function calling it with context.Background(), so existing callers keep
// working.

// A ContextVariant is the fix plan for an exported function whose loop
// blocks for ever: the function becomes NewName(ctx, …), its waits return
// once ctx is done, and a function with the old name and signature calls it
// with context.Background().
type ContextVariant struct {
	Site
	Loop    *Loop         // the loop, with Method set to Decl and Ctx to the new parameter
	Decl    *ast.FuncDecl // the blocking function
	NewName string        // Decl's name with "Context" added
}

// blockingFuncs reports the exported functions and methods of the package
// whose body is a loop that runs for ever, with no stop.
func (f *loopFinder) blockingFuncs() []*Finding {
	// A function the package itself starts (go f.run()) is read at that
	// go statement, whose finding names the starter and whose fix owns the
	// work there; reporting the function as well would report it twice.
	started := map[*types.Func]bool{} // run by a go statement of this package
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				if fn := calleeFunc(f.pass.Info, g.Call); fn != nil {
					started[fn] = true
				}
			}
			return true
		})
	}
	var out []*Finding
	for decl := range funcs(f.pass.Files) {
		// Only other packages' callers are out of view: an unexported
		// function is started, if at all, by a go statement of this
		// package. A function that only a command's action runs lives as
		// long as the process.
		obj, ok := f.pass.Info.Defs[decl.Name].(*types.Func)
		if !ok || !obj.Exported() || started[obj] || decl.Type.TypeParams != nil || f.processOnly[obj] {
			continue
		}
		if decl.Recv != nil && !exportedRecv(f.pass.Info, decl) {
			continue
		}
		loop := forever(decl.Body)
		if loop == nil {
			continue
		}
		// A loop that reads a registered signal channel is left to the
		// registration's own finding (unstopped-signal).
		l := f.analyse(loop)
		if l == nil || l.Signal != nil {
			continue
		}
		name, _ := ctxParam(f.pass.Info, decl.Type)
		if name != "" {
			continue // it has a context and ignores it: another shape
		}
		// The finding is on the function's name: the go statements that
		// start it are in other packages, if anywhere.
		finding := &Finding{
			Rule:    unstoppableLoop,
			Pos:     decl.Name.Pos(),
			Message: FuncName(decl) + " " + l.verb() + " forever, and whoever runs it cannot stop it",
		}
		plan, why := f.contextVariant(l, decl, obj)
		if why != "" {
			finding.Unfixable = why
		} else {
			finding.Fix = plan
		}
		out = append(out, finding)
	}
	return out
}

// forever returns the loop that is the last statement of body when every
// statement before it is a plain one (no return, no go): the function
// blocks in that loop for ever. It returns nil otherwise.
func forever(body *ast.BlockStmt) ast.Stmt {
	if len(body.List) == 0 {
		return nil
	}
	last := body.List[len(body.List)-1]
	switch loop := last.(type) {
	case *ast.ForStmt:
		if loop.Cond != nil {
			return nil
		}
	case *ast.RangeStmt:
	default:
		return nil
	}
	// A return before the loop may mean it is never reached, and a go
	// statement starts work of its own that the variant's context would
	// not stop. Function literals are other code, and are not looked into.
	for _, s := range body.List[:len(body.List)-1] {
		found := false
		ast.Inspect(s, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt, *ast.GoStmt, *ast.DeferStmt:
				found = true
			}
			return !found
		})
		if found {
			return nil
		}
	}
	return last
}

// exportedRecv reports whether a method's receiver type is exported, so
// that other packages can call the method.
func exportedRecv(info *types.Info, decl *ast.FuncDecl) bool {
	t := derefType(info.TypeOf(decl.Recv.List[0].Type))
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Exported()
}

// contextVariant plans the fix for the blocking function decl, or says why
// there is none.
func (f *loopFinder) contextVariant(l *Loop, decl *ast.FuncDecl, obj *types.Func) (*ContextVariant, string) {
	// The variant's only change is a ctx.Done() case at each wait, so a
	// channel operation outside the waits would still block once ctx is
	// done.
	if len(l.blocks) > 0 {
		return nil, f.blocksWhy(l.blocks[0])
	}
	// Returning at a wait made under c.mu.Lock() would leave c.mu locked.
	for _, w := range l.Waits {
		if held, _ := f.heldLock(decl.Body, w.Node); held != "" {
			return nil, "the loop waits while holding " + held + ", which returning there would leave locked"
		}
	}
	if decl.Type.Results != nil && len(decl.Type.Results.List) > 0 {
		return nil, FuncName(decl) + " returns results, which a variant that stops would have to make up"
	}
	// The old function passes every parameter on by name
	// (CaptureStatsContext(context.Background(), r, d)), and names the
	// context package to do it.
	for _, field := range decl.Type.Params.List {
		if len(field.Names) == 0 {
			return nil, FuncName(decl) + " has unnamed parameters, which the old function could not pass on"
		}
		for _, n := range field.Names {
			if n.Name == "_" {
				return nil, FuncName(decl) + " has a parameter named _, which the old function could not pass on"
			}
			if n.Name == "context" {
				return nil, FuncName(decl) + " has a parameter named context, which would hide the package the old function needs"
			}
		}
	}
	// The old method calls the variant on its receiver: rp.RunContext(...).
	if decl.Recv != nil {
		if r := decl.Recv.List[0]; len(r.Names) == 0 || r.Names[0].Name == "_" {
			return nil, "the method has no receiver name"
		}
	}
	// The new name must be free: no field or method of the receiver's
	// type (promoted ones included), or nothing in the package scope, may
	// have it.
	newName := obj.Name() + "Context"
	var scope *types.Scope
	if decl.Recv != nil {
		t := derefType(f.pass.Info.TypeOf(decl.Recv.List[0].Type))
		if m, _, _ := types.LookupFieldOrMethod(t, true, f.pass.Pkg, newName); m != nil {
			return nil, newName + " already exists"
		}
	} else {
		scope = f.pass.Pkg.Scope()
		if scope.Lookup(newName) != nil {
			return nil, newName + " already exists"
		}
	}
	// A function that calls itself would have its inner call block for
	// ever again, through the old name.
	if _, ok := f.reaches(decl.Body, obj); ok {
		return nil, FuncName(decl) + " calls itself"
	}
	for _, n := range f.identsIn(decl) {
		if n == "ctx" {
			return nil, FuncName(decl) + " already uses the name ctx, which the new parameter would take"
		}
	}
	// The plan is that of a goroutine's function honouring its context
	// parameter: the rewrite adds a ctx.Done() case to each wait of decl's
	// loop. Owner stays nil: the caller holds ctx, and with it the stop.
	l.Method = decl
	l.Ctx = "ctx"
	l.Name = f.baseName(l)
	l.Site.Starter = decl
	return &ContextVariant{Site: Site{Starter: decl, Name: l.Name}, Loop: l, Decl: decl, NewName: newName}, ""
}

// identsIn returns the names of the identifiers declared or used in decl.
// Field and method names after a dot (s.ctx) are among them, though a new
// parameter would not hide them: a check against these names errs toward
// refusing.
func (f *loopFinder) identsIn(decl *ast.FuncDecl) []string {
	var out []string
	ast.Inspect(decl, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			out = append(out, id.Name)
		}
		return true
	})
	return out
}
