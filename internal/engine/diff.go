package engine

import (
	"bytes"
	"go/token"

	"github.com/aymanbagabas/go-udiff"
)

// Diff returns a unified diff from old to new for the file at path, with
// the a/ and b/ prefixes git apply expects, or "" when they are equal.
func Diff(path string, old, new []byte) string {
	return udiff.Unified("a/"+path, "b/"+path, string(old), string(new))
}

// oldOffset maps an offset in new back to old, where new is old with some
// edits applied. An offset inside inserted text maps to where it was
// inserted. The edits are computed line by line: a fix inserts and replaces
// whole lines, and a finer diff would align fragments of unrelated lines.
func oldOffset(old, new []byte, off int) int {
	delta := 0 // how much longer new is than old before the current edit
	for _, e := range udiff.Lines(string(old), string(new)) {
		start := e.Start + delta
		if off < start {
			break
		}
		if off < start+len(e.New) {
			return e.Start
		}
		delta += len(e.New) - (e.End - e.Start)
	}
	return off - delta
}

// offsetPosition returns the position of a byte offset in content.
func offsetPosition(content []byte, filename string, off int) token.Position {
	off = min(max(off, 0), len(content))
	line := 1 + bytes.Count(content[:off], []byte("\n"))
	col := off - (bytes.LastIndexByte(content[:off], '\n') + 1) + 1
	return token.Position{Filename: filename, Offset: off, Line: line, Column: col}
}
