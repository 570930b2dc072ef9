package engine

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/load"
)

// merge adds a pass's findings and changes to the run. A finding seen on
// an earlier platform is kept once.
func (r *run) merge(pf *pkgFix) {
	for _, f := range append(pf.findings, pf.extra...) {
		key := findingKey{f.Rule, f.Pos.Filename, f.Pos.Offset}
		// An ignore comment over go loop() matches nothing on a platform
		// whose loop (loop_windows.go) returns at once: each pass that
		// finds it unused counts, and finish drops the finding unless
		// every platform did.
		if f.Rule == ignore.InvalidIgnore.Name && strings.HasPrefix(f.Message, ignore.UnusedPrefix) {
			r.unused[key]++
		}
		if i, ok := r.findings[key]; ok {
			// Of the two, the fixed one is kept: its change is the one
			// the overlay now holds.
			if !r.res.Findings[i].Fixed && f.Fixed {
				r.res.Findings[i] = f
			}
			continue
		}
		r.findings[key] = len(r.res.Findings)
		r.res.Findings = append(r.res.Findings, f)
	}
	// pf.old is the file as this pass loaded it, which for a file an
	// earlier pass changed is that pass's output: only the first pass's
	// old is the disk's content, which writeAll compares before writing.
	for name, content := range pf.files {
		if _, ok := r.orig[name]; !ok {
			r.orig[name] = pf.old[name]
		}
		r.overlay[name] = content
		r.owner[name] = pf.pkg.PkgPath
	}
	// A wiring withdrawn before the merge has no files: nothing of it
	// reached the overlay, and it is no wiring to drop later.
	if pf.wiring != nil && len(pf.files) > 0 {
		r.wiring[pf.pkg.PkgPath] = true
	}
}

// dropBreaking withdraws the earlier platforms' fixes that make a package
// of this pass fail to load, and reports whether it withdrew any. A package
// that fails without the fixes too is not theirs to answer for.
//
// A fix planned on one platform is verified against the files that platform
// builds; another builds other files, where the fix may not compile: the
// field stopLoop a fix on windows adds to T clashes with a method
// func (t *T) stopLoop() that only a file built off windows declares. The
// pass loads through the overlay, so such a package fails to load here.
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
	// The suspects are loaded once more without the overlay, and only
	// when some package fails: a pass whose packages all load pays nothing.
	// If even that load fails, every suspect is blamed.
	before := map[string]bool{} // IDs of the packages that fail without the fixes
	if base, _, err := r.loadChecked(u.dir, paths, env, nil); err == nil {
		for _, p := range base {
			if len(p.Errors) > 0 {
				before[p.ID] = true
			}
		}
	}
	dropped := false
	// The fixes of every changed package among a failing one and its
	// dependencies go: the error of an importer a fix broke names the
	// importer's file, not the fixed one's.
	for _, pkg := range suspects {
		if before[pkg.ID] {
			continue
		}
		for _, path := range r.changedIn(pkg) {
			r.dropPackage(path, fmt.Sprintf("the fix does not compile for %s: %s", pl, relTo(r.dir, load.PkgErrors(u.dir, pkg)[0])))
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
	load.VisitDeps(pkg, func(p *packages.Package) {
		if changed[p.PkgPath] {
			// Once only: with Options.Tests, a package and its test
			// variant share the path.
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

// dropPackage withdraws every fix merged for the package path. Its files
// leave the overlay, so that later passes, and the result, see them as
// they are on disk; its findings stay, unfixed, with the reason. The
// packages that only wire in other packages' cleanups go too, when path is
// not one of them: their calls may be of a cleanup path's fix made.
func (r *run) dropPackage(path, reason string) {
	// The run does not record whose cleanups a wiring calls, so dropping a
	// fix drops every wiring; dropping a wiring drops only itself.
	if !r.wiring[path] {
		for w := range r.wiring {
			r.dropPackage(w, reason)
		}
	}
	delete(r.wiring, path)
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
