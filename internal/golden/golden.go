// Package golden holds what leakfix's golden tests share: the -update flag
// and reading and writing txtar cases.
//
// Every package whose tests read golden files imports it, so that
// `go test ./... -update` is understood by each test binary.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// Update rewrites expectations from the actual output instead of comparing.
var Update = flag.Bool("update", false, "rewrite golden expectations from the actual output")

// Case is one txtar archive.
type Case struct {
	Name    string
	Path    string
	Archive *txtar.Archive
}

// Load reads every .txtar file in dir.
func Load(t *testing.T, dir string) []*Case {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no golden cases in %s", dir)
	}
	var cases []*Case
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, &Case{Name: strings.TrimSuffix(filepath.Base(p), ".txtar"), Path: p, Archive: a})
	}
	return cases
}

// File returns the content of the named file and whether it exists.
func (c *Case) File(name string) (string, bool) {
	for _, f := range c.Archive.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

// Set replaces, adds (content != nil) or removes (content == nil) a file.
func (c *Case) Set(name string, content []byte) {
	var files []txtar.File
	found := false
	for _, f := range c.Archive.Files {
		if f.Name == name {
			found = true
			if content == nil {
				continue
			}
			f.Data = content
		}
		files = append(files, f)
	}
	if !found && content != nil {
		files = append(files, txtar.File{Name: name, Data: content})
	}
	c.Archive.Files = files
}

// Flags returns the flags the case's comment asks check and fix to run
// with, on a line of its own: "Flags: --tests".
func (c *Case) Flags() []string {
	for _, line := range strings.Split(string(c.Archive.Comment), "\n") {
		if rest, ok := strings.CutPrefix(line, "Flags: "); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

// DefaultGoMod is the go.mod of a case that brings none.
const DefaultGoMod = "module example.com/golden\n\ngo 1.26\n"

// Inputs returns the case's input files (all but want/...), by name.
func (c *Case) Inputs() map[string]string {
	inputs := map[string]string{}
	for _, f := range c.Archive.Files {
		if !strings.HasPrefix(f.Name, "want/") {
			inputs[f.Name] = string(f.Data)
		}
	}
	return inputs
}

// WriteInputs writes the case's input files into dir, with DefaultGoMod
// when the case has no go.mod, and returns them by name.
func (c *Case) WriteInputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	inputs := c.Inputs()
	if _, ok := inputs["go.mod"]; !ok {
		WriteFile(t, filepath.Join(dir, "go.mod"), DefaultGoMod)
	}
	for name, content := range inputs {
		WriteFile(t, filepath.Join(dir, name), content)
	}
	return inputs
}

// WriteFile writes content to path, making its directory.
func WriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadFile returns the content of path.
func ReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Leaky returns the source of a package called name whose constructor New
// starts a loop that nothing can stop: the smallest input with a finding.
func Leaky(name string) string {
	return "package " + name + `

import "time"

type T struct{ n int }

func New() *T {
	t := &T{}
	go func() {
		for range time.Tick(time.Second) {
			t.n++
		}
	}()
	return t
}
`
}

// Save writes the case back to its file.
func (c *Case) Save(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(c.Path, txtar.Format(c.Archive), 0o644); err != nil {
		t.Fatal(err)
	}
}
