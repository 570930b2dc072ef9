package engine

import (
	"encoding/json"
	"maps"
	"slices"

	"golang.org/x/tools/go/packages"
)

// With Options.Cache, the fast load keeps what it learns of each package in
// the result cache, under a key that hashes the package's files, the keys of
// everything it imports, and the pass's settings (key.go). A later pass that
// computes the same key reads the result back: the package is neither
// parsed nor type-checked. The listing is cached too (listcache.go), so a
// run on unchanged code does not start the go command at all.
//
// What is cached is what check reports: the findings before Options.Keep,
// which is applied afterwards (a //leakfix:ignore comment covers a finding
// whatever Keep decides), and the generated files skipped. A package with
// something to fix is loaded again with types by fix and diff (refix), so
// the cache never holds a fix. Packages that did not load, or on which a
// rule failed, are not cached; a vendored package, which is never
// reported on, is cached with nothing once it built, so that an unchanged
// run need not build it again.

// cacheFormat changes whenever the meaning or layout of an entry does.
const cacheFormat = "leakfix result 4" // 4: types from source

// A cachedResult is the entry of one package.
type cachedResult struct {
	Findings  []Finding // check's findings, before Options.Keep
	Generated []string  // generated files skipped
}

// lookup returns the entry for key, or nil.
func (r *run) lookup(key [32]byte) *cachedResult {
	data, ok := r.cache.Get(key)
	if !ok {
		return nil
	}
	var e cachedResult
	if json.Unmarshal(data, &e) != nil {
		return nil // an entry from a damaged file is computed again
	}
	return &e
}

// store caches what the fast pass found in pkg, when the pass keys it.
func (r *run) store(pkg *packages.Package, findings []Finding, generated []string) {
	key, ok := r.keys[pkg.ID]
	if !ok || r.cache == nil {
		return
	}
	data, err := json.Marshal(&cachedResult{Findings: findings, Generated: generated})
	if err != nil {
		return
	}
	r.cache.Put(key, data) // best effort: a result not cached is computed again
}

// fromCache records a cached package as analysed, as skip and analyse do,
// and returns what is left of its findings after Options.Keep, or nil.
func (r *run) fromCache(pkg *packages.Package, e *cachedResult) *pkgFix {
	r.seenUntyped(pkg, e.Generated)
	return r.kept(&pkgFix{pkg: pkg, findings: e.Findings})
}

// kept applies Options.Keep to what a pass that does not fix found, and
// returns nil when nothing is left.
func (r *run) kept(pf *pkgFix) *pkgFix {
	if r.opts.Keep != nil {
		// A cached result has findings but no rules' findings, hence the
		// bound on i.
		var findings []Finding
		var found = pf.found[:0:0]
		for i, f := range pf.findings {
			if r.opts.Keep(f.Rule, f.Pos, f.End) {
				findings = append(findings, f)
				if i < len(pf.found) {
					found = append(found, pf.found[i])
				}
			}
		}
		pf.findings, pf.found, pf.extra = findings, found, r.keepInvalid(pf.extra)
	}
	if len(pf.findings) == 0 && len(pf.extra) == 0 {
		return nil
	}
	return pf
}

// names returns the names in set, sorted.
func names(set map[string]bool) []string {
	return slices.Sorted(maps.Keys(set))
}
