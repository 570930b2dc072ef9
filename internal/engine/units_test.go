package engine

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestPlan checks how patterns are split into go command invocations over
// the modules of a repository.
func TestPlan(t *testing.T) {
	files := map[string]string{
		"go.mod":                 "module example.com/root\n\ngo 1.26\n",
		"a/a.go":                 "package a\n",
		"nested/go.mod":          "module example.com/nested\n\ngo 1.26\n",
		"nested/x/x.go":          "package x\n",
		"nested/testdata/go.mod": "module example.com/ignored\n",
		"broken/go.mod":          "module example.com/broken\n\ngo 1.26\nfrobnicate\n",
		"vendor/go.mod":          "module example.com/vendored\n",
		"work/go.work":           "go 1.26\n\nuse ./in\n",
		"work/in/go.mod":         "module example.com/in\n\ngo 1.26\n",
		"work/out/go.mod":        "module example.com/out\n\ngo 1.26\n",
	}
	tests := []struct {
		dir      string // below the repository
		patterns []string
		units    string // dir:[patterns] per unit, "!" marking GOWORK=off
		errors   string
	}{
		{
			dir:      ".",
			patterns: []string{"./..."},
			units:    ".:[./...] nested:[./...] work/in:[./...] work/out:[./...]",
			errors:   "[broken/go.mod:4: unknown directive: frobnicate]",
		},
		{dir: ".", patterns: []string{"./nested/x", "./a"}, units: "nested:[./x] .:[./a]"},
		{dir: ".", patterns: []string{"example.com/root/...", "./nothing/..."}, units: ".:[example.com/root/...]", errors: "[./nothing/...: no such directory]"},
		{dir: "nested", patterns: []string{"./..."}, units: "nested:[./...]"},
		// work/ itself belongs to the root module, outside the workspace.
		{dir: "work", patterns: []string{"./..."}, units: ".!:[./work/...] work:[./in/...] work/out!:[./...]"},
		{dir: "work", patterns: []string{"example.com/in"}, units: "work:[example.com/in]"},
	}
	root := t.TempDir()
	for name, content := range files {
		golden.WriteFile(t, filepath.Join(root, name), content)
	}
	for _, tt := range tests {
		t.Run(tt.dir+" "+strings.Join(tt.patterns, " "), func(t *testing.T) {
			units, errs := plan(filepath.Join(root, tt.dir), tt.patterns, []string{"GOWORK="})
			var got []string
			for _, u := range units {
				s := Rel(root, u.dir)
				if u.noWork {
					s += "!"
				}
				got = append(got, fmt.Sprintf("%s:%v", s, u.patterns))
			}
			if g := strings.Join(got, " "); g != tt.units {
				t.Errorf("units %s, want %s", g, tt.units)
			}
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, strings.ReplaceAll(e.Error(), root+string(filepath.Separator), ""))
			}
			if g := fmt.Sprint(msgs); g != tt.errors && !(len(msgs) == 0 && tt.errors == "") {
				t.Errorf("errors %s, want %s", g, tt.errors)
			}
		})
	}
}
