package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// beforeRename, when set by a test, runs after every temp file is written
// and synced and before the first rename.
var beforeRename func()

// writeAll writes every change atomically. Each new content goes to a temp
// file beside its target; only when all of them are written and synced are
// they renamed into place. A rename replaces a file whole, so a crash or an
// interrupt leaves each file either old or new.
//
// The changes of one package are written together or not at all: if one
// of its files cannot be prepared (it changed on disk since it was read,
// or cannot be written), none of them is, since the package would not
// compile with half a fix. Other packages are still written. Once the
// context is done, nothing more is started; renames already under way are
// finished, so the tree is never left half renamed by an interrupt.
func writeAll(ctx context.Context, changes []Change) []error {
	type pending struct {
		tmp, path string // a prepared temp file, and the file it replaces
	}
	byPkg := map[string][]Change{}
	var pkgs []string
	for _, c := range changes {
		if byPkg[c.Package] == nil {
			pkgs = append(pkgs, c.Package)
		}
		byPkg[c.Package] = append(byPkg[c.Package], c)
	}
	sort.Strings(pkgs) // so that the errors come in the same order on every run

	var (
		errs  []error
		ready []pending
	)
	for _, pkg := range pkgs {
		var group []pending
		failed := false
		for _, c := range byPkg[pkg] {
			// An interrupt while preparing fails the package as one whose
			// file cannot be written would: its temp files go, and no
			// later package is prepared.
			if ctx.Err() != nil {
				failed = true
				break
			}
			tmp, err := prepare(c)
			if err != nil {
				errs = append(errs, &PosError{Path: c.Path, Msg: err.Error()})
				failed = true
				break
			}
			group = append(group, pending{tmp, c.Path})
		}
		if failed {
			for _, p := range group {
				os.Remove(p.tmp)
			}
			// With one file, its own error says it all; after an interrupt,
			// the error below does.
			if ctx.Err() == nil && len(byPkg[pkg]) > 1 {
				errs = append(errs, &PosError{Path: pkg, Msg: "no file of the package was written"})
			}
			continue
		}
		ready = append(ready, group...)
	}
	if beforeRename != nil {
		beforeRename()
	}
	// The last point at which an interrupt changes nothing on disk. Past
	// it the context is not looked at again: stopping between two renames
	// would leave a package half fixed, which does not compile.
	if err := ctx.Err(); err != nil {
		for _, p := range ready {
			os.Remove(p.tmp)
		}
		return append(errs, fmt.Errorf("interrupted before writing: no file was changed"))
	}
	dirs := map[string]bool{}
	for _, p := range ready {
		// A rename that fails here leaves the file old, and the files of
		// its package renamed before it new: a package is written whole
		// as far as what can be checked before the first rename.
		if err := os.Rename(p.tmp, p.path); err != nil {
			os.Remove(p.tmp)
			errs = append(errs, &PosError{Path: p.path, Msg: err.Error()})
			continue
		}
		dirs[filepath.Dir(p.path)] = true
	}
	// The renames are durable only once their directories are synced.
	for dir := range dirs {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return errs
}

// prepare writes c.New to a synced temp file in c.Path's directory, with
// c.Path's mode, after checking that c.Path still holds c.Old.
func prepare(c Change) (string, error) {
	// writable refused symbolic links when the fix was planned; the file
	// may have been replaced by one since.
	info, err := os.Lstat(c.Path)
	if err != nil {
		return "", fmt.Errorf("cannot write: %w", err)
	}
	// A directory, device or link now where the file was: replacing it
	// by a regular file would not be writing the file that was read.
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file (a symlink?); not written")
	}
	cur, err := os.ReadFile(c.Path)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	// An edit saved in an editor while leakfix ran would be lost under the
	// rename: the fix was computed from c.Old, and is written only over it.
	if !bytes.Equal(cur, c.Old) {
		return "", fmt.Errorf("changed on disk since it was read; not written")
	}
	// Beside the target, so that the rename stays within one file system,
	// where it is atomic. The name starts with a dot and does not end in
	// .go: a temp file a crash leaves behind is not built, nor listed.
	f, err := os.CreateTemp(filepath.Dir(c.Path), "."+filepath.Base(c.Path)+".leakfix-*")
	if err != nil {
		return "", fmt.Errorf("cannot write: %w", unwrapPath(err))
	}
	_, err = f.Write(c.New)
	if err == nil {
		err = f.Chmod(info.Mode().Perm()) // CreateTemp makes it 0600
	}
	// Synced before the rename: otherwise a crash just after it could
	// leave the new name on an empty or partly written file.
	if err == nil {
		err = f.Sync()
	}
	// Close can report a write that failed late (on NFS, for one).
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("cannot write: %w", unwrapPath(err))
	}
	return f.Name(), nil
}

// unwrapPath drops the path from an *os.PathError: the error is already
// reported at the file.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
