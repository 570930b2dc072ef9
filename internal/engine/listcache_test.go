package engine

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/txtar"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/load"
)

// age sets the modification time of everything under dir an hour back, so
// that a listing of it may be cached (see settle).
func age(t *testing.T, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// summary describes a listing: each package with its files and imports.
func summary(roots []*packages.Package) []string {
	var out []string
	packages.Visit(roots, nil, func(p *packages.Package) {
		var imps []string
		for path, imp := range p.Imports {
			imps = append(imps, path+"="+imp.ID)
		}
		sort.Strings(imps)
		out = append(out, p.ID+" "+p.Name+" "+strings.Join(p.GoFiles, ",")+" "+strings.Join(imps, ","))
	})
	for _, p := range roots {
		out = append(out, "root "+p.ID)
	}
	sort.Strings(out)
	return out
}

func TestListCache(t *testing.T) {
	dir := writeArchive(t, txtar.Parse([]byte(edges)))
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	patterns := []string{"./..."}
	// listed lists and reports whether the go command ran.
	listed := func(t *testing.T) ([]*packages.Package, bool) {
		t.Helper()
		before, _ := load.Runs()
		roots, _, err := load.ListCached(&load.Config{Context: ctx, Dir: dir, Env: os.Environ()}, c, patterns, func() {})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := load.Runs()
		return roots, after != before
	}
	write := func(name, content string) {
		t.Helper()
		name = filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}

	// Files that just changed may change again unseen: no caching yet.
	listed(t)
	if _, ran := listed(t); !ran {
		t.Fatal("a listing of files modified a moment ago was cached")
	}

	age(t, dir)
	want, ran := listed(t)
	if !ran {
		t.Fatal("the listing was reused after the files' times changed")
	}
	got, ran := listed(t)
	if ran {
		t.Fatal("an unchanged listing was not reused")
	}
	if !reflect.DeepEqual(summary(got), summary(want)) {
		t.Fatalf("the cached listing differs:\n%s\nwant\n%s", strings.Join(summary(got), "\n"), strings.Join(summary(want), "\n"))
	}

	// Every kind of change the go command would see lists again.
	changes := []struct {
		name   string
		change func()
		check  func(roots []*packages.Package) string
	}{
		{"a new file", func() { write("dot/more.go", "package dot\n\nimport \"os\"\n\nvar _ = os.Args\n") },
			func(roots []*packages.Package) string {
				if !mentions(summary(roots), "more.go") {
					return "dot/more.go is not listed"
				}
				return ""
			}},
		{"a new import", func() {
			write("quiet/quiet.go", "package quiet\n\nimport (\n\t\"os\"\n\t\"time\"\n)\n\nfunc Wait() { time.Sleep(1); _ = os.Args }\n")
		},
			func(roots []*packages.Package) string {
				if !mentions(summary(roots), "quiet/quiet.go os=os") {
					return "quiet's new import of os is not listed"
				}
				return ""
			}},
		{"a new package", func() { write("deep/er/pkg/p.go", "package pkg\n") },
			func(roots []*packages.Package) string {
				if !mentions(summary(roots), "root example.com/edges/deep/er/pkg") {
					return "the new package is not listed"
				}
				return ""
			}},
		{"an ignored file's build constraint", func() { write("dot/ignored.go", "//go:build ignore\n\npackage dot\n") },
			func(roots []*packages.Package) string { return "" }},
		{"go.mod", func() { write("go.mod", "module example.com/edges\n\ngo 1.25\n") },
			func(roots []*packages.Package) string {
				for _, p := range roots {
					if p.Module != nil && p.Module.GoVersion != "1.25" {
						return "go.mod's new go line is not listed: " + p.Module.GoVersion
					}
				}
				return ""
			}},
	}
	for _, ch := range changes {
		age(t, dir)
		if _, ran := listed(t); !ran { // the ageing itself is a change
			t.Fatalf("%s: ageing the files did not list again", ch.name)
		}
		if _, ran := listed(t); ran {
			t.Fatalf("%s: an unchanged listing was not reused", ch.name)
		}
		ch.change()
		roots, ran := listed(t)
		if !ran {
			t.Errorf("after %s the cached listing was reused", ch.name)
			continue
		}
		if msg := ch.check(roots); msg != "" {
			t.Errorf("after %s: %s", ch.name, msg)
		}
	}
	// The build constraint flips: the file becomes part of the package.
	age(t, dir)
	listed(t)
	write("dot/ignored.go", "package dot\n")
	if roots, ran := listed(t); !ran || !mentions(summary(roots), "ignored.go") {
		t.Errorf("after a build constraint was removed: listed again %v; dot/ignored.go is listed: %v", ran, mentions(summary(roots), "ignored.go"))
	}
}

// mentions reports whether a line of lines contains s.
func mentions(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
