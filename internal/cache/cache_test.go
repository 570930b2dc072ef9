package cache

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPutGet(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := Key(sha256.Sum256([]byte("a"))), Key(sha256.Sum256([]byte("b")))
	if _, ok := c.Get(a); ok {
		t.Fatal("an empty cache has an entry")
	}
	if err := c.Put(a, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get(a); !ok || string(got) != "one" {
		t.Fatalf("Get = %q, %v; want one", got, ok)
	}
	if _, ok := c.Get(b); ok {
		t.Fatal("another key finds the entry")
	}
	if err := c.Put(a, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(a); string(got) != "two" {
		t.Fatalf("after a second Put, Get = %q; want two", got)
	}
	// Nothing but the entry itself is left behind (no temp files).
	n := 0
	filepath.WalkDir(c.Dir(), func(path string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Errorf("%d files in the cache, want 1", n)
	}
}

func TestOpenRelative(t *testing.T) {
	if _, err := Open("relative/dir"); err == nil {
		t.Error("Open of a relative directory succeeded")
	}
}

func TestTrim(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := Key(sha256.Sum256([]byte("old"))), Key(sha256.Sum256([]byte("fresh")))
	for _, k := range []Key{old, fresh} {
		if err := c.Put(k, []byte(k.String())); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	long := now.Add(-maxAge - time.Hour)
	if err := os.Chtimes(c.path(old), long, long); err != nil {
		t.Fatal(err)
	}
	if err := c.trim(now); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(old); ok {
		t.Error("an entry unused for longer than maxAge survived Trim")
	}
	if _, ok := c.Get(fresh); !ok {
		t.Error("a recently used entry was trimmed")
	}

	// Within trimInterval of the last trim nothing is removed.
	if err := c.Put(old, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(c.path(old), long, long); err != nil {
		t.Fatal(err)
	}
	if err := c.trim(now.Add(trimInterval / 2)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(old); !ok {
		t.Error("Trim ran again before trimInterval passed")
	}
}

// A hit on an entry that has not been used for a while marks it used, so
// that Trim keeps entries that runs still read.
func TestGetRefreshes(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := Key(sha256.Sum256([]byte("k")))
	if err := c.Put(k, []byte("v")); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-maxAge - time.Hour)
	if err := os.Chtimes(c.path(k), long, long); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get(k); !ok || !bytes.Equal(got, []byte("v")) {
		t.Fatalf("Get = %q, %v", got, ok)
	}
	if err := c.trim(time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(k); !ok {
		t.Error("an entry read just before Trim was removed")
	}
}

func TestDir(t *testing.T) {
	t.Setenv(Env, "/some/where")
	if got := Dir(); got != "/some/where" {
		t.Errorf("Dir() = %q with %s set", got, Env)
	}
	t.Setenv(Env, "off")
	if got := Dir(); got != "" {
		t.Errorf("Dir() = %q with %s=off, want none", got, Env)
	}
	t.Setenv(Env, "")
	if user, err := os.UserCacheDir(); err == nil {
		if got, want := Dir(), filepath.Join(user, "leakfix"); got != want {
			t.Errorf("Dir() = %q, want %q", got, want)
		}
	}
}

// TestUsageClean checks that Usage counts the entries and Clean removes them,
// and nothing else the directory holds.
func TestUsageClean(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := c.Put(Key(sha256.Sum256([]byte(s))), []byte("entry "+s)); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("not an entry"), 0o666); err != nil {
		t.Fatal(err)
	}
	if n, size, err := c.Usage(); err != nil || n != 3 || size != 3*int64(len("entry a")) {
		t.Fatalf("Usage = %d entries, %d bytes, %v; want 3, %d", n, size, err, 3*len("entry a"))
	}
	if n, err := c.Clean(); err != nil || n != 3 {
		t.Fatalf("Clean = %d, %v; want 3 removed", n, err)
	}
	if n, _, _ := c.Usage(); n != 0 {
		t.Errorf("%d entries left after Clean", n)
	}
	if _, ok := c.Get(Key(sha256.Sum256([]byte("a")))); ok {
		t.Error("an entry is still found after Clean")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("Clean removed a file that is not an entry: %v", err)
	}
}
