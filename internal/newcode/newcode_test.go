package newcode

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// A patch as git diff writes it: a modified file with two hunks (one
// changing a line, one adding two), a new file, a deleted file, a renamed
// file with one change, a quoted name, and a file with no final newline.
const patch = `diff --git a/a.go b/a.go
index 1111111..2222222 100644
--- a/a.go
+++ b/a.go
@@ -3,3 +3,3 @@ package a
 func f() {
-	old()
+	new()
 }
@@ -10,0 +11,2 @@ func g() {
+// added
+++x
diff --git a/new.go b/new.go
new file mode 100644
--- /dev/null
+++ b/new.go
@@ -0,0 +1,2 @@
+package a
+
diff --git a/gone.go b/gone.go
deleted file mode 100644
--- a/gone.go
+++ /dev/null
@@ -1,2 +0,0 @@
-package a
-
diff --git a/old/name.go b/sub/name.go
similarity index 90%
rename from old/name.go
rename to sub/name.go
--- a/old/name.go
+++ b/sub/name.go
@@ -5 +5 @@
-x
+y
diff --git "a/sp ace.go" "b/sp ace.go"
--- "a/sp ace.go"
+++ "b/sp ace.go"
@@ -1 +1,2 @@
 package a
+var \u00e9 = 1
diff --git a/tail.go b/tail.go
--- a/tail.go
+++ b/tail.go
@@ -1,2 +1,2 @@
 package a
-var x = 1
\ No newline at end of file
+var x = 2
\ No newline at end of file
`

func TestParse(t *testing.T) {
	l, err := Parse(strings.NewReader(patch), "/r")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int{}
	for file, set := range l.lines {
		for n := range set {
			got[file] = append(got[file], n)
		}
		sort.Ints(got[file])
	}
	want := map[string][]int{
		"/r/a.go":        {4, 11, 12},
		"/r/new.go":      {1, 2},
		"/r/sub/name.go": {5},
		"/r/sp ace.go":   {2},
		"/r/tail.go":     {2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("added lines %v, want %v", got, want)
	}
	for _, tt := range []struct {
		file     string
		from, to int
		want     bool
	}{
		{"/r/a.go", 3, 3, false},
		{"/r/a.go", 1, 4, true},
		{"/r/a.go", 5, 10, false},
		{"/r/gone.go", 1, 2, false},
		{"/r/other.go", 1, 100, false},
	} {
		if got := l.Touches(tt.file, tt.from, tt.to); got != tt.want {
			t.Errorf("Touches(%s, %d, %d) = %v, want %v", tt.file, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"--- a/x\n+++ b/x\n@@ -1 +1,x @@\n",
		"--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\nnot a hunk line\n",
		"--- a/x\n+++ \"b/x\n",
	} {
		if _, err := Parse(strings.NewReader(bad), "/r"); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	// Input that holds no diff is an error, not an empty change.
	for bad, want := range map[string]string{
		"":                             "the patch is empty",
		"\n \n":                        "the patch is empty",
		"fatal: bad revision 'main'\n": `line 1: not a unified diff`,
		"+++ looks like\n":             "",
		"diff --git a/x b/x\nsimilarity index 100%\nrename from x\nrename to y\n": "", // a rename has no hunk
	} {
		_, err := Parse(strings.NewReader(bad), "/r")
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", bad, err, want)
		}
	}
}

// TestFromRev builds a repository with a committed file, then changes a
// line of it, adds a tracked file and leaves an untracked one.
func TestFromRev(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	write("a.go", "package a\n\nvar x = 1\n\nvar y = 2\n")
	run("add", ".")
	run("commit", "-q", "-m", "old")
	write("a.go", "package a\n\nvar x = 1\n\nvar y = 3\nvar z = 4\n")
	write("sub/b.go", "package sub\n")
	run("add", "sub/b.go")
	write("c.go", "package a\n")

	l, err := FromRev(context.Background(), filepath.Join(dir, "sub"), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	top, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file     string
		from, to int
		want     bool
	}{
		{"a.go", 1, 4, false},
		{"a.go", 5, 5, true},
		{"a.go", 6, 6, true},
		{"sub/b.go", 1, 1, true},
		{"c.go", 1, 1, true},
	} {
		if got := l.Touches(filepath.Join(top, tt.file), tt.from, tt.to); got != tt.want {
			t.Errorf("Touches(%s, %d, %d) = %v, want %v", tt.file, tt.from, tt.to, got, tt.want)
		}
	}
	if _, err := FromRev(context.Background(), dir, "no-such-rev"); err == nil || !strings.Contains(err.Error(), "no-such-rev") {
		t.Errorf("FromRev(no-such-rev) = %v, want an error naming the revision", err)
	}
	if l, err := FromRev(context.Background(), dir, "HEAD"); err != nil || len(l.lines) == 0 {
		t.Errorf("FromRev(HEAD) = %v, %v", l, err)
	}

	// A branch, and a commit on the base after it: the merge base leaves
	// the base's change out, the base itself does not.
	run("add", ".")
	run("commit", "-q", "-m", "base")
	run("branch", "base")
	run("checkout", "-q", "-b", "feature")
	write("a.go", "package a\n\nvar x = 10\n\nvar y = 3\nvar z = 4\n")
	run("commit", "-q", "-am", "feature")
	run("checkout", "-q", "base")
	write("c.go", "package a // changed on base\n")
	run("commit", "-q", "-am", "later on base")
	run("checkout", "-q", "feature")
	for _, tt := range []struct {
		from func(context.Context, string, string) (*Lines, error)
		name string
		c1   bool // c.go's line 1, which base changed after the branch, counts as changed
	}{{FromRev, "FromRev", true}, {FromMergeBase, "FromMergeBase", false}} {
		l, err := tt.from(context.Background(), dir, "base")
		if err != nil {
			t.Fatalf("%s(base): %v", tt.name, err)
		}
		if !l.Touches(filepath.Join(top, "a.go"), 3, 3) {
			t.Errorf("%s(base): the feature's change of a.go:3 is not new", tt.name)
		}
		if got := l.Touches(filepath.Join(top, "c.go"), 1, 1); got != tt.c1 {
			t.Errorf("%s(base): c.go counts as changed: %v, want %v", tt.name, got, tt.c1)
		}
	}
	// No change at all: git says so, and that is no error.
	if l, err := FromRev(context.Background(), dir, "HEAD"); err != nil || len(l.lines) != 0 {
		t.Errorf("FromRev(HEAD) on a clean tree = %v, %v; want no lines and no error", l, err)
	}
}
