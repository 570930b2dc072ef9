package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindWalksUp(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, ".leakfix.yaml"), "rules: [unstoppable-loop]\n")
	write(t, filepath.Join(root, "a", "b", "x.go"), "package b\n")
	write(t, filepath.Join(root, "c", ".leakfix.yml"), "")
	for _, tt := range []struct{ dir, want string }{
		{root, filepath.Join(root, ".leakfix.yaml")},
		{filepath.Join(root, "a", "b"), filepath.Join(root, ".leakfix.yaml")},
		{filepath.Join(root, "c"), filepath.Join(root, "c", ".leakfix.yml")},
	} {
		got, err := Find(tt.dir)
		if err != nil || got != tt.want {
			t.Errorf("Find(%s) = %q, %v; want %q", tt.dir, got, err, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		want          []string // rules
		err           string
	}{
		{name: "empty", content: ""},
		{name: "rules", content: "rules: [unstoppable-loop]\nexclude: [gen/**]\n", want: []string{"unstoppable-loop"}},
		{name: "unknown key", content: "rulez: [x]\n", err: ":1: unknown key rulez (the keys are rules and exclude)"},
		{name: "not a list", content: "rules: unstoppable-loop\nexclude: 3\n", err: ":1: want a list ([a, b]), not a string `unstopp...`\n"},
		{name: "not a mapping", content: "- a\n", err: ":1: want a mapping of keys (rules:, exclude:), not a list"},
		{name: "negative rule", content: "rules: [-global-hook]\n", want: []string{"-global-hook"}},
		{name: "unknown rule", content: "rules: [nope]\n", err: `unknown rule "nope"`},
		{name: "bad pattern", content: "exclude: ['[']\n", err: "bad exclude pattern"},
		{name: "not yaml", content: "rules: [\n", err: ".yaml:1: did not find expected node content"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".yaml")
			write(t, p, tt.content)
			c, err := Load(p)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "config.Config") {
					t.Fatalf("Load = %v, want an error naming the file and containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Rules, tt.want) {
				t.Errorf("rules %v, want %v", c.Rules, tt.want)
			}
		})
	}
}

func TestExcluded(t *testing.T) {
	c := &Config{dir: "/m", Exclude: []string{"internal/legacy", "**/*_mock.go", "gen/**/z.go", "/top.go"}}
	for file, want := range map[string]bool{
		"/m/internal/legacy/a.go":         true,
		"/m/internal/legacy/sub/b.go":     true,
		"/m/internal/legacyx/a.go":        false,
		"/m/a/b/c_mock.go":                true,
		"/m/c_mock.go":                    true,
		"/m/gen/z.go":                     true,
		"/m/gen/x/y/z.go":                 true,
		"/m/gen/x/y/w.go":                 false,
		"/m/top.go":                       true,
		"/m/sub/top.go":                   false,
		"/elsewhere/internal/legacy/a.go": false,
	} {
		if got := c.Excluded(file); got != want {
			t.Errorf("Excluded(%s) = %v, want %v", file, got, want)
		}
	}
}
