package engine

import (
	"context"
	"testing"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestSplitFix checks, on every golden case, that the edits divided among
// the findings are whole lines, never overlap, and together give exactly
// the change fix writes; and that in a case with two fixed findings each
// gets its own share.
func TestSplitFix(t *testing.T) {
	for _, c := range golden.Load(t, "../../testdata/golden") {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			c.WriteInputs(t, dir)
			res, err := Run(context.Background(), nil, Options{Dir: dir, Edits: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			byPath := map[string][]udiff.Edit{}
			fixed := 0
			for _, f := range res.Findings {
				if !f.Fixed {
					if len(f.Edits) > 0 {
						t.Errorf("%s: unfixed finding has edits", f.Pos)
					}
					continue
				}
				fixed++
				if len(f.Edits) == 0 {
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
					t.Fatalf("%s: %v", ch.Path, err)
				}
				if got != string(ch.New) {
					t.Errorf("%s: the findings' edits give\n%s", ch.Path, udiff.Unified("want", "got", string(ch.New), got))
				}
				delete(byPath, ch.Path)
			}
			if len(byPath) > 0 {
				t.Errorf("edits of files fix does not change: %v", byPath)
			}
			if c.Name == "two_loops" && fixed != 2 {
				t.Errorf("two_loops: %d findings fixed, want 2", fixed)
			}
		})
	}
}
