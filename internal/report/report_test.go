package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/internal/version"
)

// The source the sample findings are on. Line 8 has a multi-byte rune
// before the go statement, so byte and UTF-16 columns differ there.
const sampleOld = `package p

import "time"

type T struct {
	n int
}

func New() *T {
	t := &T{}
	/* é */ go func() {
		for range time.Tick(time.Second) {
			t.n++
		}
	}()

	return t
}

func free() {
	go func() {
		for range time.Tick(time.Second) {
		}
	}()
	// A comment the fix replaces with a blank line.
}
`

// sampleNew is sampleOld after the fix the sample's edits make: an import
// replaced, a field added, a blank line inserted, a comment replaced by a
// blank line, and a method appended at the end of the file.
const sampleNew = `package p

import (
	"context"
	"time"
)

type T struct {
	n int
	stop context.CancelFunc
}

func New() *T {
	t := &T{}
	/* é */ go func() {
		for range time.Tick(time.Second) {
			t.n++
		}
	}()


	return t
}

func free() {
	go func() {
		for range time.Tick(time.Second) {
		}
	}()

}

func (t *T) Shutdown() {}
`

// sample returns a directory holding p/p.go and findings on it whose edits
// turn sampleOld into sampleNew.
func sample(t *testing.T) (string, []engine.Finding) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p", "p.go")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sampleOld), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := lineOffsets(sampleOld)
	pos := func(line, col int) token.Position {
		return token.Position{Filename: path, Line: line, Column: col, Offset: lines[line-1] + col - 1}
	}
	var edits []engine.Edit
	for _, e := range udiff.Lines(sampleOld, sampleNew) {
		edits = append(edits, engine.Edit{Path: path, Start: at(path, lines, e.Start), End: at(path, lines, e.End), New: e.New})
	}
	return dir, []engine.Finding{
		{
			Rule: "unstoppable-loop", Message: "goroutine started in New ticks forever with no way to stop it",
			Package: "example.com/p", Fixable: true, Fixed: true,
			Pos: pos(11, 11), End: pos(15, 5),
			Related: []engine.Related{{Pos: pos(12, 3), Message: "this loop never ends"}},
			Edits:   edits,
		},
		{
			Rule: "unstoppable-loop", Message: "goroutine started in free ticks forever with no way to stop it",
			Package: "example.com/p", Unfixed: "loop started in a free function with no owner type",
			Pos: pos(21, 2), End: pos(24, 5),
		},
	}
}

func lineOffsets(src string) []int {
	offs := []int{0}
	for i, c := range src {
		if c == '\n' {
			offs = append(offs, i+1)
		}
	}
	return offs
}

func at(path string, lines []int, off int) token.Position {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] <= off {
			return token.Position{Filename: path, Offset: off, Line: i + 1, Column: off - lines[i] + 1}
		}
	}
	panic("bad offset")
}

// TestVersion checks that SARIF and JSON name the same leakfix version,
// the one leakfix version prints.
func TestVersion(t *testing.T) {
	dir, findings := sample(t)
	in := &Input{Dir: dir, Findings: findings}
	var sarif struct {
		Runs []struct {
			Tool struct {
				Driver struct{ Name, Version string }
			}
		}
	}
	var js struct {
		Tool struct{ Name, Version string }
	}
	for format, v := range map[string]any{"sarif": &sarif, "json": &js} {
		var buf bytes.Buffer
		if err := Write(&buf, format, in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(buf.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
	if len(sarif.Runs) != 1 {
		t.Fatalf("%d SARIF runs", len(sarif.Runs))
	}
	want := version.String()
	if d := sarif.Runs[0].Tool.Driver; d.Name != "leakfix" || d.Version != want {
		t.Errorf("SARIF driver %s %s, want leakfix %s", d.Name, d.Version, want)
	}
	if js.Tool.Name != "leakfix" || js.Tool.Version != want {
		t.Errorf("JSON tool %s %s, want leakfix %s", js.Tool.Name, js.Tool.Version, want)
	}
}

// TestFormats compares each format's output on the sample with
// testdata/<format>.golden (rewritten by -update).
func TestFormats(t *testing.T) {
	dir, findings := sample(t)
	in := &Input{Dir: dir, Findings: findings, Errors: []error{&engine.PosError{Path: filepath.Join(dir, "q", "q.go"), Line: 3, Col: 9, Msg: "expected ')'"}}}
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, format, in); err != nil {
				t.Fatal(err)
			}
			// The run's directory appears in SARIF's base URI; keep the
			// golden file independent of it.
			got := strings.ReplaceAll(buf.String(), dirURI(dir), "file:///DIR/")
			// Nor of the version, which TestVersion checks.
			got = strings.ReplaceAll(got, `"version": "`+version.String()+`"`, `"version": "VERSION"`)
			file := filepath.Join("testdata", format+".golden")
			if *golden.Update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs:\n%s", file, udiff.Unified("want", "got", string(want), got))
			}
		})
	}
	if err := Write(&bytes.Buffer{}, "xml", in); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("Write(xml) = %v, want an unknown-format error", err)
	}
}

// TestJSONFixApplies checks that the JSON fix, applied as its schema says
// (replace the bytes from start.offset to end.offset by new), gives the
// fixed file.
func TestJSONFixApplies(t *testing.T) {
	dir, findings := sample(t)
	var buf bytes.Buffer
	if err := JSON(&buf, &Input{Dir: dir, Findings: findings}); err != nil {
		t.Fatal(err)
	}
	var doc jsonReport
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var edits []udiff.Edit
	for _, e := range doc.Findings[0].Fix {
		if e.Start.File != "p/p.go" {
			t.Errorf("edit of %q, want p/p.go", e.Start.File)
		}
		edits = append(edits, udiff.Edit{Start: e.Start.Offset, End: e.End.Offset, New: e.New})
	}
	got, err := udiff.Apply(sampleOld, edits)
	if err != nil {
		t.Fatal(err)
	}
	if got != sampleNew {
		t.Errorf("the JSON fix gives\n%s", udiff.Unified("want", "got", sampleNew, got))
	}
	if len(doc.Findings[1].Fix) != 0 || doc.Findings[1].Unfixed == "" {
		t.Errorf("unfixed finding: %+v", doc.Findings[1])
	}
}

// TestRDJSONLSuggestionsApply applies the rdjsonl suggestions the way
// reviewdog turns them into GitHub suggestions (service/github's
// buildSingleSuggestion: a line range is replaced by the text and a
// newline; a range with columns keeps the text before the start column
// and after the end column) and checks the result is the fixed file.
// Each suggestion must also be located on its own lines, since GitHub
// refuses a suggestion whose lines differ from its comment's.
func TestRDJSONLSuggestionsApply(t *testing.T) {
	dir, findings := sample(t)
	var buf bytes.Buffer
	if err := RDJSONL(&buf, &Input{Dir: dir, Findings: findings}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(sampleOld, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	repl := map[int]string{}     // first replaced line → new text
	span := map[int]int{}        // first replaced line → last replaced line
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		n++
		var d rdDiagnostic
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if len(d.Suggestions) == 0 {
			continue
		}
		if len(d.Suggestions) != 1 {
			t.Fatalf("diagnostic with %d suggestions: %s", len(d.Suggestions), line)
		}
		s := d.Suggestions[0]
		if d.Location.Range.Start.Line != s.Range.Start.Line || d.Location.Range.End.Line != s.Range.End.Line {
			t.Errorf("suggestion on lines %d-%d, comment on %d-%d", s.Range.Start.Line, s.Range.End.Line, d.Location.Range.Start.Line, d.Location.Range.End.Line)
		}
		start, end := s.Range.Start, s.Range.End
		var text string
		if start.Column == 0 && end.Column == 0 {
			if s.Text != "" {
				text = s.Text + "\n"
			}
		} else {
			first, last := strings.TrimSuffix(lines[start.Line-1], "\n"), strings.TrimSuffix(lines[end.Line-1], "\n")
			text = first[:start.Column-1] + s.Text + last[end.Column-1:] + "\n"
		}
		if _, dup := repl[start.Line]; dup {
			t.Fatalf("two suggestions on line %d", start.Line)
		}
		repl[start.Line], span[start.Line] = text, end.Line
	}
	var out strings.Builder
	for i := 1; i <= len(lines); i++ {
		if text, ok := repl[i]; ok {
			out.WriteString(text)
			i = span[i]
			continue
		}
		out.WriteString(lines[i-1])
	}
	if got := out.String(); got != sampleNew {
		t.Errorf("the suggestions give\n%s", udiff.Unified("want", "got", sampleNew, got))
	}
	if want := len(findings[0].Edits) + 1; n != want {
		t.Errorf("%d diagnostics, want %d (one per edit, one for the unfixed finding)", n, want)
	}
}

func TestRelError(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&engine.PosError{Path: filepath.Join(dir, "a.go"), Line: 1, Col: 2, Msg: "bad"}, "a.go:1:2: bad"},
		{&engine.PosError{Msg: "no packages"}, "no packages"},
		{errors.New("plain"), "plain"},
	} {
		if got := RelError(dir, tt.err); got != tt.want {
			t.Errorf("RelError(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
