package rules

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/types"
	"slices"
	"strings"
)

const globalHook = "global-hook"

// GlobalHook reports process-wide state that a constructor or method
// changes each time it runs: every instance overwrites (or, for
// registrations, collides with) the one before.
//
//	func NewTracker() *Tracker { log.SetOutput(t.buf); ... }
//	=> reported; there is no fix that keeps each instance's intent
var GlobalHook = &Rule{
	Name:  globalHook,
	Needs: Needs{NotMain: true, InstanceCalls: hookCalls(), Assigns: true},
	Doc: Doc{
		Title: "Process-wide hook installed by every instance",
		Text: `A constructor or method that calls log.SetOutput, slog.SetDefault,
http.HandleFunc, expvar.Publish or similar, or assigns to another package's
variable (http.DefaultClient = ...), changes the whole process each time an
instance is built: the second instance silently takes over the first one's
logger, and registrations panic on the second call. It is the Go form of
monkey-patching console methods in every instance.

No automatic fix keeps what each instance meant, so leakfix only reports it.
Set process-wide state once, in main or init, or give the instance its own
logger, mux or registry.

The rule is opt-in (--rules global-hook, or rules: in .leakfix.yaml): on
real projects most of what it finds is deliberate (a logger set up once from
main through a method, a library that offers only a global logger), which
leakfix cannot tell from the code of one package.`,
		Before: `func NewTracker(w io.Writer) *Tracker {
	log.SetOutput(w)
	return &Tracker{}
}`,
		NoFix: true,
		After: `// reported, not rewritten; for example:
func NewTracker(w io.Writer) *Tracker {
	return &Tracker{log: log.New(w, "", log.LstdFlags)}
}`,
	},
	Find:  findHooks,
	OptIn: true,
}

// Hooks are the functions that change process-wide state, by import path.
var Hooks = map[string][]string{
	"log":           {"SetOutput", "SetFlags", "SetPrefix"},
	"log/slog":      {"SetDefault", "SetLogLoggerLevel"},
	"net/http":      {"Handle", "HandleFunc"},
	"expvar":        {"Publish"},
	"runtime/debug": {"SetGCPercent", "SetMemoryLimit", "SetMaxStack", "SetMaxThreads"},
	"os":            {"Setenv", "Unsetenv", "Chdir"},
	"os/signal":     {"Ignore", "Reset"},
	"math/rand":     {"Seed"},
}

// hookCalls lists Hooks as Needs.InstanceCalls spells them: "path.Name".
func hookCalls() []string {
	var calls []string
	for path, names := range Hooks {
		for _, name := range names {
			calls = append(calls, path+"."+name)
		}
	}
	slices.Sort(calls)
	return calls
}

// hookWhy is the reason every global-hook finding gives for having no fix.
const hookWhy = "process-wide state cannot be owned by one instance; set it once in main or init, or give the instance its own"

// findHooks reports the hooks each per-instance function of the package
// installs, one finding per hook, or per package whose variables a function
// replaces.
func findHooks(pass *Pass) []*Finding {
	// In package main or a cmd/ tree a constructor runs once per process,
	// as main does: setting the process's logger there is set-up.
	if processWide(pass.Pkg) {
		return nil
	}
	var out []*Finding
	var lf *loopFinder
	for fn := range funcs(pass.Files) {
		if !perInstance(pass, fn) {
			continue
		}
		// The loop finder indexes the whole package, so it is built only
		// once a function could install a hook.
		if lf == nil {
			lf = finder(pass)
		}
		if obj, ok := pass.Info.Defs[fn.Name].(*types.Func); ok && lf.processOnly[obj] {
			continue // only command actions call it: it runs once, as main does
		}
		// A hook found twice in one function is saved and restored
		// (log.SetOutput(w); defer log.SetOutput(old)), or set and undone
		// (os.Setenv, then Unsetenv in a cleanup): the function owns it.
		type hook struct {
			pos     ast.Node
			message string
			v       *types.Var // the variable replaced, for an assignment
		}
		// found holds the hooks by what they change: Setenv and Unsetenv
		// share the key os.env, two SetOutput calls share log.Output.
		// The walk enters function literals too: a hook set in a callback
		// that fn makes counts as fn's.
		found := map[string][]hook{}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				for path, names := range Hooks {
					if path == pass.Pkg.Path() {
						continue // the package's own API for the hook (expvar.NewInt publishes)
					}
					for _, name := range names {
						if isPkgCall(pass.Info, n, path, name) && !readOnly(pass.Info, n, path, name) && !guardedPublish(pass.Info, fn, n, path, name) {
							// Setenv and Unsetenv both give os.env, whatever
							// variable each names; SetOutput gives
							// log.Output.
							key := path + "." + strings.TrimPrefix(strings.TrimPrefix(name, "Unset"), "Set")
							if registers(name) {
								// Two http.HandleFunc calls register two
								// routes; neither restores the other.
								key = fmt.Sprint(n.Pos()) // a registration is never undone by another
							}
							// The message names the package as code calls it:
							// slog.SetDefault, not log/slog.SetDefault.
							found[key] = append(found[key], hook{n, "changes process-wide state with " + path[strings.LastIndex(path, "/")+1:] + "." + name, nil})
						}
					}
				}
			case *ast.AssignStmt:
				// An assignment and its restore (http.DefaultClient = c,
				// then defer func() { http.DefaultClient = old }()) make
				// two, and no finding, as for calls.
				for _, lhs := range n.Lhs {
					if v := foreignVar(pass, lhs); v != nil {
						key := v.Pkg().Path() + "." + v.Name()
						found[key] = append(found[key], hook{lhs, "replaces " + v.Pkg().Name() + "." + v.Name() + " for the whole process", v})
					}
				}
			}
			return true
		})
		// The variables of one package that one function replaces are one
		// finding, at the first: mqtt.ERROR, mqtt.WARN... are set together.
		replaced := map[*types.Package][]hook{}
		for _, hooks := range found {
			if len(hooks) != 1 {
				continue
			}
			if h := hooks[0]; h.v != nil {
				replaced[h.v.Pkg()] = append(replaced[h.v.Pkg()], h)
				continue
			}
			out = append(out, &Finding{
				Rule:      globalHook,
				Pos:       hooks[0].pos.Pos(),
				Message:   FuncName(fn) + " " + hooks[0].message + " every time it runs",
				Related:   []Note{runsPerInstance(fn)},
				Unfixable: hookWhy,
			})
		}
		// Sorted, so that the finding stands on the first assignment and
		// its message lists the variables in the order the code sets them.
		for pkg, hooks := range replaced {
			slices.SortFunc(hooks, func(a, b hook) int { return int(a.pos.Pos() - b.pos.Pos()) })
			var names []string
			related := []Note{runsPerInstance(fn)}
			for i, h := range hooks {
				names = append(names, pkg.Name()+"."+h.v.Name())
				if i > 0 {
					related = append(related, Note{h.pos.Pos(), "it replaces " + pkg.Name() + "." + h.v.Name() + " here"})
				}
			}
			out = append(out, &Finding{
				Rule:      globalHook,
				Pos:       hooks[0].pos.Pos(),
				Message:   FuncName(fn) + " replaces " + joinAnd(names) + " for the whole process every time it runs",
				Related:   related,
				Unfixable: hookWhy,
			})
		}
	}
	return out
}

// runsPerInstance notes the function that installs a hook, which runs for
// every instance it makes or serves.
func runsPerInstance(fn *ast.FuncDecl) Note {
	return Note{fn.Name.Pos(), FuncName(fn) + " runs once per instance, installing the hook each time"}
}

// joinAnd joins names as prose: "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	if len(names) <= 2 {
		return strings.Join(names, " and ")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// readOnly reports whether call only reads the state a hook sets:
// debug.SetMemoryLimit with a negative limit is the documented way to ask
// for the current limit without changing it.
func readOnly(info *types.Info, call *ast.CallExpr, path, name string) bool {
	if path != "runtime/debug" || name != "SetMemoryLimit" || len(call.Args) != 1 {
		return false
	}
	tv, ok := info.Types[call.Args[0]]
	return ok && tv.Value != nil && constant.Sign(tv.Value) < 0
}

// guardedPublish reports whether the expvar.Publish call sits under a check
// that the name is not published yet (if expvar.Get(name) == nil { ... }):
// get-or-create runs the registration once per process, not per instance.
func guardedPublish(info *types.Info, fn *ast.FuncDecl, call *ast.CallExpr, path, name string) bool {
	if path != "expvar" || name != "Publish" {
		return false
	}
	// First an if whose body holds the call and whose condition or init
	// asks expvar.Get. The answer's sense is not read: any Get there counts.
	guarded := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		ifs, ok := n.(*ast.IfStmt)
		if !ok || guarded {
			return !guarded
		}
		if !(ifs.Body.Pos() <= call.Pos() && call.End() <= ifs.Body.End()) {
			return true
		}
		ast.Inspect(ifs.Cond, func(c ast.Node) bool {
			if get, ok := c.(*ast.CallExpr); ok && isPkgCall(info, get, "expvar", "Get") {
				guarded = true
			}
			return !guarded
		})
		// v := expvar.Get(name); if v == nil { Publish }
		if !guarded && ifs.Init != nil {
			ast.Inspect(ifs.Init, func(c ast.Node) bool {
				if get, ok := c.(*ast.CallExpr); ok && isPkgCall(info, get, "expvar", "Get") {
					guarded = true
				}
				return !guarded
			})
		}
		return !guarded
	})
	if guarded {
		return true
	}
	// The Get may come in a statement before the if: v := expvar.Get(name).
	// Or the Publish is in the else branch (if v, ok := expvar.Get(name);
	// ok { ... } else { Publish }), which the body test above misses. Any
	// Get earlier in fn counts, whatever name it asks for.
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if get, ok := n.(*ast.CallExpr); ok && get.Pos() < call.Pos() && isPkgCall(info, get, "expvar", "Get") {
			guarded = true
		}
		return !guarded
	})
	return guarded
}

// registers reports whether a hook registers something (http.Handle,
// expvar.Publish) rather than setting a value another call can restore.
func registers(name string) bool {
	return strings.HasPrefix(name, "Handle") || name == "Publish"
}

// perInstance reports whether fn runs once per instance: a method, or a
// function returning a type declared in this package (a constructor).
func perInstance(pass *Pass, fn *ast.FuncDecl) bool {
	// Every method counts, exported or not: it runs on an instance,
	// possibly many times for one.
	if fn.Recv != nil {
		return !isCommandRun(pass.Info, fn) // a command's Run runs once, like main
	}
	// init runs once per process; a function returning nothing makes no
	// instance (quiet() { log.SetOutput(io.Discard) } is a helper).
	if fn.Name.Name == "init" || fn.Type.Results == nil {
		return false
	}
	// One result of the package's own type is enough: New() (*T, error).
	for _, r := range fn.Type.Results.List {
		t := derefType(pass.Info.TypeOf(r.Type))
		if n, ok := types.Unalias(t).(*types.Named); ok && n.Obj().Pkg() == pass.Pkg {
			return true
		}
	}
	return false
}

// foreignVar returns the package-level variable of another package that e
// names (http.DefaultClient), or nil.
func foreignVar(pass *Pass, e ast.Expr) *types.Var {
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	// A field (c.Transport = t, of another package's type) is the value's
	// own state; only a package-level variable is the whole process's.
	v, ok := pass.Info.Uses[sel.Sel].(*types.Var)
	if !ok || v.IsField() || v.Pkg() == nil || v.Pkg() == pass.Pkg || v.Parent() != v.Pkg().Scope() {
		return nil
	}
	return v
}
