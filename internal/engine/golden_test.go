package engine

import (
	"context"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aymanbagabas/go-udiff"
	"golang.org/x/tools/txtar"
)

// TestGoldenLoadPaths runs every golden case through each way Run can load
// and analyse it, and requires of every way the answer of the reference (a
// go/packages typed load of every package, as leakfix did before it had a
// syntactic pass). For check (Options{}), check with tests and fix
// (Options{Mode: ModeDiff, Edits: true}) it loads the case once with the reference and once
// with Run, and builds on those two runs every property below, so that the
// case is loaded no more often than the properties need:
//
//   - the syntactic pass keeps every package the reference reports on, and
//     Run finds what the reference finds (check and check with tests); fix,
//     which finds on the fast load and loads again with types only the
//     packages to fix and their importers, gives the reference's findings
//     (with their edits, reasons and callers) and changes;
//   - with a go command that cannot run the compiler (or cgo, or any other
//     tool) and an empty build cache, fix and check with tests still give
//     the reference's answer: every type comes from source. (With tests, the
//     golden cases' tests call the Shutdown that only the fix adds: their
//     errors are reported from source too.);
//   - with an empty result cache, check and fix give the reference's
//     answer (Run's own run of them has one: a run without a cache is
//     what the runs without tools make), and a second run reads every
//     package from the cache and gives the same again;
//   - the edits fix divides among the findings are whole lines, never
//     overlap, and together give exactly the change fix writes; in a case
//     with two fixed findings each gets its own share.
func TestGoldenLoadPaths(t *testing.T) {
	names, err := filepath.Glob("../../testdata/golden/*.txtar")
	if err != nil || len(names) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	noTools := append(os.Environ(), "GOFLAGS=-toolexec=/bin/false", "GOCACHE="+t.TempDir())
	var found, fixed, fixedNoTools atomic.Int64
	t.Run("cases", func(t *testing.T) {
		for _, name := range names {
			t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
				t.Parallel()
				a, err := txtar.ParseFile(name)
				if err != nil {
					t.Fatal(err)
				}
				dir := writeArchive(t, a)
				for _, opts := range []Options{{}, {Tests: true}, {Mode: ModeDiff, Edits: true}} {
					what := fmt.Sprintf("tests=%v fix=%v", opts.Tests, opts.Edits)
					want := reference(t, dir, nil, opts)
					cacheDir := ""
					if !opts.Tests {
						cacheDir = t.TempDir()
					}
					got := runIn(t, dir, cacheDir, opts)
					if opts.Edits {
						fixed.Add(int64(countFixed(want)))
						compareRefix(t, got, want)
						checkEdits(t, got, strings.TrimSuffix(filepath.Base(name), ".txtar"))
					} else {
						found.Add(int64(len(want.Findings)))
						comparePrefilter(t, dir, []string{"./..."}, opts, got, want)
					}
					if opts.Tests || opts.Edits {
						n := compareNoTools(t, what, dir, noTools, opts, want)
						fixedNoTools.Add(int64(n))
					}
					if !opts.Tests {
						compareCached(t, dir, cacheDir, opts, got)
					}
				}
			})
		}
	})
	if found.Load() == 0 || fixed.Load() == 0 {
		t.Errorf("the golden cases have %d findings, %d fixed; the test proves nothing", found.Load(), fixed.Load())
	}
	if fixedNoTools.Load() == 0 {
		t.Error("nothing was fixed without the compiler; the test proves little")
	}
}

// compareNoTools runs Run in dir with a go command that can run no tool,
// and requires the reference's errors, findings and changes. It returns how
// many findings it fixed.
func compareNoTools(t *testing.T, what, dir string, noTools []string, opts Options, want *Result) int {
	t.Helper()
	opts.Dir, opts.Env = dir, noTools
	got, err := Run(context.Background(), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Errors) != fmt.Sprint(want.Errors) {
		t.Errorf("%s without tools: errors %v, want (go/packages typed load) %v", what, got.Errors, want.Errors)
	}
	if !reflect.DeepEqual(got.Findings, want.Findings) {
		t.Errorf("%s without tools: found\n%+v\nwant (go/packages typed load)\n%+v", what, got.Findings, want.Findings)
	}
	if !reflect.DeepEqual(got.Changes, want.Changes) {
		t.Errorf("%s without tools: changed %d files, the typed load %d, or not the same way", what, len(got.Changes), len(want.Changes))
	}
	return countFixed(got)
}

// compareCached runs Run in dir again with the result cache that first,
// a run with an empty cache, filled: it must read every package from the
// cache, and give what first gave.
func compareCached(t *testing.T, dir, cacheDir string, opts Options, first *Result) {
	t.Helper()
	second := runIn(t, dir, cacheDir, opts)
	if diff := sameResult(second, first); diff != "" {
		t.Errorf("%+v: from the cache: %s", opts, diff)
	}
	if first.Cached != 0 || second.Cached != second.Packages || second.Packages == 0 {
		t.Errorf("%+v: %d of %d packages from an empty cache, then %d of %d", opts, first.Cached, first.Packages, second.Cached, second.Packages)
	}
}

// checkEdits checks that the edits divided among the findings of a fix are
// whole lines, never overlap, and together give exactly the change fix
// writes; and that in the case two_loops each of the two fixed findings
// gets its own share.
func checkEdits(t *testing.T, res *Result, name string) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Errorf("fix: %v", res.Errors)
		return
	}
	byPath := map[string][]udiff.Edit{}
	fixed := 0
	// The starts of one method that honours the context they hand it
	// share that method's one change, which the first of them carries.
	changed := map[token.Position]bool{} // the goroutines' functions that a finding's edits change
	for _, f := range res.Findings {
		for _, r := range f.Related {
			if strings.HasPrefix(r.Message, "the goroutine runs ") && len(f.Edits) > 0 {
				changed[r.Pos] = true
			}
		}
	}
	for _, f := range res.Findings {
		if !f.Fixed {
			if len(f.Edits) > 0 {
				t.Errorf("%s: unfixed finding has edits", f.Pos)
			}
			continue
		}
		fixed++
		shared := slices.ContainsFunc(f.Related, func(r Related) bool {
			return strings.HasPrefix(r.Message, "the goroutine runs ") && changed[r.Pos]
		})
		if len(f.Edits) == 0 && !shared {
			t.Errorf("%s: fixed finding has no edits", f.Pos)
		}
		for _, e := range f.Edits {
			if e.Start.Column != 1 || e.End.Column != 1 {
				t.Errorf("%s: edit %v-%v is not whole lines", f.Pos, e.Start, e.End)
			}
			byPath[e.Path] = append(byPath[e.Path], udiff.Edit{Start: e.Start.Offset, End: e.End.Offset, New: e.New})
		}
	}
	for _, ch := range res.Changes {
		got, err := udiff.Apply(string(ch.Old), byPath[ch.Path])
		if err != nil {
			t.Errorf("%s: %v", ch.Path, err)
			return
		}
		if got != string(ch.New) {
			t.Errorf("%s: the findings' edits give\n%s", ch.Path, udiff.Unified("want", "got", string(ch.New), got))
		}
		delete(byPath, ch.Path)
	}
	if len(byPath) > 0 {
		t.Errorf("edits of files fix does not change: %v", byPath)
	}
	if name == "two_loops" && fixed != 2 {
		t.Errorf("two_loops: %d findings fixed, want 2", fixed)
	}
	// A wiring's edit belongs to the finding whose cleanup it calls, not
	// to the finding nearest to it.
	for line, file := range wiredBy[name] {
		owner := ""
		for _, f := range res.Findings {
			for _, e := range f.Edits {
				if strings.Contains(e.New, line) {
					owner = filepath.Base(f.Pos.Filename)
				}
			}
		}
		if owner != file {
			t.Errorf("the edit adding %q belongs to the finding in %q, want the one in %s", line, owner, file)
		}
	}
}

// wiredBy names, per golden case, a line a wiring adds and the file of the
// finding whose cleanup it calls.
var wiredBy = map[string]map[string]string{
	"wire_field":       {"defer s.pages.Shutdown()": "cache.go"},
	"wire_local_defer": {"defer m.Shutdown()": "meter.go"},
}

func countFixed(res *Result) int {
	n := 0
	for _, f := range res.Findings {
		if f.Fixed {
			n++
		}
	}
	return n
}
