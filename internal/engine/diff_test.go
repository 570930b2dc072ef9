package engine

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestDiffHunkStarts applies diffs of random edits the strict way: every
// hunk's lines must start in the new file at the line its header says, and
// applying the hunks to the old content must give the new. Edits close
// enough to share a hunk across unchanged lines are where the line numbers
// went wrong.
func TestDiffHunkStarts(t *testing.T) {
	// A file made from nothing and one emptied: hunks with a count of 0.
	for _, c := range [][2]string{{"", "a\nb\n"}, {"a\nb\n", ""}} {
		d := Diff("f.go", []byte(c[0]), []byte(c[1]))
		if got, err := applyStrict(c[0], d); err != nil || got != c[1] {
			t.Fatalf("%q to %q: %v\nthe diff:\n%s\ngives %q", c[0], c[1], err, d, got)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		var old, new []string
		for n := range 5 + r.IntN(60) {
			l := "line " + strconv.Itoa(n) + "\n"
			old = append(old, l)
			switch r.IntN(10) {
			case 0: // deleted
			case 1: // two inserted before it
				new = append(new, "new a\n", "new b\n", l)
			case 2: // changed
				new = append(new, "changed "+l)
			default:
				new = append(new, l)
			}
		}
		o, n := strings.Join(old, ""), strings.Join(new, "")
		d := Diff("f.go", []byte(o), []byte(n))
		if got, err := applyStrict(o, d); err != nil || got != n {
			t.Fatalf("case %d: %v\nthe diff:\n%s\ngives:\n%s\nwant:\n%s", i, err, d, got, n)
		}
	}
}

// applyStrict applies a unified diff to old, requiring each hunk's new
// start line to be where its lines land.
func applyStrict(old, diff string) (string, error) {
	src := strings.SplitAfter(old, "\n")
	if src[len(src)-1] == "" {
		src = src[:len(src)-1]
	}
	var out []string
	at := 0 // next old line, from 0
	for _, l := range strings.SplitAfter(diff, "\n") {
		switch {
		case l == "", strings.HasPrefix(l, "--- "), strings.HasPrefix(l, "+++ "):
		case strings.HasPrefix(l, "@@"):
			m := hunkHeader.FindStringSubmatch(l)
			if m == nil {
				return "", fmt.Errorf("bad header %q", l)
			}
			from, _ := strconv.Atoi(m[1])
			to, _ := strconv.Atoi(m[3])
			if count(m[2]) == 0 {
				from++ // the line before an insertion
			}
			if count(m[4]) == 0 {
				to++
			}
			for at < from-1 {
				out, at = append(out, src[at]), at+1
			}
			if len(out)+1 != to {
				return "", fmt.Errorf("%q: the hunk starts at new line %d", strings.TrimSpace(l), len(out)+1)
			}
		case l[0] == ' ':
			if at >= len(src) || src[at] != l[1:] {
				return "", fmt.Errorf("context %q does not match old line %d", l, at+1)
			}
			out, at = append(out, l[1:]), at+1
		case l[0] == '-':
			if at >= len(src) || src[at] != l[1:] {
				return "", fmt.Errorf("deleted %q does not match old line %d", l, at+1)
			}
			at++
		case l[0] == '+':
			out = append(out, l[1:])
		default:
			return "", fmt.Errorf("unexpected line %q", l)
		}
	}
	out = append(out, src[at:]...)
	return strings.Join(out, ""), nil
}
