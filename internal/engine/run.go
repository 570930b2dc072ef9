package engine

import (
	"context"
	"fmt"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// A run holds what one Run has found and changed so far, across its units
// and platforms. Fixes accumulate in an overlay: later passes load the
// packages as the earlier ones left them, and nothing touches the disk
// until the end.
type run struct {
	ctx   context.Context
	dir   string
	opts  Options
	rules []*rules.Rule
	res   *Result

	orig     map[string][]byte  // file → its content on disk when first changed
	overlay  map[string][]byte  // file → its content after the fixes so far
	owner    map[string]string  // file → import path of the package whose fix changed it
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

	cache *cache.Cache
	keys  map[string]cache.Key // package ID → the key its results are cached under, in the current pass

	loaded, done int // for Progress
	stageMu      sync.Mutex
	lastStage    time.Time // when a stage's progress was last reported
	gcPercent    int       // the garbage collector's target before the run, with Options.TuneGC
}

type findingKey struct {
	rule, file string
	offset     int
}

func newRun(ctx context.Context, dir string, opts Options, enabled []*rules.Rule) *run {
	return &run{
		ctx: ctx, dir: dir, opts: opts, rules: enabled, res: &Result{},
		orig: map[string][]byte{}, overlay: map[string][]byte{}, owner: map[string]string{},
		findings: map[findingKey]int{}, analysed: map[string]bool{}, seen: map[string]bool{},
		excluded: map[string]bool{}, broken: map[string]bool{}, gen: map[string]bool{}, matched: map[string]int{}, failed: map[string]bool{}, errs: map[string]bool{},
		unused: map[findingKey]int{}, platforms: 1,
	}
}

func (r *run) addErr(err error) {
	if key := err.Error(); !r.errs[key] {
		r.errs[key] = true
		r.res.Errors = append(r.res.Errors, err)
	}
}

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
	if now := time.Now(); done == 0 || done == total || now.Sub(r.lastStage) >= stageReportEvery {
		r.lastStage = now
		r.opts.Progress(Progress{Platform: pl.String(), Stage: s, Done: done, Total: total, Loaded: r.loaded, Analysed: r.done})
	}
}

// A pkgFix is what one pass found in one package and the fix it computed.
type pkgFix struct {
	pkg      *packages.Package
	findings []Finding
	found    []*rules.Finding  // the rules' findings, parallel to findings
	extra    []Finding         // findings no rule made (invalid ignore comments)
	files    map[string][]byte // new content of the files the fix changes
	old      map[string][]byte // their content as the pass loaded it
	// done is what the rewrite did for each finding it fixed.
	done map[*rules.Finding]rewrite.Done
}

// drop withdraws the fix, giving its findings the reason.
func (pf *pkgFix) drop(reason string) {
	for i := range pf.findings {
		if pf.findings[i].Fixed {
			pf.findings[i].Fixed, pf.findings[i].Unfixed, pf.findings[i].Wire = false, reason, nil
		}
		pf.findings[i].Edits = nil
	}
	pf.files, pf.old = nil, nil
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
	var pkgs []*packages.Package
	fl := &fastLoad{}
	var err error
	fast := r.fast()
	r.tuneGC(fast)
	r.keys = map[string]cache.Key{} // only the fast load keys packages; a key is good for its own pass
	if fast {
		if fl, err = r.loadFast(pl, u, env); err == nil {
			pkgs = fl.pkgs
		}
	} else {
		pkgs, err = typedLoad(r.ctx, u.dir, u.patterns, r.opts, env, r.snapshot())
	}
	if err != nil {
		if r.ctx.Err() == nil {
			r.addErr(err)
		}
		// The error says why the unit's patterns matched nothing.
		for _, origins := range u.origins {
			for _, o := range origins {
				r.failed[o] = true
			}
		}
		return false
	}
	// An earlier platform's fix that breaks this one is withdrawn, and the
	// pass starts again without it.
	if len(r.overlay) > 0 && r.dropBreaking(pl, u, env, pkgs) {
		return true
	}

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
	r.loaded += len(pkgs)
	r.progress(pl)

	v := newVerifier(r.ctx, u.dir, env, pkgs...)
	if fl.checker != nil {
		v.source = r.stdFrom(fl.checker, u.dir, env)
	}
	clean, fixes := r.analyseAll(pl, u, pkgs, fl, v, r.opts.Fix && !fast, true)
	if r.opts.Fix && fast {
		// The fast load found what there is to fix, without fixing it:
		// the packages that have something to fix, and those that import
		// them, are type-checked again and fixed.
		var ok bool
		if clean, fixes, v, ok = r.refix(pl, u, env, fl, fixes); !ok {
			return false
		}
	}
	if r.opts.Fix {
		r.verifyImporters(clean, fixes, v)
		if !r.opts.Tests {
			r.verifyTests(u, env, fixes)
		}
	}
	r.wire(clean, fixes)
	for _, pf := range fixes {
		r.merge(pf)
	}
	return false
}

// analyseAll analyses the loaded packages, fixing what it finds when
// fixing is set, and returns those that loaded cleanly and what was found
// in them. Packages that did not load are reported as errors; with count,
// each analysed package counts towards the progress.
func (r *run) analyseAll(pl platform, u unit, pkgs []*packages.Package, fl *fastLoad, v *verifier, fixing, count bool) (clean []*packages.Package, fixes []*pkgFix) {
	for _, pkg := range pkgs {
		if r.ctx.Err() != nil {
			return nil, nil
		}
		if count {
			r.done++
		}
		if errs := pkgErrors(u.dir, pkg); len(errs) > 0 {
			for _, e := range errs {
				r.addErr(e)
			}
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

// refix takes the outcome of a pass over the fast load, which found but did
// not fix, and fixes it: the packages with a finding to fix and every
// listed package that imports one of them are type-checked again from
// source and analysed with fixes, so that the fixes can be verified
// against their importers and their starters' callers found, as after a
// full load; the other packages keep what the fast pass found. It returns
// the reloaded packages, every package's outcome and a verifier for the
// reloaded packages; ok is false when the pass was cancelled or could not
// load them again.
func (r *run) refix(pl platform, u unit, env []string, fl *fastLoad, found []*pkgFix) (clean []*packages.Package, fixes []*pkgFix, v *verifier, ok bool) {
	fixable := map[*packages.Package]bool{}
	for _, pf := range found {
		for _, f := range pf.findings {
			if f.Fixable {
				fixable[pf.pkg] = true
			}
		}
	}
	if len(fixable) == 0 {
		return nil, found, nil, true
	}
	again := importersOf(fl.pkgs, fixable)
	r.tuneGC(false)
	// The types the fast load checked serve again, but for those of the
	// packages to fix again and of what imports them: those are checked
	// anew, in full. What cannot be checked that way is loaded by
	// go/packages.
	overlay := r.snapshot()
	byID := map[string]*packages.Package{}
	if c := fl.checker; c != nil {
		ids := map[string]bool{}
		for _, p := range again {
			ids[p.ID] = true
		}
		c.Forget(ids)
		if err := c.Check(r.ctx, again, func(*packages.Package) load.Need { return load.Full }); err != nil {
			return nil, nil, nil, false
		}
		for _, p := range again {
			if t, ok := c.Package(p); ok {
				byID[p.ID] = t
			}
		}
	}
	fromSource := len(byID) == len(again)
	if !fromSource {
		var err error
		if byID, err = reload(r.ctx, u.dir, u.patterns, again, r.opts, env, overlay, nil, nil); err != nil {
			if r.ctx.Err() == nil {
				r.addErr(err)
			}
			return nil, nil, nil, false
		}
	}
	typed := make([]*packages.Package, len(again))
	inAgain := map[string]bool{}
	for i, p := range again {
		inAgain[p.ID] = true
		if typed[i] = byID[p.ID]; typed[i] == nil {
			failed := *p
			failed.Errors = append(append([]packages.Error{}, p.Errors...), packages.Error{Pos: "-", Msg: "the package could not be loaded again with types"})
			typed[i] = &failed
		}
	}
	for _, pf := range found {
		if !inAgain[pf.pkg.ID] {
			fixes = append(fixes, pf)
		}
	}
	v = newVerifier(r.ctx, u.dir, env, typed...)
	if fromSource {
		v.source = r.stdFrom(fl.checker, u.dir, env)
	}
	clean, refixed := r.analyseAll(pl, u, typed, &fastLoad{}, v, true, false)
	if r.ctx.Err() != nil {
		return nil, nil, nil, false
	}
	return clean, append(fixes, refixed...), v, true
}

// importersOf returns, in pkgs' order, the packages of pkgs that are in
// set or import one of them, directly or through other packages. Packages
// are told apart by ID: the fast load's typed packages are copies of the
// listed ones that the import graph links.
func importersOf(pkgs []*packages.Package, set map[*packages.Package]bool) []*packages.Package {
	ids := map[string]bool{}
	for p := range set {
		ids[p.ID] = true
	}
	reaches := reaching(func(p *packages.Package) bool { return ids[p.ID] })
	var out []*packages.Package
	for _, p := range pkgs {
		if reaches(p) {
			out = append(out, p)
		}
	}
	return out
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
// source, so it is passed only when needed.
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

// vendored reports whether pkg lies in a vendor directory of its module
// (or of the run's directory): leakfix never reports or edits vendored code.
func (r *run) vendored(pkg *packages.Package) bool {
	root := r.dir
	if pkg.Module != nil && pkg.Module.Dir != "" {
		root = pkg.Module.Dir
	}
	rel, err := filepath.Rel(root, pkg.Dir)
	if err != nil || pkg.Dir == "" {
		return false
	}
	for _, elem := range strings.Split(filepath.ToSlash(rel), "/") {
		if elem == "vendor" {
			return true
		}
	}
	return false
}

// analyse runs the rules on one package and, when asked, fixes what they
// found (the per-package core, internal/fixpkg). It returns nil when
// nothing was found.
func (r *run) analyse(pkg *packages.Package, v *verifier, fixing bool) *pkgFix {
	for _, f := range pkg.IgnoredFiles {
		if strings.HasSuffix(f, ".go") && (r.opts.Tests || !strings.HasSuffix(f, "_test.go")) {
			r.excluded[f] = true
		}
	}
	opts := fixpkg.Options{Rules: r.rules, Tests: r.opts.Tests, Fix: fixing, Edits: r.opts.Edits}
	if fixing {
		// A pass that does not fix applies Options.Keep to what it found
		// once that is cached (r.kept); one that fixes, before it plans
		// the fixes.
		opts.Keep = r.opts.Keep
		opts.Accept = func(name string, _ []byte) ([]byte, string) { return r.current(pkg, name) }
	}
	res := fixpkg.Run(v.view(pkg, nil), opts)
	for _, name := range res.Seen {
		r.seen[name] = true
	}
	for _, name := range res.Generated {
		if !r.gen[name] {
			r.gen[name] = true
			r.res.Generated++
		}
	}
	for _, err := range res.Errors {
		r.addErr(&PosError{Pos: pkg.PkgPath, Msg: err.Error()})
	}
	failed := len(res.Errors) > 0
	invalid := invalidFindings(pkg.Fset, pkg.PkgPath, res.Invalid) // findings about //leakfix:ignore comments
	if len(res.Found) == 0 && len(invalid) == 0 {
		if !fixing && !failed {
			r.store(pkg, nil, res.Generated)
		}
		return nil
	}

	pf := &pkgFix{pkg: pkg, found: res.Found, extra: invalid, done: res.Done, files: res.Files, old: res.Old}
	for _, f := range res.Found {
		o := res.Outcome[f]
		out := Finding{
			Rule:    f.Rule,
			Pos:     r.position(pkg.Fset, f.Pos),
			Message: f.Message,
			Fixable: f.Fix != nil,
			Package: pkg.PkgPath,
			Unfixed: o.Reason,
			Fixed:   o.Fixed,
			Edits:   o.Edits,
		}
		out.End, out.Related = extent(pkg, f)
		pf.findings = append(pf.findings, out)
	}
	if !fixing {
		if !failed {
			r.store(pkg, append(pf.findings[:len(pf.findings):len(pf.findings)], invalid...), res.Generated)
		}
		return r.kept(pf)
	}
	return pf
}

// keepInvalid returns the findings about //leakfix:ignore comments that
// Options.Keep keeps.
func (r *run) keepInvalid(invalid []Finding) []Finding {
	if r.opts.Keep == nil {
		return invalid
	}
	var out []Finding
	for _, f := range invalid {
		if r.opts.Keep(f.Rule, f.Pos, f.End) {
			out = append(out, f)
		}
	}
	return out
}

// current returns the content a file a fix changes has before the fix, or
// why leakfix may not write it.
func (r *run) current(pkg *packages.Package, name string) ([]byte, string) {
	if why := r.writable(pkg, name); why != "" {
		return nil, why
	}
	if old, ok := r.overlay[name]; ok {
		return old, ""
	}
	old, err := os.ReadFile(name)
	if err != nil {
		return nil, Rel(r.dir, name) + ": " + readError(err)
	}
	// The rewrite is based on the content go list read; if the file has
	// changed since, writing would lose that change.
	if tf := fileOf(pkg, name); tf != nil && tf.Size() != len(old) {
		return nil, Rel(r.dir, name) + " changed on disk while leakfix read it"
	}
	return old, ""
}

func fileOf(pkg *packages.Package, name string) *token.File {
	for _, f := range pkg.Syntax {
		if tf := pkg.Fset.File(f.Pos()); tf != nil && tf.Name() == name {
			return tf
		}
	}
	return nil
}

// writable says why leakfix must not write a file, or "". It writes only
// files of the main modules (or of the run's directory outside modules),
// never through a symbolic link to outside them, and never in vendor/.
func (r *run) writable(pkg *packages.Package, name string) string {
	root := r.dir
	if m := pkg.Module; m != nil {
		if !m.Main {
			return fmt.Sprintf("%s belongs to module %s, not to a main module", Rel(r.dir, name), m.Path)
		}
		root = m.Dir
	}
	rel, ok := relBelow(root, name)
	if !ok {
		return Rel(r.dir, name) + " lies outside its module"
	}
	for _, elem := range strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/") {
		if elem == "vendor" {
			return Rel(r.dir, name) + " is vendored"
		}
	}
	if info, err := os.Lstat(name); err != nil {
		return Rel(r.dir, name) + ": " + readError(err)
	} else if info.Mode()&os.ModeSymlink != 0 {
		return Rel(r.dir, name) + " is a symbolic link, which replacing the file would break"
	}
	realRoot, err1 := filepath.EvalSymlinks(root)
	real, err2 := filepath.EvalSymlinks(name)
	if err1 != nil || err2 != nil {
		return Rel(r.dir, name) + ": cannot resolve symbolic links"
	}
	if _, ok := relBelow(realRoot, real); !ok {
		return Rel(r.dir, name) + " is reached through a symbolic link to outside its module"
	}
	return ""
}

// position returns the position of pos in the file as it is on disk: in a
// file an earlier pass changed, offsets are mapped back through the change.
func (r *run) position(fset *token.FileSet, pos token.Pos) token.Position {
	p := fset.Position(pos)
	now, ok := r.overlay[p.Filename]
	if !ok {
		return p
	}
	return offsetPosition(r.orig[p.Filename], p.Filename, oldOffset(r.orig[p.Filename], now, p.Offset))
}

// merge adds a pass's findings and changes to the run. A finding seen on
// an earlier platform is kept once.
func (r *run) merge(pf *pkgFix) {
	for _, f := range append(pf.findings, pf.extra...) {
		key := findingKey{f.Rule, f.Pos.Filename, f.Pos.Offset}
		if f.Rule == ignore.InvalidIgnore.Name && strings.HasPrefix(f.Message, ignore.UnusedPrefix) {
			r.unused[key]++
		}
		if i, ok := r.findings[key]; ok {
			if !r.res.Findings[i].Fixed && f.Fixed {
				r.res.Findings[i] = f
			}
			continue
		}
		r.findings[key] = len(r.res.Findings)
		r.res.Findings = append(r.res.Findings, f)
	}
	for name, content := range pf.files {
		if _, ok := r.orig[name]; !ok {
			r.orig[name] = pf.old[name]
		}
		r.overlay[name] = content
		r.owner[name] = pf.pkg.PkgPath
	}
}

// dropBreaking withdraws the earlier platforms' fixes that make a package
// of this pass fail to load, and reports whether it withdrew any. A package
// that fails without the fixes too is not theirs to answer for.
func (r *run) dropBreaking(pl platform, u unit, env []string, pkgs []*packages.Package) bool {
	var suspects []*packages.Package
	var paths []string
	for _, pkg := range pkgs {
		if len(pkg.Errors) > 0 && len(r.changedIn(pkg)) > 0 {
			suspects = append(suspects, pkg)
			paths = append(paths, pkg.PkgPath)
		}
	}
	if len(suspects) == 0 {
		return false
	}
	before := map[string]bool{} // IDs of the packages that fail without the fixes
	if base, _, err := r.loadChecked(u.dir, paths, env, nil); err == nil {
		for _, p := range base {
			if len(p.Errors) > 0 {
				before[p.ID] = true
			}
		}
	}
	dropped := false
	for _, pkg := range suspects {
		if before[pkg.ID] {
			continue
		}
		for _, path := range r.changedIn(pkg) {
			r.dropPackage(path, fmt.Sprintf("the fix does not compile for %s: %s", pl, relTo(r.dir, pkgErrors(u.dir, pkg)[0])))
			dropped = true
		}
	}
	return dropped
}

// changedIn returns the packages an earlier pass changed among pkg and
// the packages it imports, directly or not.
func (r *run) changedIn(pkg *packages.Package) []string {
	changed := map[string]bool{}
	for _, p := range r.owner {
		changed[p] = true
	}
	var out []string
	visitDeps(pkg, func(p *packages.Package) {
		if changed[p.PkgPath] {
			changed[p.PkgPath] = false
			out = append(out, p.PkgPath)
		}
	})
	return out
}

// relTo words err with paths relative to dir, for a reason shown beside a
// finding.
func relTo(dir string, err error) string {
	return strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
}

// dropPackage withdraws every fix merged for the package path.
func (r *run) dropPackage(path, reason string) {
	for i := range r.res.Findings {
		if f := &r.res.Findings[i]; f.Package == path && f.Fixed {
			f.Fixed, f.Unfixed, f.Wire, f.Edits = false, reason, nil, nil
		}
	}
	for name, p := range r.owner {
		if p == path {
			delete(r.overlay, name)
			delete(r.owner, name)
			delete(r.orig, name)
		}
	}
}

// funcKey names a function across loads and packages.
func funcKey(fn *types.Func) string {
	return fn.Origin().FullName()
}
