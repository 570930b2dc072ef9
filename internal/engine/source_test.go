package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestNeverCompiles runs check and fix over every golden case with an
// empty build cache and a go command that cannot run the compiler (or
// cgo, or any other tool): what they report and write must be what the
// reference, a go/packages typed load of every package with a working go
// command, gives. So check, diff and fix get every type from source. (With
// tests, the golden cases' tests call the Shutdown that only the fix adds:
// their errors are reported from source too.)
func TestNeverCompiles(t *testing.T) {
	names, err := filepath.Glob("../../testdata/golden/*.txtar")
	if err != nil || len(names) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	noTools := append(os.Environ(), "GOFLAGS=-toolexec=/bin/false", "GOCACHE="+t.TempDir())
	var fixed atomic.Int64
	t.Run("cases", func(t *testing.T) {
		for _, name := range names {
			t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
				t.Parallel()
				a, err := txtar.ParseFile(name)
				if err != nil {
					t.Fatal(err)
				}
				dir := writeArchive(t, a)
				// fix finds as check does first; with tests, the test
				// variants are checked from source too.
				for _, opts := range []Options{{Edits: true}, {Tests: true}} {
					what := fmt.Sprintf("tests=%v fix=%v", opts.Tests, opts.Edits)
					want := reference(t, dir, nil, opts)
					opts.Dir, opts.Env = dir, noTools
					got, err := Run(context.Background(), nil, opts)
					if err != nil {
						t.Fatal(err)
					}
					if fmt.Sprint(got.Errors) != fmt.Sprint(want.Errors) {
						t.Errorf("%s: errors %v, want (go/packages typed load) %v", what, got.Errors, want.Errors)
					}
					if !reflect.DeepEqual(got.Findings, want.Findings) {
						t.Errorf("%s: found\n%+v\nwant (go/packages typed load)\n%+v", what, got.Findings, want.Findings)
					}
					if !reflect.DeepEqual(got.Changes, want.Changes) {
						t.Errorf("%s: changed %d files, the typed load %d, or not the same way", what, len(got.Changes), len(want.Changes))
					}
					for _, f := range got.Findings {
						if f.Fixed {
							fixed.Add(1)
						}
					}
				}
			})
		}
	})
	if fixed.Load() == 0 {
		t.Error("nothing was fixed; the test proves little")
	}
}
