package load

import (
	"context"
	"fmt"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"golang.org/x/tools/go/packages"
)

// TestSharedStd checks that Checkers on SharedFset with Std set share the
// standard library's types, even when they check at the same time, and that
// nothing is shared that could differ: a Checker with a file set of its own,
// other type sizes, a file of the package in its overlay, or the package
// wanted in full gets types of its own.
func TestSharedStd(t *testing.T) {
	ctx := context.Background()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	std := filepath.Join(strings.TrimSpace(string(out)), "src")
	roots, err := List(&Config{Context: ctx, Dir: "."}, "context")
	if err != nil {
		t.Fatal(err)
	}
	sizes := types.SizesFor("gc", runtime.GOARCH)
	check := func(c *Checker, need Need) *packages.Package {
		t.Helper()
		if err := c.Check(ctx, roots, func(*packages.Package) Need { return need }); err != nil {
			t.Fatal(err)
		}
		p, ok := c.Package(roots[0])
		if !ok {
			t.Fatalf("context: %v", p.Errors)
		}
		return p
	}
	shared := func() *Checker { return &Checker{Fset: SharedFset, Sizes: sizes, Std: std, Info: info} }

	var a, b *packages.Package
	var wg sync.WaitGroup
	wg.Go(func() { a = check(shared(), API) })
	wg.Go(func() { b = check(shared(), API) })
	wg.Wait()
	if a.Types != b.Types || a.Imports["time"].Types != b.Imports["time"].Types {
		t.Fatal("two Checkers on the shared file set have two sets of types for context and time")
	}

	own := check(&Checker{Fset: token.NewFileSet(), Sizes: sizes, Std: std, Info: info}, API)
	// The same word size and alignment, but go/types' own rules for them
	// rather than gc's.
	other := shared()
	other.Sizes = &types.StdSizes{WordSize: 8, MaxAlign: 8}
	sized := check(other, API)
	file := roots[0].GoFiles[0]
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	overlaid := shared()
	overlaid.Overlay = map[string][]byte{file: src}
	over := check(overlaid, API)
	full := check(shared(), Full)
	for what, p := range map[string]*packages.Package{"its own file set": own, "other sizes": sized, "an overlay": over, "the package in full": full} {
		if p.Types == a.Types {
			t.Errorf("a Checker with %s was given the shared types of context", what)
		}
	}
	// Only context differs in an overlay of one of its files: time, which
	// it imports, is still shared.
	if over.Imports["time"].Types != a.Imports["time"].Types {
		t.Error("an overlay of context's file unshared time")
	}
}

// TestSharedAfterPanic: when the Checker making a shared result does not
// end (put with nil), one of those waiting for it makes it instead, and the
// result it puts serves the next.
func TestSharedAfterPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := fmt.Sprintf("%s %p", t.Name(), t) // new on every run
		if _, ok := shared(key); ok {
			t.Fatal("a new key has a result")
		}
		waiter := make(chan bool)
		go func() {
			_, ok := shared(key)
			waiter <- ok
		}()
		synctest.Wait() // the waiter waits for the first maker
		put(key, nil, false)
		if <-waiter {
			t.Fatal("a result that was never made was given out")
		}
		// The waiter is now the maker: its put ends the next one's wait.
		want := types.NewPackage("example.com/p", "p")
		put(key, &packages.Package{Types: want}, false)
		if r, ok := shared(key); !ok || r.types != want {
			t.Fatalf("after the second maker's put: %v, %v", r, ok)
		}
	})
}
