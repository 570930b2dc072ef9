package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
)

// The fast load of a pass that only reports: the packages are listed without
// types, a syntactic pass (prefilter.go) keeps those a rule could report on,
// and only they are type-checked, side by side against export data
// (typecheck.go). A fix needs more: the packages that import a fixed one are
// verified, and the callers of a fixed starter are looked up in them. So a
// run that fixes finds on the fast load first, then loads with types the
// packages that have something to fix and their importers, and fixes those
// (refix in run.go). A pass after an earlier platform's fixes loads the
// same way, through those fixes as an overlay.

// fast reports whether a pass may use the fast load.
func (r *run) fast() bool {
	return !r.opts.typedOnly
}

// A fastLoad is what the fast load gives a pass: every listed package, in
// go list's order, with the kept ones replaced by their typed form.
type fastLoad struct {
	pkgs    []*packages.Package
	skipped map[*packages.Package]*scan         // packages no rule could report on, with what the syntactic pass saw
	cached  map[*packages.Package]*cachedResult // packages whose results are in the cache
	// What go list said of every package the listing reached, and the
	// type sizes, when the listing gave export data: refix type-checks
	// the packages to fix against it.
	listed map[string]*listedPackage
	sizes  types.Sizes
}

// loadFast lists the unit's packages, scans them and type-checks the ones a
// rule could report on. A package that does not list, parse or check cleanly
// is loaded by go/packages, whose reports of its errors users know.
func (r *run) loadFast(u unit, env []string) (*fastLoad, error) {
	// After an earlier platform's fixes, the packages are listed, scanned
	// and type-checked as those fixes left them, and nothing is cached.
	overlay := r.snapshot()
	var roots []*packages.Package
	var listedFromCache bool
	var err error
	if overlay == nil {
		roots, listedFromCache, err = listWithCache(r.ctx, r.cache, u.dir, u.patterns, r.opts, env)
	} else {
		roots, err = listOverlay(r.ctx, u.dir, u.patterns, r.opts, env, overlay)
	}
	if err != nil {
		return nil, err
	}
	// The type sizes are asked of the go command while the files are
	// scanned; a listing from the cache leaves that to exportData, which
	// runs only for packages whose results are not cached.
	var sizes types.Sizes
	var sizesErr error
	var sizesDone sync.WaitGroup
	if !listedFromCache {
		sizesDone.Go(func() { sizes, sizesErr = sizesFor(r.ctx, u.dir, env) })
	}
	const (
		untyped = iota
		check
		reloadIt
		cached
	)
	// With a cache, every package gets a key, and a package whose key has
	// an entry is neither parsed nor type-checked.
	contents := map[*packages.Package][][]byte{} // the files read while hashing, or from the overlay
	results := make([]*cachedResult, len(roots))
	if r.cache != nil && overlay == nil {
		if global, err := globalKey(r.opts, r.rules, u.dir, env); err == nil {
			k := newKeyer(roots, global)
			contents = k.contents
			for _, p := range roots {
				if len(p.Errors) == 0 {
					r.keys[p.ID] = k.key(p)
				}
			}
		}
		parallel(len(roots), func(i int) {
			if key, ok := r.keys[roots[i].ID]; ok {
				results[i] = r.lookup(key)
			}
		})
	}
	var (
		fset     = token.NewFileSet()
		g        = newGraph()
		how      = make([]int, len(roots))
		scans    = make([]*scan, len(roots))
		parsedMu sync.Mutex
		parsed   = map[string]*ast.File{} // files of the kept packages, parsed by the syntactic pass
	)
	parallel(len(roots), func(i int) {
		if r.ctx.Err() != nil {
			return
		}
		p := roots[i]
		switch {
		case len(p.Errors) > 0:
			how[i] = reloadIt
			return
		case results[i] != nil:
			// A vendored package is cached once it built: the pass skips
			// it, and need not build it again.
			how[i] = cached
			return
		case r.vendored(p):
			scans[i] = &scan{} // skipped by the pass as it always is
			return
		}
		s, files := scanPackage(fset, p, withOverlay(p, contents[p], overlay))
		switch {
		case s.broken:
			how[i] = reloadIt
		case needsTypes(p, &s, g, r.rules):
			how[i] = check
			parsedMu.Lock()
			maps.Copy(parsed, files)
			parsedMu.Unlock()
		default:
			forget(fset, files)
			scans[i] = &s
		}
	})
	sizesDone.Wait()
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	// parsedFile hands out what the syntactic pass parsed, once per file,
	// and parses what it did not.
	parsedFile := func(fs *token.FileSet, filename string, src []byte) (*ast.File, error) {
		parsedMu.Lock()
		f := parsed[filename]
		delete(parsed, filename)
		parsedMu.Unlock()
		if f != nil && fs == fset {
			return f, nil
		}
		return parser.ParseFile(fs, filename, src, parseMode)
	}

	// go list -export builds every package: a package the syntactic pass
	// skipped is not type-checked here, but whether it compiles is known
	// from its export data, and one that does not is loaded by go/packages
	// so that its errors are reported as a full load reports them. The
	// export data of the build cache is already there for code that has
	// not changed. The listing asked for it; a listing from the cache did
	// not, and go list runs again for the packages not cached.
	out := &fastLoad{pkgs: make([]*packages.Package, len(roots)), skipped: map[*packages.Package]*scan{}, cached: map[*packages.Package]*cachedResult{}}
	var built []*packages.Package
	for i, p := range roots {
		out.pkgs[i] = p
		switch how[i] {
		case cached:
			out.cached[p] = results[i]
		case reloadIt:
		default:
			built = append(built, p)
		}
	}
	var checkIdx []int
	if len(built) > 0 {
		listed := exported(roots)
		if listedFromCache {
			if listed, sizes, err = exportData(r.ctx, u.dir, built, r.opts, env); err != nil {
				return nil, driverError(u.dir, u.patterns, err)
			}
		} else if sizesErr != nil {
			return nil, driverError(u.dir, u.patterns, sizesErr)
		} else {
			out.listed, out.sizes = listed, sizes
		}
		for i, p := range roots {
			switch {
			case how[i] == reloadIt || how[i] == cached:
			case !listed[p.ID].builds():
				how[i] = reloadIt
			case how[i] == check:
				checkIdx = append(checkIdx, i)
			default:
				out.skipped[p] = scans[i]
			}
		}
		kept := make([]*packages.Package, len(checkIdx))
		for j, i := range checkIdx {
			kept[j] = roots[i]
		}
		shared := newExportView()
		parallel(len(checkIdx), func(j int) {
			if r.ctx.Err() != nil {
				return
			}
			i := checkIdx[j]
			if pkg := checkOne(kept[j], listed, sizes, fset, parsedFile, shared, nil); pkg != nil && len(pkg.Errors) == 0 {
				out.pkgs[i] = pkg
			} else {
				how[i] = reloadIt
			}
		})
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
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
	byID, err := reload(r.ctx, u.dir, u.patterns, need, r.opts, env, overlay, fset, parsedFile)
	if err != nil {
		return nil, err
	}
	for j, p := range need {
		if t := byID[p.ID]; t != nil {
			out.pkgs[needIdx[j]] = t
			continue
		}
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
