package engine

import (
	"github.com/aymanbagabas/go-udiff"
)

// Diff returns a unified diff from old to new for the file at path, with
// the a/ and b/ prefixes git apply expects, or "" when they are equal.
func Diff(path string, old, new []byte) string {
	return udiff.Unified("a/"+path, "b/"+path, string(old), string(new))
}
