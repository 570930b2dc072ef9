package engine

import (
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
)

// vendored reports whether pkg lies in a vendor directory of its module
// (or of the run's directory): leakfix never reports or edits vendored code.
func (r *run) vendored(pkg *packages.Package) bool {
	// A package with no module (GOPATH mode, or the standard library,
	// whose own vendored packages sit in GOROOT/src/vendor) is measured
	// from the run's directory instead.
	root := r.dir
	if pkg.Module != nil && pkg.Module.Dir != "" {
		root = pkg.Module.Dir
	}
	rel, err := filepath.Rel(root, pkg.Dir)
	if err != nil || pkg.Dir == "" {
		return false
	}
	// Any element, not only the first: in GOPATH mode a vendor directory
	// may sit at any level of the tree, and a path from the run's
	// directory to GOROOT's packages leads up through "..".
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
func (r *run) analyse(pkg *packages.Package, v *verify.Verifier, fixing bool) *pkgFix {
	// A file build constraints exclude here may be analysed on another
	// platform; finish counts those no platform saw.
	for _, f := range pkg.IgnoredFiles {
		if strings.HasSuffix(f, ".go") && (r.opts.Tests || !strings.HasSuffix(f, "_test.go")) {
			r.excluded[f] = true
		}
	}
	opts := fixpkg.Options{Rules: r.rules, Tests: r.opts.Tests, Fix: fixing, Edits: r.opts.Edits}
	// Accept gives the content each change is taken against, and refuses,
	// with the reason, a file leakfix may not write (a dependency's, a
	// symbolic link, one changed since go list read it): the package's
	// whole fix is then not made, rather than found unwritable at the end.
	if fixing {
		// A pass that does not fix applies Options.Keep to what it found
		// once that is cached (r.kept); one that fixes, before it plans
		// the fixes.
		opts.Keep = r.opts.Keep
		opts.Accept = func(name string, _ []byte) ([]byte, string) { return r.current(pkg, name) }
	}
	// The view resolves the imports a fix may add (rewrite.MayImport)
	// through the verifier, so that fixpkg can type-check the fixed package
	// (step 1 of verify.go).
	res := fixpkg.Run(v.View(pkg, nil), opts)
	for _, name := range res.Seen {
		r.seen[name] = true
	}
	// Counted once, however many passes skip the file.
	for _, name := range res.Generated {
		if !r.gen[name] {
			r.gen[name] = true
			r.res.Generated++
		}
	}
	for _, err := range res.Errors {
		r.addErr(&PosError{Path: pkg.PkgPath, Msg: err.Error()})
	}
	// A package on which a rule failed is not cached: the failed rule found
	// nothing, and the next run would read back a result without its
	// findings and without the error.
	failed := len(res.Errors) > 0
	invalid := invalidFindings(pkg.Fset, pkg.PkgPath, res.Invalid) // findings about //leakfix:ignore comments
	if len(res.Found) == 0 && len(invalid) == 0 {
		// Nothing found is a result too: cached, an unchanged package is
		// neither parsed nor type-checked on the next run.
		if !fixing && !failed {
			r.store(pkg, nil, res.Generated)
		}
		return nil
	}

	pf := &pkgFix{pkg: pkg, found: res.Found, extra: invalid, done: res.Done, files: res.Files, old: res.Old, wired: res.Wired, targets: res.Targets}
	for _, f := range res.Found {
		o := res.Outcome[f]
		// Fixable says only that the rule has a fix for the shape; finish
		// clears it for a finding whose fix was refused or dropped.
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
	// Only a pass that does not fix caches what it found: one that fixes
	// has applied Options.Keep already, and the cache holds the findings
	// before Keep (cached.go).
	if !fixing {
		if !failed {
			// The cache holds the invalid findings among the others (a
			// cached result has no extra); the three-index slice keeps
			// append from writing them into pf.findings' spare capacity.
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
	// A file an earlier platform's pass fixed: this pass loaded it from the
	// overlay, and its fix goes on from there, not from the disk.
	if old, ok := r.overlay[name]; ok {
		return old, ""
	}
	old, err := os.ReadFile(name)
	if err != nil {
		return nil, Rel(r.dir, name) + ": " + load.ReadError(err)
	}
	// The rewrite is based on the content go list read; if the file has
	// changed since, writing would lose that change. Only the size can be
	// compared, since the token.File keeps no content; from here on,
	// prepare compares the whole content again before it writes.
	if tf := fileOf(pkg, name); tf != nil && tf.Size() != len(old) {
		return nil, Rel(r.dir, name) + " changed on disk while leakfix read it"
	}
	return old, ""
}

// fileOf returns the token.File pkg parsed for the file name, or nil.
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
		// With go.work every module the workspace uses is a main module;
		// a dependency, even one replaced by a directory (replace x =>
		// ../x), is not, and stays as it is.
		root = m.Dir
	}
	rel, ok := load.RelBelow(root, name)
	if !ok {
		return Rel(r.dir, name) + " lies outside its module"
	}
	for _, elem := range strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/") {
		if elem == "vendor" {
			return Rel(r.dir, name) + " is vendored"
		}
	}
	// Two ways a symbolic link may lead out: the file itself is one, which
	// the rename in writeAll would replace by a regular file wherever it
	// points; or a directory on its path is one (pkg -> /elsewhere/pkg),
	// which only resolving both paths shows.
	if info, err := os.Lstat(name); err != nil {
		return Rel(r.dir, name) + ": " + load.ReadError(err)
	} else if info.Mode()&os.ModeSymlink != 0 {
		return Rel(r.dir, name) + " is a symbolic link, which replacing the file would break"
	}
	realRoot, err1 := filepath.EvalSymlinks(root)
	real, err2 := filepath.EvalSymlinks(name)
	if err1 != nil || err2 != nil {
		return Rel(r.dir, name) + ": cannot resolve symbolic links"
	}
	if _, ok := load.RelBelow(realRoot, real); !ok {
		return Rel(r.dir, name) + " is reached through a symbolic link to outside its module"
	}
	return ""
}

// position returns the position of pos in the file as it is on disk: in a
// file an earlier pass changed, offsets are mapped back through the change.
//
// Without it, a finding a later platform's pass finds again, in the file as
// the first fix left it (new fields, imports), would stand lines away from
// its place on disk: it would be reported there, and not merged with the
// first (findingKey).
func (r *run) position(fset *token.FileSet, pos token.Pos) token.Position {
	p := fset.Position(pos)
	now, ok := r.overlay[p.Filename]
	if !ok {
		return p
	}
	return offsetPosition(r.orig[p.Filename], p.Filename, fixpkg.OldOffset(r.orig[p.Filename], now, p.Offset))
}
