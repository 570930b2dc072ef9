package engine

import (
	"fmt"
	"go/types"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
)

// Step 4 of verify.go: every platform of a run with several.

// verifyPlatforms type-checks every fixed package on every platform
// (step 4 above); a fix that does not compile on one of them is dropped.
//
// It runs once every pass is done: a later platform's pass fixes files
// the earlier platforms build too, after their passes were verified, so
// only now is every platform's view of the fixes final. The packages are
// loaded as they are on disk, and each is checked with its own new files.
func (r *run) verifyPlatforms(platforms []platform, units []unit, base []string) {
	for _, pl := range platforms {
		for _, u := range units {
			// The packages whose files the fixes change below the unit's
			// directory, by import path, for the unit's go command to
			// load. A package whose only change is wiring compiles only
			// against the fixes it calls, and is loaded with all of them;
			// a fixed one is checked with its own new files over its
			// dependencies as they are on disk.
			var paths, wired []string
			seen := map[string]bool{}
			for name, path := range r.owner {
				if !seen[path] && within(u.dir, name) {
					seen[path] = true
					if r.wiring[path] {
						wired = append(wired, path)
					} else {
						paths = append(paths, path)
					}
				}
			}
			env := withPlatform(u.env(base), pl)
			r.verifyWiring(u, env, wired, pl)
			if len(paths) == 0 {
				continue
			}
			pkgs, source, err := r.loadChecked(u.dir, paths, env, nil)
			if err != nil {
				continue // the go command fails here with or without the fixes
			}
			v := verify.New(r.ctx, u.dir, env, pkgs...)
			v.Source = source
			for _, p := range pkgs {
				if len(p.Errors) > 0 || !seen[p.PkgPath] {
					continue // no files for this platform, or broken before the fix
				}
				// Only the files this platform builds: a fixed file it
				// excludes cannot break it here.
				files := map[string][]byte{}
				for _, f := range p.Syntax {
					name := p.Fset.File(f.Pos()).Name()
					if content, ok := r.overlay[name]; ok {
						files[name] = content
					}
				}
				// Without an override and with full type information,
				// check also runs the vet checks a fix could upset: a
				// copied mutex on one platform is as much a broken fix.
				if _, err := v.Check(p, files, nil, nil); err != nil {
					r.dropPackage(p.PkgPath, fmt.Sprintf("the fix does not compile for %s: %s", pl, relTo(r.dir, err)))
				}
			}
		}
	}
}

// loadChecked loads patterns with syntax and full types: from source, or,
// for the reference run, with go/packages. source is as for loadTestsOf.
func (r *run) loadChecked(dir string, patterns, env []string, overlay map[string][]byte) (pkgs []*packages.Package, source func() map[string]*types.Package, err error) {
	if !r.fast() {
		pkgs, err = load.Typed(r.loadConfig(dir, env, overlay), patterns...)
		return pkgs, nil, err
	}
	// Full types.Info: the vet checks in v.check need it.
	pkgs, c, err := load.Source(r.loadConfig(dir, env, overlay), patterns, fixpkg.FullInfo, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if r.opts.Tests {
		pkgs = load.WithoutTestDuplicates(pkgs)
	}
	return pkgs, r.stdFrom(c, dir, env), nil
}

// within reports whether path lies in dir or below it.
func within(dir, path string) bool {
	_, ok := load.RelBelow(dir, path)
	return ok
}

// verifyWiring type-checks on one platform the packages whose only change
// is calling other packages' new cleanups: those calls compile only
// against the fixed packages, so they are loaded with every fix in place.
func (r *run) verifyWiring(u unit, env []string, paths []string, pl platform) {
	if len(paths) == 0 {
		return
	}
	pkgs, _, err := r.loadChecked(u.dir, paths, env, r.snapshot())
	if err != nil {
		return
	}
	// The load's errors are the check: with the overlay, the wirings are
	// type-checked from source against every fix.
	for _, p := range pkgs {
		if errs := load.PkgErrors(u.dir, p); len(errs) > 0 && r.wiring[p.PkgPath] {
			r.dropPackage(p.PkgPath, fmt.Sprintf("the wiring does not compile for %s: %s", pl, relTo(r.dir, errs[0])))
		}
	}
}
