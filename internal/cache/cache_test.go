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
