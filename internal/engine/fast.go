package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
)

// The fast load of a pass that only reports: the packages are listed without
// types, a syntactic pass (prefilter.go) keeps those a rule could report on,
// and only they are type-checked in full, from source, with what they import
// checked for its API (internal/load). A fix needs more: the packages that
// import a fixed one are verified, and the callers of a fixed starter are
// looked up in them. So a run that fixes finds on the fast load first, then
// type-checks again the packages that have something to fix and their
// importers, and fixes those (refix in run.go). A pass after an earlier
// platform's fixes loads the same way, through those fixes as an overlay.

// fast reports whether a pass may use the fast load.
func (r *run) fast() bool {
	return !r.opts.typedOnly
}

// A fastLoad is what the fast load gives a pass: every listed package, in
// go list's order, with the kept ones replaced by their typed form.
//
// skipped and cached are keyed by the listed packages, which pkgs keeps for
// them: only the packages checked in full are replaced there.
type fastLoad struct {
	pkgs    []*packages.Package
	skipped map[*packages.Package]*scan         // packages no rule could report on, with what the syntactic pass saw
	cached  map[*packages.Package]*cachedResult // packages whose results are in the cache
	// checker holds the types checked so far, which refix and the
	// verifier build on; nil when nothing was type-checked.
	checker *load.Checker
}

// loadFast lists the unit's packages, scans them and type-checks the ones a
// rule could report on. A package that does not list, parse or check cleanly
// is loaded by go/packages, whose reports of its errors users know.
func (r *run) loadFast(pl platform, u unit, env []string) (*fastLoad, error) {
	// After an earlier platform's fixes, the packages are listed, scanned
	// and type-checked as those fixes left them, and nothing is cached.
	overlay := r.snapshot()
	r.stage(pl, StageListing, 0, 0)
	// The type sizes are asked of the go command while it lists; a listing
	// from the cache asks only when some package is not cached.
	var sizes types.Sizes
	var std string
	var sizesErr error
	var sizesDone sync.WaitGroup
	askSizes := func() { sizesDone.Go(func() { sizes, std, sizesErr = load.Sizes(r.ctx, u.dir, env) }) }
	// A listing through an overlay answers for content that is not on
	// disk, which the listing cache's fingerprint cannot vouch for:
	// ListCached lists it anew.
	roots, listedFromCache, err := load.ListCached(r.loadConfig(u.dir, env, overlay), r.cache, u.patterns, askSizes)
	if err != nil {
		sizesDone.Wait()
		return nil, err
	}
	// how[i] says what becomes of roots[i]. A root starts pending, unless
	// it did not list (reloadIt: go/packages loads it and reports why) or
	// its result is in the cache (cached); scanOnce moves it to untyped,
	// check or reloadIt when the type-checker first reaches it, and a root
	// with errors may move once more after the check (see below).
	const (
		pending = iota // to be scanned and type-checked
		untyped        // no rule needs its types: checked for its declarations only
		check          // checked in full
		reloadIt
		cached
	)
	// With a cache, every package gets a key, and a package whose key has
	// an entry is neither parsed nor type-checked.
	contents := map[*packages.Package][][]byte{} // the files read while hashing, or from the overlay
	results := make([]*cachedResult, len(roots))
	// A key hashes the files as they are on disk: with an overlay, it
	// would name results for content the pass does not analyse.
	if r.cache != nil && overlay == nil {
		// Without a global key (the go binary or leakfix's own identity
		// cannot be found), nothing is keyed: the pass runs as without a
		// cache.
		if global, err := globalKey(r.opts, r.rules, u.dir, env); err == nil {
			k := newKeyer(roots, global)
			contents = k.contents
			// A root that does not list is not keyed, so never cached:
			// its errors come from go/packages on every run.
			for _, p := range roots {
				if len(p.Errors) == 0 {
					r.keys[p.ID] = k.key(p)
				}
			}
		}
		// Each lookup writes only its own results[i]; r.keys is only read.
		parallel(len(roots), func(i int) {
			if key, ok := r.keys[roots[i].ID]; ok {
				results[i] = r.lookup(key)
			}
		})
	}
	var (
		// The standard library's declarations, checked from source, are
		// shared with the process's other loads (load.SharedFset).
		fset  = load.SharedFset
		g     = newGraph()
		how   = make([]int, len(roots))
		scans = make([]*scan, len(roots))
	)
	// Every package that is not cached is type-checked, the kept ones in
	// full and the others for their declarations, so that a package that
	// does not compile is loaded by go/packages and its errors reported as
	// a full load reports them. The syntactic pass runs as the type-checker
	// reaches each package, on the files it parses for it.
	out := &fastLoad{pkgs: slices.Clone(roots), skipped: map[*packages.Package]*scan{}, cached: map[*packages.Package]*cachedResult{}}
	index := map[*packages.Package]int{}
	toCheck := 0
	for i, p := range roots {
		index[p] = i
		switch {
		case len(p.Errors) > 0:
			// A package go list could not list (one whose files build
			// constraints all exclude, say): go/packages says why as
			// users know it.
			how[i] = reloadIt
		case results[i] != nil:
			// A vendored package is cached once it built: the pass skips
			// it, and need not check it again.
			how[i] = cached
			out.cached[p] = results[i]
		default:
			how[i] = pending
			toCheck++
		}
	}
	if toCheck > 0 {
		if listedFromCache {
			askSizes()
		}
		sizesDone.Wait()
		if sizesErr != nil {
			return nil, load.DriverError(u.dir, u.patterns, sizesErr)
		}
		// scanOnce runs the syntactic pass on a root the first time the
		// type-checker wants it, and says how much of it to check. It runs
		// in the Checker's workers, several at once: it writes only how[i]
		// and scans[i] of its own root, and the graph locks what it
		// shares. need, below, reads how before any worker starts.
		scanOnce := func(p *packages.Package, _ load.Need) ([]*ast.File, load.Need, bool) {
			i, ok := index[p]
			if !ok || how[i] != pending {
				return nil, load.None, false // a dependency, or a second check
			}
			if r.vendored(p) {
				how[i], scans[i] = untyped, &scan{} // skipped by the pass as it always is
				return nil, load.None, false
			}
			// Parsed once, into the checker's file set: the files the
			// syntactic pass read are the ones go/types checks.
			s, parsed := scanPackage(fset, p, withOverlay(p, contents[p], overlay))
			files := make([]*ast.File, 0, len(parsed))
			for _, name := range p.GoFiles {
				if f := parsed[name]; f != nil {
					files = append(files, f)
				}
			}
			switch {
			case s.broken:
				// go/packages reads and parses it again, and reports why
				// it cannot.
				how[i] = reloadIt
				return nil, load.None, true
			case needsTypes(p, &s, g, r.rules):
				how[i] = check
				return files, load.Full, true
			default:
				// Still checked, for its declarations: an importer kept
				// for types needs them, and a package that does not
				// compile must be found so that it is reported.
				how[i], scans[i] = untyped, &s
				return files, load.API, true
			}
		}
		out.checker = &load.Checker{
			Fset:     fset,
			Sizes:    sizes,
			Std:      std,
			Overlay:  overlay,
			Parse:    scanOnce,
			Info:     fixpkg.FullInfo,
			Progress: func(done, total int) { r.stage(pl, StageChecking, done, total) },
		}
		need := func(p *packages.Package) load.Need {
			if how[index[p]] == pending {
				return load.API // or more: see scanOnce
			}
			return load.None
		}
		// The checker outlives this load (refix and the verifier check
		// more into it); what they check, the checker parses itself.
		err := out.checker.Check(r.ctx, roots, need)
		out.checker.Parse = nil
		if err != nil {
			return nil, err
		}
		for i := range roots {
			if how[i] == pending {
				how[i] = reloadIt // in an import cycle, which go list reports
			}
		}
		// A package whose own files have errors, while what it imports
		// has none, is reported with what go/types says of it, as a typed
		// load would; one checked for its declarations only is checked
		// again in full for that. One that imports a package with errors,
		// or uses cgo (whose types are not all there), is left to
		// go/packages.
		var again []*packages.Package
		for i, p := range roots {
			typed, ok := out.checker.Package(p)
			switch {
			case how[i] != untyped && how[i] != check: // cached, or left to go/packages
			case ok && how[i] == check:
				out.pkgs[i] = typed
			case ok:
				out.skipped[p] = scans[i]
			case len(p.Errors) > 0 || !out.checker.ImportsOK(p):
				how[i] = reloadIt
			case how[i] == untyped:
				how[i] = check
				again = append(again, p)
			default:
				out.pkgs[i] = typed
			}
		}
		if len(again) > 0 {
			if err := out.checker.Check(r.ctx, again, func(*packages.Package) load.Need { return load.Full }); err != nil {
				return nil, err
			}
			for _, p := range again {
				out.pkgs[index[p]], _ = out.checker.Package(p)
			}
		}
		// A cgo package checked with errors: FakeImportC leaves what comes
		// from C without types, so its errors may be the checker's and not
		// the code's. go/packages runs cgo and says which.
		for i := range roots {
			if how[i] == check && len(out.pkgs[i].Errors) > 0 && slices.ContainsFunc(out.pkgs[i].Syntax, load.ImportsC) {
				how[i] = reloadIt
			}
		}
	} else {
		sizesDone.Wait()
	}

	var need []*packages.Package
	var needIdx []int
	for i, p := range roots {
		if how[i] == reloadIt {
			need = append(need, p)
			needIdx = append(needIdx, i)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	// go/packages parses the reloaded packages as the syntactic pass does,
	// and into the same file set: every package of the pass then has its
	// positions in one.
	parsedFile := func(fs *token.FileSet, filename string, src []byte) (*ast.File, error) {
		return parser.ParseFile(fs, filename, src, parseMode)
	}
	byID, err := load.Reload(r.loadConfig(u.dir, env, overlay), u.patterns, need, fset, parsedFile)
	if err != nil {
		return nil, err
	}
	for j, p := range need {
		if t := byID[p.ID]; t != nil {
			out.pkgs[needIdx[j]] = t
			continue
		}
		// The listed package, with an error that says so: analyseAll then
		// reports it instead of analysing a package without types.
		failed := *p
		failed.Errors = append(append([]packages.Error{}, p.Errors...), packages.Error{Pos: "-", Msg: "the package could not be loaded again with types"})
		out.pkgs[needIdx[j]] = &failed
	}
	return out, nil
}

// withOverlay returns the contents of p's files for the syntactic pass:
// contents (read while hashing, or nil to read them from the disk), with
// the files overlay holds taken from there.
func withOverlay(p *packages.Package, contents [][]byte, overlay map[string][]byte) [][]byte {
	// Most packages have no file in the overlay: their contents serve as
	// they are, without a copy.
	touched := false
	for _, name := range p.GoFiles {
		_, in := overlay[name]
		touched = touched || in
	}
	if !touched {
		return contents
	}
	out := make([][]byte, len(p.GoFiles))
	for i, name := range p.GoFiles {
		switch content, in := overlay[name]; {
		case in:
			out[i] = content
		case contents != nil:
			out[i] = contents[i]
		default:
			data, err := os.ReadFile(name)
			if err != nil {
				return nil // scanPackage reads it again and marks the package broken
			}
			out[i] = data
		}
	}
	return out
}

// seenUntyped records what analyse records of a package it type-checks,
// for one analysed without types: its files were seen, the files build
// constraints excluded from it were not, and its generated files were
// skipped.
func (r *run) seenUntyped(pkg *packages.Package, generated []string) {
	for _, f := range pkg.GoFiles {
		r.seen[f] = true
	}
	for _, f := range pkg.IgnoredFiles {
		if strings.HasSuffix(f, ".go") && (r.opts.Tests || !strings.HasSuffix(f, "_test.go")) {
			r.excluded[f] = true
		}
	}
	for _, name := range generated {
		if !r.gen[name] {
			r.gen[name] = true
			r.res.Generated++
		}
	}
}

// skip records a package the syntactic pass ruled out as analysed: its files
// were seen, its generated files skipped, and its //leakfix:ignore comments
// that cannot be honoured or match nothing are reported as the typed
// analysis would.
func (r *run) skip(pkg *packages.Package, s *scan) {
	r.seenUntyped(pkg, s.generated)
	found := skippedIgnores(s.ignores, r.rules)
	r.store(pkg, found, s.generated)
	if invalid := r.keepInvalid(found); len(invalid) > 0 {
		r.merge(&pkgFix{pkg: pkg, extra: invalid})
	}
}
