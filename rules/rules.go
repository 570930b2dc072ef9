// Package rules finds background work that nothing can stop.
//
// A rule reads type-checked syntax and reports findings. It never edits code:
// a finding that can be fixed carries a plan (a [Loop]) that the rewrite
// package turns into edits.
package rules

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"iter"
	"slices"
	"strings"
)

// Doc is a rule's documentation, the single source for `leakfix explain`
// and the README's rule table.
type Doc struct {
	Title  string // one line, no trailing period
	Text   string // why it matters and what the fix does
	Before string // Go code that is reported
	After  string // the same code after `leakfix fix`, or what to do instead
	NoFix  bool   // the rule only reports
}

// A Rule finds one kind of unowned background work.
type Rule struct {
	Name  string // lowercase words joined by dashes; usable as a flag value
	Doc   Doc
	Needs Needs // what a package's source must show for Find to report there
	Find  func(*Pass) []*Finding
	// OptIn rules run only when named (--rules global-hook), as
	// staticcheck's non-default checks: their findings are too often
	// deliberate for a default that a pull-request bot reports.
	OptIn bool
}

// Needs is what a package's source must show, read without types, for a
// rule to report on it. The engine's syntactic pass reads it to leave out of
// type-checking the packages no enabled rule could report on, so it must
// never exclude a package the rule reports on; keeping too many only costs
// time. The zero Needs keeps every package.
//
// The conditions that are set must all hold, except that the package's
// code need show only one of Go, BlocksForever, Calls, InstanceCalls and
// Assigns.
type Needs struct {
	// NotMain: the rule never reports in package main.
	NotMain bool
	// MainGoCalls: in package main, the rule reports only on a go
	// statement that calls a function by name with arguments (go scan(ctx,
	// d)), a goroutine that may be handed a context it ignores.
	MainGoCalls bool
	// DependsOn: the package imports one of these paths, directly or through
	// its dependencies. An object of package P (a channel of time.Time, a
	// *time.Ticker field of another package's struct) can only appear in a
	// package that depends on P.
	DependsOn []string
	// GoBefore: the main module's go line is known and below this version
	// ("1.23").
	GoBefore string

	// Go: a go statement, or a call x.Go(func() {...}) as errgroup's.
	Go bool
	// BlocksForever: an exported function or method whose body ends in a
	// for or range loop, which may block for ever.
	BlocksForever bool
	// Calls: a call of one of these functions ("time.AfterFunc",
	// "os/signal.Notify"), named through the calling file's import of its
	// package, as calling it by name requires.
	Calls []string
	// InstanceCalls: Calls in methods and in functions returning a type of
	// the package, the code that may run once per instance.
	InstanceCalls []string
	// Assigns: an assignment to a variable of an imported package
	// (http.DefaultClient = ...).
	Assigns bool
}

// All lists every rule in the order they run.
var All = []*Rule{
	UnstoppableLoop,
	UnstoppedSignal,
	DiscardedTimer,
	GlobalHook,
	UnstoppedTicker,
}

// ByName returns the rule called name, or nil.
func ByName(name string) *Rule {
	for _, r := range All {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Default returns the rules that run when none is named: All but the
// opt-in ones.
func Default() []*Rule {
	var out []*Rule
	for _, r := range All {
		if !r.OptIn {
			out = append(out, r)
		}
	}
	return out
}

// Choose returns the rules that names selects, in the order of All. A name
// selects its rule; a name with a leading "-" removes it from the others or,
// when no name selects, from the default rules (staticcheck's -checks:
// "-unstopped-ticker" runs every default rule but unstopped-ticker). Empty
// names select the default rules; an opt-in rule runs only when named, or
// when "all" selects every rule ("all,-unstopped-ticker").
// always names checks that are not rules and always run (invalid-ignore):
// naming one is accepted and selects no rule, removing one is an error.
func Choose(names []string, always ...string) ([]*Rule, error) {
	if len(names) == 0 {
		return Default(), nil
	}
	selected, removed := map[string]bool{}, map[string]bool{}
	positive := false
	for _, n := range names {
		n = strings.TrimSpace(n)
		name, minus := strings.CutPrefix(n, "-")
		switch {
		case name == "all" && !minus:
			positive = true
			for _, r := range All {
				selected[r.Name] = true
			}
		case slices.Contains(always, name) && minus:
			return nil, fmt.Errorf("%s is always on and cannot be removed", name)
		case slices.Contains(always, name):
			positive = true
		case ByName(name) == nil:
			return nil, fmt.Errorf("unknown rule %q (see leakfix rules)", name)
		case minus:
			removed[name] = true
		default:
			positive = true
			selected[name] = true
		}
	}
	var out []*Rule
	for _, r := range All {
		if (selected[r.Name] || !positive && !r.OptIn) && !removed[r.Name] {
			out = append(out, r)
		}
	}
	return out, nil
}

// A Pass is one package as the rules see it.
type Pass struct {
	Fset  *token.FileSet
	Files []*ast.File // the files to report on; generated files are already left out
	Pkg   *types.Package
	Info  *types.Info

	// AllFiles holds every parsed file of the package, including those not
	// reported on, so that facts such as "this channel is closed somewhere"
	// see the whole package.
	AllFiles []*ast.File

	// GoVersion is the main module's go line ("1.22"); "" when unknown.
	GoVersion string

	memo map[string]any // analyses that several rules share
}

// A Fix is a finding's fix plan: a *Loop or a *Timer.
type Fix interface {
	Base() *Site
}

// A Site is what every fix plan holds: where the work starts, who owns its
// state, and the name generated identifiers are based on.
type Site struct {
	Starter *ast.FuncDecl // the function that starts the work
	Owner   *Owner        // nil when the fix honours a context already in scope
	// Name is the base for generated names ("cleanup" gives stopCleanup and
	// cleanupDone), taken from the work itself.
	Name string
	// Abandon are the returns of Starter, after the work is started, that
	// hand the caller no owner (return nil, err): the fix stops the work
	// before each, since nothing could stop it later.
	Abandon []*ast.ReturnStmt
	// StartedBy names, as written, the function value that starts the work
	// when it is not Starter itself: c.connect for the sync.OnceFunc that
	// Starter stores there.
	StartedBy string

	start ast.Node // the statement that starts the work, for the rules' own checks
}

// Base returns s.
func (s *Site) Base() *Site { return s }

// startPos returns where the work starts in Starter, or the end of the
// starter when the plan does not say.
func (s *Site) startPos() token.Pos {
	if s.start != nil {
		return s.start.Pos()
	}
	return s.Starter.End()
}

// A Finding is one piece of background work that cannot be stopped.
type Finding struct {
	Rule    string
	Pos     token.Pos // where the work is started (the go statement)
	Message string

	// Related are places that explain the finding beyond its fix plan
	// (whose loop and method are places of their own): for a finding
	// without a fix, what a reader needs to see to judge it.
	Related []Note

	// Fix is the fix plan; nil when Unfixable is set.
	Fix Fix
	// Unfixable says why no fix is offered, e.g. "loop started in a free
	// function with no owner type". Empty when the finding can be fixed.
	Unfixable string

	signal types.Object // the signal channel a loop finding stops reading
	loop   *Loop        // a loop finding's plan, kept when it cannot be fixed
}

// A Note is a place in the source and what it shows.
type Note struct {
	Pos     token.Pos
	Message string
}

// funcs yields the function and method declarations with a body in files.
func funcs(files []*ast.File) iter.Seq[*ast.FuncDecl] {
	return func(yield func(*ast.FuncDecl) bool) {
		for _, file := range files {
			for _, decl := range file.Decls {
				if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
					if !yield(fn) {
						return
					}
				}
			}
		}
	}
}

// processWide reports whether a package's code runs for the life of the
// process: package main, and the packages of a cmd/ tree, where Go projects
// keep their commands (whatever CLI library runs them).
func processWide(pkg *types.Package) bool {
	return pkg.Name() == "main" || slices.Contains(strings.Split(pkg.Path(), "/"), "cmd")
}
