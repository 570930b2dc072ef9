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

// offsetPosition returns the position of a byte offset in content.
func offsetPosition(content []byte, filename string, off int) token.Position {
	off = min(max(off, 0), len(content))
	line := 1 + bytes.Count(content[:off], []byte("\n"))
	col := off - (bytes.LastIndexByte(content[:off], '\n') + 1) + 1
	return token.Position{Filename: filename, Offset: off, Line: line, Column: col}
}
