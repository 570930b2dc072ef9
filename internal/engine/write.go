package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// writeAll writes every change atomically: each new content goes to a temp
// file beside its target, and only when all of them are written and synced
// are they renamed into place. A file that changed on disk since it was read
// is not written. Any failure before the renames leaves every file as it was.
func writeAll(changes []Change) []error {
	type pending struct {
		tmp, path string
	}
	var (
		errs  []error
		ready []pending
	)
	for _, c := range changes {
		tmp, err := prepare(c)
		if err != nil {
			errs = append(errs, &PosError{Pos: c.Path, Msg: err.Error()})
			continue
		}
		ready = append(ready, pending{tmp, c.Path})
	}
	if len(errs) > 0 {
		for _, p := range ready {
			os.Remove(p.tmp)
		}
		return append(errs, &PosError{Msg: "no file was written"})
	}
	for _, p := range ready {
		if err := os.Rename(p.tmp, p.path); err != nil {
			os.Remove(p.tmp)
			errs = append(errs, &PosError{Pos: p.path, Msg: err.Error()})
		}
	}
	return errs
}

// prepare writes c.New to a synced temp file in c.Path's directory, with
// c.Path's mode, after checking that c.Path still holds c.Old.
func prepare(c Change) (string, error) {
	info, err := os.Lstat(c.Path)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file (a symlink?); not written")
	}
	cur, err := os.ReadFile(c.Path)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(cur, c.Old) {
		return "", fmt.Errorf("changed on disk since it was read; not written")
	}
	f, err := os.CreateTemp(filepath.Dir(c.Path), "."+filepath.Base(c.Path)+".leakfix-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(c.New)
	if err == nil {
		err = f.Chmod(info.Mode().Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
