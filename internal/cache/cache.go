// Package cache keeps leakfix's per-package results between runs, so that a
// run on unchanged code (a bot on every push, an editor on every save) reads
// them back instead of parsing and type-checking again.
//
// Entries are small files named by a key the caller computes from everything
// the result depends on; the cache never decides what is stale. An entry is
// written atomically (temp file and rename), so concurrent runs at worst
// compute the same entry twice.
package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Env names the environment variable that overrides the cache directory;
// "off" turns the cache off.
const Env = "LEAKFIX_CACHE"

// Dir returns the cache directory: $LEAKFIX_CACHE, or leakfix under the
// user's cache directory. It returns "" when the cache is off or there is no
// place for it.
func Dir() string {
	if d := os.Getenv(Env); d != "" {
		if d == "off" {
			return ""
		}
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "leakfix")
}

// A Key names one entry: a hash of everything the entry depends on.
type Key [sha256.Size]byte

func (k Key) String() string { return hex.EncodeToString(k[:]) }

// A Cache is a directory of entries.
type Cache struct {
	dir string
}

// Open returns the cache in dir, creating the directory if needed.
func Open(dir string) (*Cache, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("cache directory %s: not an absolute path", dir)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	return &Cache{dir: dir}, nil
}

// Dir returns the directory the cache lives in.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(k Key) string {
	s := k.String()
	return filepath.Join(c.dir, s[:2], s+"-r")
}

// usedQuantum is how stale an entry's modification time may be before a hit
// refreshes it; refreshing on every hit would cost a write per package.
const usedQuantum = time.Hour

// Get returns the entry for k, if there is one.
func (c *Cache) Get(k Key) ([]byte, bool) {
	name := c.path(k)
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, false
	}
	if fi, err := os.Stat(name); err == nil && time.Since(fi.ModTime()) > usedQuantum {
		now := time.Now()
		os.Chtimes(name, now, now) // best effort: a missed refresh only makes Trim drop the entry sooner
	}
	return data, true
}

// Put stores data as the entry for k.
func (c *Cache) Put(k Key, data []byte) error {
	name := c.path(k)
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// Trim settings: entries unused for maxAge are removed, at most once per
// trimInterval.
const (
	maxAge       = 5 * 24 * time.Hour
	trimInterval = 24 * time.Hour
)

// Trim removes entries that no run has used for a few days. It does the work
// at most once a day, so it is cheap to call on every run.
func (c *Cache) Trim() error {
	return c.trim(time.Now())
}

// Usage returns how many entries the cache holds and their size in bytes.
func (c *Cache) Usage() (entries int, size int64, err error) {
	err = c.walkEntries(func(path string, fi fs.FileInfo) {
		entries++
		size += fi.Size()
	})
	return entries, size, err
}

// Clean removes every entry, and the files of writes that never finished.
// It leaves anything else in the directory alone.
func (c *Cache) Clean() (removed int, err error) {
	err = c.walkEntries(func(path string, fi fs.FileInfo) {
		if os.Remove(path) == nil && strings.HasSuffix(path, "-r") {
			removed++
		}
	})
	return removed, err
}

// walkEntries calls f for every entry file and unfinished write.
func (c *Cache) walkEntries(f func(path string, fi fs.FileInfo)) error {
	err := filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if name := d.Name(); !strings.HasSuffix(name, "-r") && !strings.HasPrefix(name, ".tmp-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f(path, fi)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

func (c *Cache) trim(now time.Time) error {
	stamp := filepath.Join(c.dir, "trim.txt")
	if fi, err := os.Stat(stamp); err == nil && now.Sub(fi.ModTime()) < trimInterval {
		return nil
	}
	if err := os.WriteFile(stamp, []byte(now.Format(time.RFC3339)+"\n"), 0o666); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // an unreadable directory is left alone
		}
		name := d.Name()
		if !strings.HasSuffix(name, "-r") && !strings.HasPrefix(name, ".tmp-") {
			return nil
		}
		if fi, err := d.Info(); err == nil && now.Sub(fi.ModTime()) > maxAge {
			os.Remove(path)
		}
		return nil
	})
}

// Field writes a length-prefixed name and value to h, so that no two
// different sequences of fields hash alike: the keys of the cache are
// made of them.
func Field(h hash.Hash, name, value string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	h.Write([]byte(name))
	h.Write(n[:])
	h.Write([]byte(value))
}
