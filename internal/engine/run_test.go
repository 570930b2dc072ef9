package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// run runs the engine on ./... in dir with a cache in cacheDir.
func run(t *testing.T, dir, cacheDir string, opts Options) *Result {
	t.Helper()
	opts.Dir, opts.Cache = dir, cacheDir
	res, err := Run(context.Background(), []string{"./..."}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	return res
}

func edit(t *testing.T, name string, f func(string) string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(f(string(data))), 0o666); err != nil {
		t.Fatal(err)
	}
}

func TestCache(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	cacheDir := t.TempDir()

	first := run(t, dir, cacheDir, Options{})
	if first.Cached != 0 {
		t.Fatalf("a run on an empty cache read %d packages from it", first.Cached)
	}
	if len(first.Findings) == 0 {
		t.Fatal("no findings; the test proves nothing")
	}
	second := run(t, dir, cacheDir, Options{})
	if second.Cached != second.Packages {
		t.Errorf("an unchanged run read %d of %d packages from the cache", second.Cached, second.Packages)
	}
	if !reflect.DeepEqual(second.Findings, first.Findings) || second.Generated != first.Generated || second.Packages != first.Packages {
		t.Errorf("from the cache:\n%+v\nfirst run:\n%+v", second, first)
	}

	// Other settings have entries of their own.
	if tests := run(t, dir, cacheDir, Options{Tests: true}); tests.Cached != 0 {
		t.Errorf("a run with tests read %d packages cached without them", tests.Cached)
	}

	// A changed file invalidates its package: the finding moves down a line.
	dot := filepath.Join(dir, "dot", "dot.go")
	edit(t, dot, func(s string) string { return strings.Replace(s, "package dot\n", "package dot\n\n// moved\n", 1) })
	third := run(t, dir, cacheDir, Options{})
	if third.Cached != third.Packages-1 {
		t.Errorf("after editing one file, %d of %d packages came from the cache; want all but one", third.Cached, third.Packages)
	}
	line := func(res *Result, pkg string) int {
		for _, f := range res.Findings {
			if f.Package == pkg {
				return f.Pos.Line
			}
		}
		return 0
	}
	if got, want := line(third, "example.com/edges/dot"), line(first, "example.com/edges/dot")+2; got != want {
		t.Errorf("after the edit the finding in dot is on line %d, want %d", got, want)
	}

	// A changed dependency invalidates the packages that import it: clock's
	// C stops being a channel of time.Time, so notime has nothing to report.
	edit(t, filepath.Join(dir, "clock", "clock.go"), func(s string) string {
		s = strings.Replace(s, "C <-chan time.Time", "C <-chan struct{}", 1)
		return strings.Replace(s, "return &Ticker{C: t.C, t: t}", "return &Ticker{C: make(chan struct{}), t: t}", 1)
	})
	fourth := run(t, dir, cacheDir, Options{})
	if got := line(fourth, "example.com/edges/notime"); got != 0 {
		t.Errorf("notime still reported on line %d after its dependency changed", got)
	}
	if fourth.Cached != fourth.Packages-2 {
		t.Errorf("after editing clock, %d of %d packages came from the cache; want all but clock and notime", fourth.Cached, fourth.Packages)
	}
}

// A fix needs the types of a package whose cached findings can be fixed; the
// cache must not stand in for them.
func TestCacheFix(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	cacheDir := t.TempDir()
	want := run(t, dir, "", Options{Fix: true})
	if len(want.Changes) == 0 {
		t.Fatal("no changes; the test proves nothing")
	}
	run(t, dir, cacheDir, Options{}) // fill the cache
	got := run(t, dir, cacheDir, Options{Fix: true})
	if !reflect.DeepEqual(got.Changes, want.Changes) || !reflect.DeepEqual(got.Findings, want.Findings) {
		t.Errorf("fix with a filled cache gave\n%+v\nwithout a cache\n%+v", got, want)
	}
	if got.Cached == 0 || got.Cached == got.Packages {
		t.Errorf("%d of %d packages came from the cache; want those without fixable findings", got.Cached, got.Packages)
	}
}

// A dependency outside the patterns is keyed by its files' sizes and times:
// changing it still invalidates the packages that import it.
func TestCacheDependencyOutsidePatterns(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	age(t, dir)
	cacheDir := t.TempDir()
	opts := Options{Dir: dir, Cache: cacheDir}
	runNotime := func() *Result {
		t.Helper()
		res, err := Run(context.Background(), []string{"./notime"}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if first := runNotime(); len(first.Findings) != 1 {
		t.Fatalf("notime: %d findings, want 1", len(first.Findings))
	}
	if second := runNotime(); second.Cached != 1 {
		t.Fatalf("an unchanged run read %d packages from the cache, want 1", second.Cached)
	}
	edit(t, filepath.Join(dir, "clock", "clock.go"), func(s string) string {
		s = strings.Replace(s, "C <-chan time.Time", "C <-chan struct{}", 1)
		return strings.Replace(s, "return &Ticker{C: t.C, t: t}", "return &Ticker{C: make(chan struct{}), t: t}", 1)
	})
	third := runNotime()
	if third.Cached != 0 || len(third.Findings) != 0 {
		t.Errorf("after its dependency changed, notime came from the cache (%d) with %d findings, want 0 and 0", third.Cached, len(third.Findings))
	}
	age(t, dir) // now the dependency is keyed by size and time again
	if fourth := runNotime(); len(fourth.Findings) != 0 {
		t.Errorf("notime has %d findings once its changed dependency is old", len(fourth.Findings))
	}
}
