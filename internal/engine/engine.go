// Package engine runs leakfix's pipeline: load → find → plan → rewrite →
// verify → report. It knows nothing about the command line.
package engine

import (
	"context"
	"errors"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/rules"
)

// Options configures a run. The zero value checks the packages in the
// current directory with every rule and changes nothing.
type Options struct {
	// Dir is where patterns are resolved and what reported paths are
	// relative to; "" means the current directory.
	Dir string
	// Tests also analyses _test.go files.
	Tests bool
	// Rules lists the rules to run by name; empty means all.
	Rules []string
	// Mode says whether the run only reports (ModeCheck, the zero value),
	// also computes the fixes (ModeDiff) or also writes them (ModeFix).
	Mode Mode
	// BuildFlags are passed to the go command (e.g. -tags=integration).
	BuildFlags []string
	// Env is the go command's environment; nil means os.Environ().
	Env []string
	// Edits also divides each package's fix among its findings, as
	// Finding.Edits. It needs the fixes: ModeDiff or ModeFix.
	Edits bool
	// Keep, when set, decides which findings are reported and fixed, from
	// the rule and the first and last position of the reported statement;
	// the others are dropped before any fix is planned.
	Keep func(rule string, start, end token.Position) bool
	// Platforms lists GOOS/GOARCH pairs ("linux/amd64") to analyse in turn,
	// so that files excluded by build constraints on one platform are
	// analysed on another. Empty means the go command's default platform.
	Platforms []string
	// Untrusted runs the go command so that a checkout cannot make it
	// download or run anything: see UntrustedEnv.
	Untrusted bool
	// Progress, when set, is called as packages are loaded and analysed.
	Progress func(Progress)
	// Cache is the directory of the per-package result cache (see
	// internal/cache and cached.go); "" means no cache.
	Cache string
	// TuneGC lets the run set the garbage collector's target percentage
	// (runtime/debug.SetGCPercent) for the process while it runs: high
	// while it lists, scans and type-checks only the packages a rule could
	// report on, where most of what it allocates is syntax that dies as
	// soon as a file is scanned, and back to what it was before a load
	// that keeps every package's syntax and types alive.
	TuneGC bool

	// typedOnly loads every package with types, as leakfix did before it
	// had a syntactic pass: the reference tests and benchmarks compare the
	// fast load with.
	typedOnly bool
}

// A Mode is what a run does with what it finds.
type Mode int

const (
	// ModeCheck reports the findings and changes nothing.
	ModeCheck Mode = iota
	// ModeDiff also computes a fix for every finding that has one;
	// Result.Changes holds the new file contents, and nothing is written.
	ModeDiff
	// ModeFix also writes the fixed files to disk.
	ModeFix
)

// Progress says how far a run has got.
type Progress struct {
	Platform string // GOOS/GOARCH being analysed; "" for the default
	Stage    Stage
	// Done and Total count the packages of StageChecking.
	Done, Total int
	Loaded      int // packages loaded so far
	Analysed    int // of those, packages analysed
}

// A Stage is what a run is doing.
type Stage int

const (
	// StageAnalysing runs the rules on the loaded packages; Progress's
	// Loaded and Analysed count them.
	StageAnalysing Stage = iota
	// StageListing waits for the go command to list the packages.
	StageListing
	// StageChecking parses and type-checks the listed packages and what
	// they import, Done of Total, and runs the syntactic pass on them.
	StageChecking
)

// A Finding is a reported piece of work that cannot be stopped.
type Finding struct {
	Rule    string
	Pos     token.Position // Filename is absolute
	Message string
	Fixed   bool           // a fix was computed (and written, with ModeFix)
	Unfixed string         // why no fix was made; empty when Fixed or when fixes were not asked for
	Fixable bool           // the rule offers a fix and, with ModeDiff or ModeFix, it was made (not dropped)
	Package string         // import path
	End     token.Position // end of the reported statement
	Related []Related      // other places that explain the finding
	Edits   []Edit         // with Options.Edits: this finding's share of the fix
	// Wire says, for a fixed finding, what the program must call for the
	// fix to take effect.
	Wire *Wire
}

// Wire is what an engineer must wire up after a fix: the method that now
// stops the work, and where the work is started, so that the method can be
// called from the program's shutdown path.
type Wire struct {
	Type    string // the owner type, e.g. "Server"; "" for package variables or a context
	Method  string // what stops the work: "Shutdown", or an existing "Close"; a function when Type is ""
	Added   bool   // Method was generated by the fix, not extended
	Starter string // the function that starts the work: "NewServer", "(*Server).Start"
	Ctx     string // the context the loop now honours; Method is "" then
	// Callers are the calls of Starter in the loaded packages.
	Callers []Caller
}

// A Caller is a call of a function that starts background work.
type Caller struct {
	Pos  token.Position // Filename is absolute
	Func string         // the enclosing function, e.g. "main" or "(*App).Run"
	// Wired says where the fix now calls the cleanup for the values this
	// call makes: "wired into (*Server).Close", "a defer in run",
	// "t.Cleanup in TestCache"; NotWired says why it does not, when known.
	Wired, NotWired string
}

// A Change is the old and new content of one file.
type Change struct {
	Path    string // absolute
	Old     []byte
	New     []byte
	Package string // import path of the package the file belongs to
}

// An Edit replaces whole lines of a file (see fixpkg.Edit).
type Edit = fixpkg.Edit

// Result is what a run found and changed.
type Result struct {
	Findings []Finding
	Changes  []Change
	// Errors are problems with the input (packages that do not load,
	// files that cannot be written); the rest of the run went on.
	Errors    []error
	Packages  int // packages analysed
	Cached    int // of those, packages whose results came from the cache
	Generated int // generated files skipped
	// NotAnalysed counts the .go files that build constraints excluded on
	// every platform analysed.
	NotAnalysed int
}

// PosError is a problem at a position in the input: Result.Errors holds
// them for what could not be read, listed, loaded or written.
type PosError = load.PosError

// Run loads the packages matched by patterns and runs the rules on them.
//
// Patterns are resolved from Options.Dir: a pattern such as ./... also
// reaches the modules nested below it and the modules of a go.work
// workspace, each loaded from its own directory. With Options.Platforms the
// whole run is repeated per platform on the output of the previous one, and
// the findings are merged.
func Run(ctx context.Context, patterns []string, opts Options) (*Result, error) {
	if opts.Edits && opts.Mode == ModeCheck {
		return nil, errors.New("Options.Edits divides the fixes among the findings: it needs ModeDiff or ModeFix")
	}
	enabled, err := selectRules(opts.Rules)
	if err != nil {
		return nil, err
	}
	platforms, err := parsePlatforms(opts.Platforms)
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	base := opts.Env
	if base == nil {
		base = os.Environ()
	}
	if opts.Untrusted {
		base = UntrustedEnv(base, dir)
	}

	r := newRun(ctx, dir, opts, enabled)
	r.platforms = len(platforms)
	if opts.Cache != "" {
		if r.cache, err = cache.Open(opts.Cache); err != nil {
			return nil, err
		}
		r.cache.Trim() // best effort: a cache that cannot be trimmed still works
	}
	if opts.TuneGC {
		r.gcPercent = debug.SetGCPercent(100)
		defer debug.SetGCPercent(r.gcPercent)
	}
	units, errs := plan(dir, patterns, base)
	r.res.Errors = append(r.res.Errors, errs...)
	r.opts.Keep = onlyNamedFiles(units, r.opts.Keep)
	for _, pl := range platforms {
		for _, u := range units {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r.pass(pl, u, withPlatform(u.env(base), pl))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Only after every platform: a pattern that matches nothing on one (a
	// windows-only directory on linux) may match on another.
	r.unmatched(units)
	if opts.Mode != ModeCheck && len(platforms) > 1 {
		r.verifyPlatforms(platforms, units, base)
	}
	res := r.finish(units)
	if opts.Mode == ModeFix {
		res.Errors = append(res.Errors, writeAll(ctx, res.Changes)...)
	}
	return res, nil
}

// onlyNamedFiles returns keep, restricted to the files named as arguments
// in the directories that have some: "leakfix check a/a.go ./b/..." reports
// on a/a.go and all of b.
func onlyNamedFiles(units []unit, keep func(string, token.Position, token.Position) bool) func(string, token.Position, token.Position) bool {
	named := map[string]map[string]bool{} // directory → its named files
	for _, u := range units {
		for f := range u.files {
			d := filepath.Dir(f)
			if named[d] == nil {
				named[d] = map[string]bool{}
			}
			named[d][f] = true
		}
	}
	if len(named) == 0 {
		return keep
	}
	return func(rule string, start, end token.Position) bool {
		if files, ok := named[filepath.Dir(start.Filename)]; ok && !files[start.Filename] {
			return false
		}
		return keep == nil || keep(rule, start, end)
	}
}

// unmatched reports the patterns that matched no package, which the go
// command only warns about.
func (r *run) unmatched(units []unit) {
	seen := map[string]bool{}
	for _, u := range units {
		for _, p := range u.patterns {
			// A pattern whose load failed has its error already, which says
			// why it matched nothing.
			for _, o := range u.origins[p] {
				if !seen[o] && r.matched[o] == 0 && !r.failed[o] {
					seen[o] = true
					r.addErr(&PosError{Path: o, Msg: "matched no packages"})
				}
			}
		}
	}
}

// finish sorts the findings, turns the overlay into changes and counts the
// files no platform analysed.
func (r *run) finish(units []unit) *Result {
	res := r.res
	res.Findings = slices.DeleteFunc(res.Findings, func(f Finding) bool {
		n, ok := r.unused[findingKey{f.Rule, f.Pos.Filename, f.Pos.Offset}]
		return ok && n < r.platforms // it matched something on another platform
	})
	for i := range res.Findings {
		f := &res.Findings[i]
		if r.fixing() && !f.Fixed {
			f.Fixable = false // its fix was refused or dropped: none is offered
		}
		// Reasons quote the type checker and the go command, which name
		// files by absolute path; findings name them relative to Dir.
		f.Unfixed = strings.ReplaceAll(f.Unfixed, r.dir+string(filepath.Separator), "")
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i].Pos, res.Findings[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Offset < b.Offset
	})
	for path, content := range r.overlay {
		if string(content) != string(r.orig[path]) {
			res.Changes = append(res.Changes, Change{Path: path, Old: r.orig[path], New: content, Package: r.owner[path]})
		}
	}
	sort.Slice(res.Changes, func(i, j int) bool { return res.Changes[i].Path < res.Changes[j].Path })
	res.Packages = len(r.analysed) // by import path: once, however many platforms analysed it
	// go list reports the files build constraints exclude from a package,
	// but a wildcard pattern silently drops a directory whose every file
	// is excluded (a windows-only package on linux, a cgo package without
	// cgo): walk the directories the patterns name to count those too.
	for _, u := range units {
		for _, p := range u.patterns {
			if isRelative(p) {
				r.walkGoFiles(u.dir, p)
			}
		}
	}
	for f := range r.excluded {
		if !r.seen[f] && !r.broken[f] {
			res.NotAnalysed++
		}
	}
	return res
}

// walkGoFiles adds to r.excluded the .go files in the directories a
// relative pattern names, skipping what the go command skips: testdata,
// vendor, directories starting with . or _, and nested modules.
func (r *run) walkGoFiles(dir, pattern string) {
	recursive := strings.HasSuffix(pattern, "...")
	base := strings.TrimSuffix(strings.TrimSuffix(pattern, "..."), "/")
	if base == "" {
		base = "."
	}
	if !filepath.IsAbs(base) {
		base = filepath.Join(dir, base)
	}
	filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path == base {
				return nil
			}
			name := d.Name()
			if !recursive || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" {
				return filepath.SkipDir
			}
			// A nested module is a unit of its own, whose patterns walk it.
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".go") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_") &&
			(r.opts.Tests || !strings.HasSuffix(name, "_test.go")) && d.Type().IsRegular() {
			r.excluded[path] = true
		}
		return nil
	})
}

// selectRules returns the rules names selects (rules.Choose). invalid-ignore
// is accepted as a name, since leakfix rules lists it, but is no rule: it
// always runs.
func selectRules(names []string) ([]*rules.Rule, error) {
	return rules.Choose(names, ignore.InvalidIgnore.Name)
}

// Rel returns path relative to dir when it lies below it.
func Rel(dir, path string) string {
	if rel, ok := load.RelBelow(dir, path); ok {
		return rel
	}
	return path
}
