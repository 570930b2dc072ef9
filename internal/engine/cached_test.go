package engine

import (
	"context"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/internal/load"
)

// runIn runs the patterns in dir with the result cache in cacheDir ("" for
// none).
func runIn(t *testing.T, dir, cacheDir string, opts Options, patterns ...string) *Result {
	t.Helper()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	opts.Dir, opts.Cache = dir, cacheDir
	res, err := Run(context.Background(), patterns, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sameResult reports how got differs from want, or "".
func sameResult(got, want *Result) string {
	switch {
	case !reflect.DeepEqual(got.Findings, want.Findings):
		return "findings differ:\n" + describeFindings(got.Findings) + "\nwant\n" + describeFindings(want.Findings)
	case !reflect.DeepEqual(got.Changes, want.Changes):
		return "changes differ"
	case got.Packages != want.Packages || got.Generated != want.Generated || got.NotAnalysed != want.NotAnalysed:
		return "counts differ"
	case len(got.Errors) != len(want.Errors):
		return "errors differ"
	}
	return ""
}

func describeFindings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Pos.String() + ": " + f.Rule + ": " + f.Message + "\n")
	}
	return b.String()
}

// TestCacheEdges runs the prefilter's edge cases three times: without the
// cache, with an empty one, and with the one the second run filled. The
// third run must read every package from the cache and report exactly what
// the first did, for check, diff and check with tests. (The golden cases,
// whose tests do not compile before the fix, are run so by
// TestGoldenLoadPaths without tests.)
func TestCacheEdges(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	for _, opts := range []Options{{}, {Mode: ModeDiff, Edits: true}, {Tests: true}} {
		uncached := runIn(t, dir, "", opts)
		cacheDir := t.TempDir()
		first := runIn(t, dir, cacheDir, opts)
		if diff := sameResult(first, uncached); diff != "" {
			t.Errorf("%+v: with an empty cache: %s", opts, diff)
		}
		compareCached(t, dir, cacheDir, opts, first)
	}
}

// TestCacheKeys changes what a result depends on, one thing at a time, and
// checks that exactly the results that depend on it are computed again.
func TestCacheKeys(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	age(t, dir)
	cacheDir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	reported := func(res *Result, pkg string) bool {
		for _, f := range res.Findings {
			if f.Package == "example.com/edges/"+pkg {
				return true
			}
		}
		return false
	}

	first := runIn(t, dir, cacheDir, Options{})
	second := runIn(t, dir, cacheDir, Options{})
	if second.Cached != second.Packages {
		t.Fatalf("%d of %d packages from the cache on an unchanged run", second.Cached, second.Packages)
	}
	if !reported(first, "notime") {
		t.Fatal("notime has no finding; the test of its dependency proves nothing")
	}

	// Settings: a result computed under others is not reused.
	for name, opts := range map[string]Options{
		"tests":        {Tests: true},
		"rules":        {Rules: []string{"unstoppable-loop"}},
		"build flags":  {BuildFlags: []string{"-tags=extra"}},
		"platform":     {Platforms: []string{"windows/amd64"}},
		"untrusted":    {Untrusted: true},
		"GOEXPERIMENT": {Env: append(os.Environ(), "GOEXPERIMENT=")},
	} {
		if res := runIn(t, dir, cacheDir, opts); res.Cached != 0 {
			t.Errorf("%s: %d packages from the cache of another setting", name, res.Cached)
		}
	}

	// Options.Keep is applied to cached results, not cached with them.
	none := runIn(t, dir, cacheDir, Options{Keep: func(string, token.Position, token.Position) bool { return false }})
	if len(none.Findings) != 0 || none.Cached != none.Packages {
		t.Errorf("Keep rejecting everything: %d findings, %d of %d packages from the cache", len(none.Findings), none.Cached, none.Packages)
	}
	if again := runIn(t, dir, cacheDir, Options{}); sameResult(again, first) != "" || again.Cached != again.Packages {
		t.Errorf("after a run with Keep: %s; %d of %d packages from the cache", sameResult(again, first), again.Cached, again.Packages)
	}

	// A dependency changes: clock's ticker no longer delivers times, so the
	// loop in notime, which ranges over it, is no longer timed. Only clock
	// and notime, which imports it, are analysed again.
	write("clock/clock.go", `// Package clock gives tickers without its users importing time.
package clock

// A Ticker ticks on C.
type Ticker struct {
	C <-chan struct{}
}

// NewTicker ticks every ms milliseconds.
func NewTicker(ms int) *Ticker {
	return &Ticker{C: make(chan struct{})}
}
`)
	third := runIn(t, dir, cacheDir, Options{})
	if reported(third, "notime") {
		t.Error("notime is still reported after its dependency stopped ticking")
	}
	if third.Cached != third.Packages-2 {
		t.Errorf("after a change to clock: %d of %d packages from the cache, want all but clock and notime", third.Cached, third.Packages)
	}

	// A new file with a leak in a package whose other files did not change.
	write("quiet/loop.go", golden.Leaky("quiet"))
	if fourth := runIn(t, dir, cacheDir, Options{}); !reported(fourth, "quiet") {
		t.Error("a leak in a new file of a cached package is not reported")
	}

	// A damaged entry is computed again.
	err := filepath.WalkDir(cacheDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "-r") {
			err = os.WriteFile(path, []byte("{not json"), 0o666)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := runIn(t, dir, "", Options{})
	if got := runIn(t, dir, cacheDir, Options{}); sameResult(got, want) != "" || got.Cached != 0 {
		t.Errorf("with damaged entries: %s; %d packages from the cache", sameResult(got, want), got.Cached)
	}
}

// TestCacheThenFix fixes from cached results: a package whose cached
// findings can be fixed is loaded again with types and fixed, as without
// the cache.
func TestCacheThenFix(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	cacheDir := t.TempDir()
	runIn(t, dir, cacheDir, Options{})
	want := runIn(t, dir, "", Options{Mode: ModeDiff, Edits: true})
	got := runIn(t, dir, cacheDir, Options{Mode: ModeDiff, Edits: true})
	if diff := sameResult(got, want); diff != "" {
		t.Error(diff)
	}
	if len(want.Changes) == 0 || got.Cached == 0 {
		t.Errorf("%d files changed, %d packages from the cache: the test proves nothing", len(want.Changes), got.Cached)
	}
}

// TestBinaryID checks that a build of leakfix is known by its content: the
// same binary built again elsewhere, later, shares its results; another
// does not.
func TestBinaryID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyOf := func(name string, data []byte) string {
		t.Helper()
		name = filepath.Join(dir, name)
		if err := os.WriteFile(name, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return name
	}
	id := func(name string) string {
		t.Helper()
		s, err := binaryID(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	same := copyOf("same", data)
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(same, old, old); err != nil {
		t.Fatal(err)
	}
	other := copyOf("other", append(append([]byte(nil), data...), 0))
	if id(same) != id(exe) {
		t.Error("a copy of the binary with another name and time has another identity")
	}
	if id(other) == id(exe) {
		t.Error("a different binary has the same identity")
	}
	if got, err := executable(); err != nil || got == "" {
		t.Errorf("executable() = %q, %v", got, err)
	}
}

// TestCachedStd checks a second, unchanged check of the standard library:
// every package, vendored ones included, comes from the cache, the listing
// too, and the go command does not run at all.
func TestCachedStd(t *testing.T) {
	if testing.Short() {
		t.Skip("checks the standard library")
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "src")
	cacheDir := t.TempDir()
	first := runIn(t, dir, cacheDir, Options{}, "std")
	_, before := load.Runs()
	second := runIn(t, dir, cacheDir, Options{}, "std")
	if diff := sameResult(second, first); diff != "" {
		t.Error(diff)
	}
	if second.Cached != second.Packages || second.Packages < 100 {
		t.Errorf("%d of %d packages from the cache", second.Cached, second.Packages)
	}
	if _, after := load.Runs(); after != before {
		t.Errorf("the go command ran %d times on an unchanged run", after-before)
	}
}

// TestTuneGC checks that a run allowed to tune the garbage collector gives
// the process back the target it had.
func TestTuneGC(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	old := debug.SetGCPercent(137)
	defer debug.SetGCPercent(old)
	for _, opts := range []Options{{TuneGC: true}, {TuneGC: true, Mode: ModeDiff, Edits: true}} {
		runIn(t, dir, "", opts)
		if got := debug.SetGCPercent(137); got != 137 {
			t.Errorf("%+v: after the run the GC target is %d, want 137 as before", opts, got)
		}
	}
}
