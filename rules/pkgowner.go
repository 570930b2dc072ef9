package rules

import (
	"go/ast"
	"go/token"
	"go/types"
)

// This file plans work the package owns: its state in package variables,
// its cleanup the package's own, for work started once (init, a package
// variable, a sync.Once).

// planFunc plans the fix of a loop in a package function started by name
// from work that runs once (go gcLoop() in init): like a method, the
// function gets a context parameter, and the package owns the work.
//
//	func init() { go gcLoop() }
//	=> func init() { ctx, cancel := ...; stopGC, gcDone = cancel, make(chan struct{}); go gcLoop(ctx) }
func (f *loopFinder) planFunc(l *Loop) string {
	obj := f.pass.Info.Defs[l.Method.Name].(*types.Func)
	if name, i := ctxParam(f.pass.Info, l.Method.Type); name != "" {
		// As for a method: the caller's context is the lifetime unless
		// the starter shows it cannot be.
		why := ""
		if g, ok := l.Start.(*ast.GoStmt); ok && i < len(g.Call.Args) {
			why = f.notLifetime(g.Call.Args[i], l.Starter)
		}
		if why == "" {
			l.Ctx = name
			return ""
		}
		l.note = "the context it is given " + why + ", so it is not the work's lifetime"
	}
	// The stop parameter changes the function's signature: the go
	// statement must be its only use (uses counts it), and no other
	// package may call it.
	if obj.Exported() || f.uses[obj] != 1 {
		return "the loop's function " + obj.Name() + " is exported or called elsewhere, so a stop parameter cannot be added"
	}
	// Go does not let a named parameter join unnamed ones (func
	// tick(time.Duration)), and the stop parameter needs its name.
	for _, field := range l.Method.Type.Params.List {
		if len(field.Names) == 0 {
			return "the loop's function " + obj.Name() + " has unnamed parameters, so a stop parameter cannot be added"
		}
	}
	// The package's variables hold one run's state; the function is no
	// method, so no value can hold each run's.
	if f.inPackageOnce(l.Starter, l.Start) || f.onceVars[l.Starter] != nil {
		l.Owner = f.packageOwner(true)
		return ""
	}
	// A method, or a function that may run again, could start the function
	// once per value or per call, and package variables hold one run.
	if l.Starter.Recv != nil || !f.runsOnce(l.Starter) {
		return FuncName(l.Starter) + " may run more than once and starts " + obj.Name() + " by name, so package variables could stop only the last run and no value owns each"
	}
	l.Owner = f.packageOwner(l.Starter.Name.Name != "init")
	return ""
}

// packageOwner returns the package as the owner of work: its state lives
// in package variables, and the package's own cleanup, if it has one, is
// extended.
func (f *loopFinder) packageOwner(guarded bool) *Owner {
	return &Owner{Guarded: guarded, Cleanup: PackageCleanup(f.pass.Pkg, f.pass.Info, f.pass.AllFiles)}
}

// PackageCleanup returns the cleanup function the package already has,
// which a fix of the package's own work extends: the first of CleanupNames
// declared as a package-level function with a body, or nil.
func PackageCleanup(pkg *types.Package, info *types.Info, files []*ast.File) *ast.FuncDecl {
	for _, name := range CleanupNames {
		// A package-level function, not a variable or type of that name.
		fn, ok := pkg.Scope().Lookup(name).(*types.Func)
		if !ok {
			continue
		}
		// Its declaration may sit in any file of the package, reported on
		// or not: the caller passes every file it has.
		for _, file := range files {
			for _, d := range file.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Body != nil && info.Defs[fd.Name] == fn {
					return fd
				}
			}
		}
	}
	return nil
}

// inPackageOnce reports whether start lies in a function literal that fn
// passes to the Do method of a package-level sync.Once.
func (f *loopFinder) inPackageOnce(fn *ast.FuncDecl, start ast.Node) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found || len(call.Args) != 1 {
			return !found
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Do" {
			return true
		}
		if t := f.pass.Info.TypeOf(sel.X); t == nil || !isNamed(t, "sync", "Once") {
			return true
		}
		// A package variable: s.once.Do(...) on a field runs once per
		// value, and then the value owns the work, not the package.
		v, ok := f.objectOf(sel.X).(*types.Var)
		if !ok || v.Parent() != f.pass.Pkg.Scope() {
			return true
		}
		if lit, ok := ast.Unparen(call.Args[0]).(*ast.FuncLit); ok && lit.Pos() <= start.Pos() && start.End() <= lit.End() {
			found = true
		}
		return !found
	})
	return found
}

// runsOnce reports whether the free function fn runs at most once: it is
// init, it starts its work under a package-level sync.Once, or it is
// unexported and called only from init and package variable initializers.
func (f *loopFinder) runsOnce(fn *ast.FuncDecl) bool {
	if fn.Name.Name == "init" || f.guardedByFlag(fn) {
		return true
	}
	obj, ok := f.pass.Info.Defs[fn.Name].(*types.Func)
	if !ok || obj.Exported() {
		return false
	}
	// Every reference counts, not only calls: fn passed as a value from
	// anywhere but init may run any number of times.
	calls := 0
	for _, file := range f.pass.AllFiles {
		for _, decl := range file.Decls {
			// A package variable's initializer, like init, runs once.
			inInit := false
			if fd, ok := decl.(*ast.FuncDecl); ok {
				inInit = fd.Name.Name == "init" && fd.Recv == nil
			} else if gd, ok := decl.(*ast.GenDecl); ok {
				inInit = gd.Tok == token.VAR
			}
			bad := false
			ast.Inspect(decl, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && f.pass.Info.Uses[id] == obj {
					calls++
					if !inInit {
						bad = true
					}
				}
				return !bad
			})
			if bad {
				return false
			}
		}
	}
	// A function nothing refers to is not known to run at all.
	return calls > 0
}

// guardedByFlag reports whether fn returns early when a package variable
// says the work already started, and sets that variable itself:
//
//	if started { return }
//	started = true
//	go ...
//
// Such a function starts its work once however often it is called.
func (f *loopFinder) guardedByFlag(fn *ast.FuncDecl) bool {
	pkgVar := func(e ast.Expr) *types.Var {
		v, ok := f.objectOf(e).(*types.Var)
		if !ok || v.Parent() != f.pass.Pkg.Scope() {
			return nil
		}
		return v
	}
	// guards are the package variables tested by an if that returns. Only
	// fn's top-level statements are read, in order: the test, then the
	// set, both before any go statement.
	guards := map[*types.Var]bool{}
	for _, st := range fn.Body.List {
		switch st := st.(type) {
		case *ast.IfStmt:
			if len(st.Body.List) == 0 {
				continue
			}
			if _, ok := st.Body.List[len(st.Body.List)-1].(*ast.ReturnStmt); !ok {
				continue
			}
			ast.Inspect(st.Cond, func(n ast.Node) bool {
				if e, ok := n.(ast.Expr); ok {
					if v := pkgVar(e); v != nil {
						guards[v] = true
					}
				}
				return true
			})
		// started = true after the test: later calls return early. The
		// value set is not checked, nor that a lock covers the test and the
		// set: two first calls at once could both start the work.
		case *ast.AssignStmt:
			for _, l := range st.Lhs {
				if v := pkgVar(l); v != nil && guards[v] {
					return true
				}
			}
		case *ast.GoStmt:
			return false // started before any flag was set
		}
	}
	return false
}
