package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestWriteAll checks that every file ends up either old or new: an
// interrupt after the temp files are prepared writes nothing, and a package
// with a file that cannot be written keeps all its files, while other
// packages are written with their modes kept.
func TestWriteAll(t *testing.T) {
	tests := []struct {
		name      string
		interrupt bool     // cancel the context between prepare and rename
		edited    string   // a file changed on disk after it was read
		written   []string // the files that must hold their new content
		errors    []string // substrings of the errors, in order
	}{
		{name: "all written", written: []string{"a/1.go", "a/2.go", "b/1.go"}},
		{name: "interrupted", interrupt: true, errors: []string{"interrupted before writing: no file was changed"}},
		{
			name:    "one package keeps its files",
			edited:  "a/2.go",
			written: []string{"b/1.go"},
			errors:  []string{"a/2.go: changed on disk since it was read; not written", "example.com/a: no file of the package was written"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var changes []Change
			for _, name := range []string{"a/1.go", "a/2.go", "b/1.go"} {
				path := filepath.Join(dir, name)
				golden.WriteFile(t, path, "old "+name)
				if err := os.Chmod(path, 0o600); err != nil {
					t.Fatal(err)
				}
				pkg := "example.com/" + filepath.Dir(name)
				changes = append(changes, Change{Path: path, Old: []byte("old " + name), New: []byte("new " + name), Package: pkg})
			}
			if tt.edited != "" {
				golden.WriteFile(t, filepath.Join(dir, tt.edited), "edited")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.interrupt {
				beforeRename = cancel
				defer func() { beforeRename = nil }()
			}

			errs := writeAll(ctx, changes)

			if len(errs) != len(tt.errors) {
				t.Fatalf("errors %v, want %d", errs, len(tt.errors))
			}
			for i, e := range errs {
				if got := strings.ReplaceAll(e.Error(), dir+string(filepath.Separator), ""); !strings.Contains(got, tt.errors[i]) {
					t.Errorf("error %q, want %q", got, tt.errors[i])
				}
			}
			for _, c := range changes {
				name, _ := filepath.Rel(dir, c.Path)
				got := golden.ReadFile(t, c.Path)
				want := "old " + name
				if contains(tt.written, name) {
					want = "new " + name
				} else if name == tt.edited {
					want = "edited"
				}
				if got != want {
					t.Errorf("%s holds %q, want %q", name, got, want)
				}
				if info, err := os.Stat(c.Path); err != nil || info.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v (%v), want 0600", name, info.Mode(), err)
				}
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".*.leakfix-*"))
			if len(leftovers) > 0 {
				t.Errorf("temp files left behind: %v", leftovers)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
