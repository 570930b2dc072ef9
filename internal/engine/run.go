package engine

import (
	"context"
	"go/types"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// A run holds what one Run has found and changed so far, across its units
// and platforms. Fixes accumulate in an overlay: later passes load the
// packages as the earlier ones left them, and nothing touches the disk
// until the end.
//
// The run's maps last the whole Run; r.keys, the fastLoad with its checker
// and the verifier last one pass; a pkgFix lives from analyse to merge, and
// only what merge copies into the run outlives its pass. The run is used
// from one goroutine, but for the load: the checker's workers call the
// syntactic pass and stage, and parallel the cache lookups, which only read
// the run. Options.Progress is never called twice at once: stage calls it
// under stageMu, and progress only once the load is done.
type run struct {
	ctx   context.Context
	dir   string
	opts  Options
	rules []*rules.Rule
	res   *Result

	// orig, overlay and owner have the same keys, the files the merged
	// fixes change: merge adds to all three and dropPackage removes from
	// all three. orig is set by the first pass that changes a file and
	// never again, so that however many passes change it, the change and
	// the positions reported (position) are against the file on disk.
	orig     map[string][]byte  // file → its content on disk when first changed
	overlay  map[string][]byte  // file → its content after the fixes so far
	owner    map[string]string  // file → import path of the package whose fix changed it
	wiring   map[string]bool    // import paths of the packages whose only change is wiring in others' cleanups
	findings map[findingKey]int // → index in res.Findings
	analysed map[string]bool    // packages analysed, by import path
	seen     map[string]bool    // files analysed on some platform
	excluded map[string]bool    // .go files build constraints excluded on some platform, or that the patterns reach
	broken   map[string]bool    // files of packages that did not load, reported as errors
	gen      map[string]bool    // generated files skipped
	matched  map[string]int     // the user's pattern → packages it matched
	failed   map[string]bool    // the user's patterns whose load failed, reported as errors
	errs     map[string]bool    // errors reported, so each is reported once
	// unused counts, per ignore comment that matched nothing, the passes
	// that found it so: with several platforms, it is reported only when
	// it matched nothing on every one.
	unused    map[findingKey]int
	platforms int

	cache *cache.Cache         // nil without Options.Cache
	keys  map[string]cache.Key // package ID → the key its results are cached under, in the current pass

	loaded, done int // for Progress
	stageMu      sync.Mutex
	lastStage    time.Time // when a stage's progress was last reported
	gcPercent    int       // the garbage collector's target before the run, with Options.TuneGC
}

// A findingKey names a finding across passes: its rule and its place in
// the file as it is on disk (position maps a place in a file an earlier
// pass changed back to it), so that the same finding, found again by a
// later platform's pass through the fixes so far, is merged with the first.
type findingKey struct {
	rule, file string
	offset     int
}

// newRun returns a run that has found nothing yet, for one platform until
// Run says how many it analyses.
func newRun(ctx context.Context, dir string, opts Options, enabled []*rules.Rule) *run {
	return &run{
		ctx: ctx, dir: dir, opts: opts, rules: enabled, res: &Result{},
		orig: map[string][]byte{}, overlay: map[string][]byte{}, owner: map[string]string{}, wiring: map[string]bool{},
		findings: map[findingKey]int{}, analysed: map[string]bool{}, seen: map[string]bool{},
		excluded: map[string]bool{}, broken: map[string]bool{}, gen: map[string]bool{}, matched: map[string]int{}, failed: map[string]bool{}, errs: map[string]bool{},
		unused: map[findingKey]int{}, platforms: 1,
	}
}

// fixing reports whether the run computes fixes.
func (r *run) fixing() bool { return r.opts.Mode != ModeCheck }

// addErr records err unless an error with the same text was recorded: a
// package that does not load is met again by every platform's pass, and a
// rule that fails on a package fails again when refix analyses it anew,
// each time as a new error value.
func (r *run) addErr(err error) {
	if key := err.Error(); !r.errs[key] {
		r.errs[key] = true
		r.res.Errors = append(r.res.Errors, err)
	}
}

// progress reports StageAnalysing: the packages loaded and analysed so far.
func (r *run) progress(pl platform) {
	if r.opts.Progress != nil {
		r.opts.Progress(Progress{Platform: pl.String(), Loaded: r.loaded, Analysed: r.done})
	}
}

// stageReportEvery is how often the stages of a load report their progress:
// a terminal need not be redrawn for every package.
const stageReportEvery = 50 * time.Millisecond

// stage reports the progress of a stage of the load. It may be called from
// several goroutines at once.
func (r *run) stage(pl platform, s Stage, done, total int) {
	if r.opts.Progress == nil {
		return
	}
	r.stageMu.Lock()
	defer r.stageMu.Unlock()
	// The first and the last report always go out, so that a stage is seen
	// to start and to end however fast it runs.
	if now := time.Now(); done == 0 || done == total || now.Sub(r.lastStage) >= stageReportEvery {
		r.lastStage = now
		r.opts.Progress(Progress{Platform: pl.String(), Stage: s, Done: done, Total: total, Loaded: r.loaded, Analysed: r.done})
	}
}

// A pkgFix is what one pass found in one package and the fix it computed.
// files and old have the same keys, and are both nil once the fix is
// dropped or the wiring withdrawn: the steps that verify and merge fixes
// take a pkgFix with files for one that changes something. A cached
// result has findings but no rules' findings (found).
type pkgFix struct {
	pkg      *packages.Package
	findings []Finding
	found    []*rules.Finding  // the rules' findings, parallel to findings
	extra    []Finding         // findings no rule made (invalid ignore comments)
	files    map[string][]byte // new content of the files the fix changes
	old      map[string][]byte // their content as the pass loaded it
	// done is what the rewrite did for each finding it fixed.
	done map[*rules.Finding]rewrite.Done
	// wired says, for each call of a fixed constructor in the package,
	// where its cleanup is now called or why it is not.
	wired map[fixpkg.CallKey]fixpkg.WireNote
	// targets are the cleanups the fix made, for the packages that call
	// them (wireCallers).
	targets []fixpkg.Target
	// wiring, when set, is all this pkgFix does: it calls, in a package
	// no fix changes, the cleanups other packages' fixes made.
	wiring *fixpkg.CallerWiring
}

// drop withdraws the fix, giving its findings the reason.
func (pf *pkgFix) drop(reason string) {
	if pf.wiring != nil {
		pf.unwire(reason)
		return
	}
	for i := range pf.findings {
		if pf.findings[i].Fixed {
			pf.findings[i].Fixed, pf.findings[i].Unfixed, pf.findings[i].Wire = false, reason, nil
		}
		pf.findings[i].Edits = nil
	}
	pf.files, pf.old, pf.wired = nil, nil, nil
}

// pass loads one unit on one platform, analyses and fixes its packages,
// verifies the fixes and merges the outcome into the run.
func (r *run) pass(pl platform, u unit, env []string) {
	for attempt := 0; attempt < 3; attempt++ {
		if !r.passOnce(pl, u, env) {
			return
		}
	}
}

// passOnce runs a pass and reports whether it must be run again because
// an earlier platform's fix turned out not to compile on this one.
func (r *run) passOnce(pl platform, u unit, env []string) bool {
	fast := r.fast()
	pkgs, fl, ok := r.load(pl, u, env, fast)
	if !ok {
		return false
	}
	// An earlier platform's fix that breaks this one is withdrawn, and the
	// pass starts again without it.
	if len(r.overlay) > 0 && r.dropBreaking(pl, u, env, pkgs) {
		return true
	}
	// Counted only now that the pass is not run again, so that a pass that
	// starts again does not count its packages twice.
	r.countMatches(u, pkgs)
	r.loaded += len(pkgs)
	r.progress(pl)

	v := verify.New(r.ctx, u.dir, env, pkgs...)
	if fl.checker != nil {
		v.Source = r.stdFrom(fl.checker, u.dir, env)
	}
	// The fast load has the types only of the packages a rule could report
	// on, too few to verify a fix against its importers: it finds without
	// fixing, and refix loads again with types, and fixes, the packages
	// that have something to fix and those that import them.
	clean, fixes := r.analyseAll(pl, u, pkgs, fl, v, r.fixing() && !fast, true)
	if r.fixing() && fast {
		if clean, fixes, v, ok = r.refix(pl, u, env, fl, fixes); !ok {
			return false
		}
	}
	// In this order: wireCallers makes the wiring-only pkgFixes, which
	// verifyImporters checks together with the fixes they call;
	// verifyTests checks only the fixes that survived that; and wire reads
	// the outcome, including the notes of the wirings unwire withdrew.
	// Nothing is merged before it is verified.
	if r.fixing() {
		fixes = r.wireCallers(clean, fixes, v)
		r.verifyImporters(clean, fixes, v)
		if !r.opts.Tests { // with Tests, the tests were loaded and verifyImporters checked them
			// The fast load's checker holds the types of the packages the
			// tests import, but for their test variants: checking the
			// tests into it checks only what the tests add. It was filled
			// from the disk's content; after an earlier platform's
			// fixes, from an overlay the tests' listing does not use.
			var base *load.Checker
			if fl.checker != nil && len(r.overlay) == 0 {
				base = fl.checker
			}
			r.verifyTests(u, env, fixes, base)
			// verifyImporters checked the wirings against fixes that
			// verifyTests may since have dropped.
			unwireDropped(fixes)
		}
	}
	r.wire(clean, fixes)
	for _, pf := range fixes {
		r.merge(pf)
	}
	return false
}

// load loads the unit's packages for a pass: with the fast load, or every
// package with types. When the load fails, it reports why and marks the
// unit's patterns as failed (the error says why they matched nothing).
func (r *run) load(pl platform, u unit, env []string, fast bool) (pkgs []*packages.Package, fl *fastLoad, ok bool) {
	fl = &fastLoad{} // a typed load has nothing skipped or cached
	var err error
	r.tuneGC(fast)
	r.keys = map[string]cache.Key{} // only the fast load keys packages; a key is good for its own pass
	if fast {
		if fl, err = r.loadFast(pl, u, env); err == nil {
			pkgs = fl.pkgs
		}
	} else {
		pkgs, err = load.Typed(r.loadConfig(u.dir, env, r.snapshot()), u.patterns...)
	}
	if err != nil {
		// Once the run is cancelled, Run returns the context's error, of
		// which the load's failure is only a consequence.
		if r.ctx.Err() == nil {
			r.addErr(err)
		}
		for _, origins := range u.origins {
			for _, o := range origins {
				r.failed[o] = true
			}
		}
		return nil, nil, false
	}
	return pkgs, fl, true
}

// countMatches counts, for each of the user's patterns, the packages of the
// unit it matched, so that a pattern that matched none is reported.
func (r *run) countMatches(u unit, pkgs []*packages.Package) {
	for pattern, origins := range u.origins {
		n := 0
		for _, pkg := range pkgs {
			if matches(u.dir, pattern, pkg) {
				n++
			}
		}
		for _, o := range origins {
			r.matched[o] += n
		}
	}
}

// analyseAll analyses the loaded packages, fixing what it finds when
// fixing is set, and returns those that loaded cleanly and what was found
// in them. Packages that did not load are reported as errors; with count,
// each analysed package counts towards the progress (refix analyses again
// packages the fast pass counted, and passes false).
//
// A vendored package is told apart before the cache is read: it is cached,
// with nothing, once it built, and must not count as analysed or as read
// from the cache (Result.Packages, Result.Cached).
func (r *run) analyseAll(pl platform, u unit, pkgs []*packages.Package, fl *fastLoad, v *verify.Verifier, fixing, count bool) (clean []*packages.Package, fixes []*pkgFix) {
	for _, pkg := range pkgs {
		if r.ctx.Err() != nil {
			return nil, nil // Run returns only the context's error then
		}
		if count {
			r.done++
		}
		if errs := load.PkgErrors(u.dir, pkg); len(errs) > 0 {
			for _, e := range errs {
				r.addErr(e)
			}
			// Its files are not counted as not analysed: the errors say
			// why they were not.
			for _, f := range append(pkg.GoFiles, pkg.IgnoredFiles...) {
				r.broken[f] = true
			}
			continue
		}
		if r.vendored(pkg) {
			if fl.cached[pkg] == nil {
				r.store(pkg, nil, nil) // it builds; the pass never reports on it
			}
			continue
		}
		if e := fl.cached[pkg]; e != nil {
			r.analysed[pkg.PkgPath] = true
			r.res.Cached++
			if pf := r.fromCache(pkg, e); pf != nil {
				fixes = append(fixes, pf)
			}
			r.progress(pl)
			continue
		}
		if s := fl.skipped[pkg]; s != nil {
			r.analysed[pkg.PkgPath] = true
			r.skip(pkg, s)
			r.progress(pl)
			continue
		}
		clean = append(clean, pkg)
		r.analysed[pkg.PkgPath] = true
		if pf := r.analyse(pkg, v, fixing); pf != nil {
			fixes = append(fixes, pf)
		}
		r.progress(pl)
	}
	return clean, fixes
}

// fastGCPercent is the garbage collector's target while a pass keeps only
// the syntax and types of the packages a rule could report on: collecting
// less often saves a quarter of the CPU time of a check of std, for a few
// tens of megabytes; with every package's syntax and types alive it would
// double the peak.
const fastGCPercent = 400

// tuneGC sets the garbage collector's target for a fast load or for a load
// with types, when Options.TuneGC allows it.
func (r *run) tuneGC(fast bool) {
	switch {
	case !r.opts.TuneGC:
	case fast:
		debug.SetGCPercent(fastGCPercent)
	default:
		debug.SetGCPercent(r.gcPercent)
	}
}

// snapshot returns the overlay for the go command, or nil when nothing has
// changed: an overlay makes go/packages type-check every dependency from
// source, so it is passed only when needed. It is a copy:
// verifyTestsFromSource adds the pass's fixes to it, which must not reach
// r.overlay before they are verified and merged.
func (r *run) snapshot() map[string][]byte {
	if len(r.overlay) == 0 {
		return nil
	}
	m := make(map[string][]byte, len(r.overlay))
	for k, v := range r.overlay {
		m[k] = v
	}
	return m
}

// loadConfig is how a pass lists and loads packages in dir with env: with
// the run's build flags and Tests, and the files of overlay as it has them.
func (r *run) loadConfig(dir string, env []string, overlay map[string][]byte) *load.Config {
	return &load.Config{Context: r.ctx, Dir: dir, Env: env, BuildFlags: r.opts.BuildFlags, Tests: r.opts.Tests, Overlay: overlay}
}

// funcKey names a function across loads and packages: each load has its
// own *types.Func for one function, and the fixed package and its callers
// may come from different loads. Origin names a generic function's
// instances by the function itself.
func funcKey(fn *types.Func) string {
	return fn.Origin().FullName()
}
