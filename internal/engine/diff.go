package engine

import (
	"bytes"
	"fmt"
	"go/token"
	"regexp"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// Diff returns a unified diff from old to new for the file at path, with
// the a/ and b/ prefixes git apply expects, or "" when they are equal.
func Diff(path string, old, new []byte) string {
	return renumberHunks(udiff.Unified("a/"+path, "b/"+path, string(old), string(new)))
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// renumberHunks gives every hunk of a unified diff the start line in the
// new file that its start in the old file and the hunks before it imply.
// The diff library counts the new file's lines wrongly after a hunk that
// joined two edits across unchanged lines, and a hunk header with a wrong
// start moves review comments that tools place from it (reviewdog's diff
// input) onto other lines. The old starts and both counts are right.
func renumberHunks(diff string) string {
	if diff == "" {
		return ""
	}
	lines := strings.SplitAfter(diff, "\n")
	shift := 0 // new-file lines minus old-file lines of the hunks so far
	for i, l := range lines {
		m := hunkHeader.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		from, _ := strconv.Atoi(m[1])
		fromCount, toCount := count(m[2]), count(m[4])
		to := from + shift
		// A count of 0 names the line before the hunk rather than its
		// first: with three lines of context, only a file made from
		// nothing (-0,0 +1,2) or emptied (-1,2 +0,0) has one.
		switch {
		case fromCount == 0 && toCount > 0:
			to++ // an insertion at the top: the old start names the line before it
		case toCount == 0 && fromCount > 0:
			to-- // a deletion of all lines: the new start names the line before
		}
		// What follows the second @@ (a function name, in some diffs) is
		// kept as it was.
		header := fmt.Sprintf("@@ -%s +%s @@", span(from, m[2]), span(to, m[4]))
		lines[i] = header + l[len(m[0]):]
		shift += toCount - fromCount
	}
	return strings.Join(lines, "")
}

// count reads a hunk header's line count, which is 1 when left out.
func count(s string) int {
	if s == "" {
		return 1
	}
	n, _ := strconv.Atoi(s)
	return n
}

// span writes a start and count as the header had them: a left-out count
// stays left out.
func span(start int, n string) string {
	if n == "" {
		return strconv.Itoa(start)
	}
	return strconv.Itoa(start) + "," + n
}

// offsetPosition returns the position of a byte offset in content.
//
// It serves where no token.File has the content: a file an earlier pass
// changed is reported against its content on disk, which no FileSet parsed.
// An offset out of range is clamped rather than trusted.
func offsetPosition(content []byte, filename string, off int) token.Position {
	off = min(max(off, 0), len(content))
	line := 1 + bytes.Count(content[:off], []byte("\n"))
	col := off - (bytes.LastIndexByte(content[:off], '\n') + 1) + 1
	return token.Position{Filename: filename, Offset: off, Line: line, Column: col}
}
