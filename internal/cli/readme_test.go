package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/internal/version"
	"github.com/leakfix/leakfix/rules"
)

// TestREADMERules checks that the README's rule table is the one the rules'
// own documentation gives, so that it cannot drift from `leakfix explain`.
func TestREADMERules(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "<!-- rules:")
	end := strings.Index(readme, "<!-- end rules -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no rules section")
	}
	start += strings.Index(readme[start:], "\n") + 1

	var table strings.Builder
	table.WriteString("| rule | finds | fixed |\n|---|---|---|\n")
	for _, r := range rules.All {
		fixed := "yes"
		if r.Doc.NoFix {
			fixed = "reported only"
		}
		if r.OptIn {
			fixed += "; opt-in"
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s |\n", r.Name, r.Doc.Title, fixed)
	}
	if got := readme[start:end]; got != table.String() {
		if *golden.Update {
			if err := os.WriteFile(path, []byte(readme[:start]+table.String()+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's rule table is out of date (run with -update):\n%s", table.String())
	}
}

// TestREADMEVersions checks that every leakfix version the README pins
// (go run …@v, an Action's @v, .custom-gcl.yml's version) is a release
// CHANGELOG.md lists, and that the version a build without version control
// information reports is the one CHANGELOG.md is heading for: RELEASING.md
// keeps the three in step.
func TestREADMEVersions(t *testing.T) {
	readme := golden.ReadFile(t, "../../README.md")
	changelog := golden.ReadFile(t, "../../CHANGELOG.md")
	released := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (v\d+\.\d+\.\d+) \(\d{4}-\d\d-\d\d\)$`).FindAllStringSubmatch(changelog, -1) {
		released[m[1]] = true
	}
	var pins []string
	for _, m := range regexp.MustCompile(`leakfix/leakfix(?:/[\w/-]+)?@(\S+)`).FindAllStringSubmatch(readme, -1) {
		pins = append(pins, m[1])
	}
	// The plugin entry of .custom-gcl.yml: a version line after the module.
	for _, m := range regexp.MustCompile(`module: github.com/leakfix/leakfix\n(?:\s+\w+: .*\n)*?\s+version: (\S+)`).FindAllStringSubmatch(readme, -1) {
		pins = append(pins, m[1])
	}
	for _, v := range pins {
		if !released[v] {
			t.Errorf("README.md pins leakfix %s, which CHANGELOG.md does not list as released", v)
		}
	}
	if m := regexp.MustCompile(`(?m)^## Unreleased \((v\d+\.\d+\.\d+)\)$`).FindStringSubmatch(changelog); m != nil {
		if want := m[1] + "-devel"; version.Fallback != want {
			t.Errorf("version.Fallback is %s; CHANGELOG.md is heading for %s, so it should be %s", version.Fallback, m[1], want)
		}
	} else if !released[version.Fallback] {
		t.Errorf("version.Fallback is %s, which CHANGELOG.md neither lists as released nor as unreleased", version.Fallback)
	}
}

// TestREADMEJSON checks that the README's JSON example has the fields, and
// only the fields, that check --format=json writes for a fixed finding.
func TestREADMEJSON(t *testing.T) {
	readme := golden.ReadFile(t, "../../README.md")
	start := strings.Index(readme, "#### The JSON schema")
	if start < 0 {
		t.Fatal("README.md has no JSON schema section")
	}
	block := readme[start:]
	block = block[strings.Index(block, "```json\n")+len("```json\n"):]
	block = block[:strings.Index(block, "```")]
	var example map[string]any
	if err := json.Unmarshal([]byte(block), &example); err != nil {
		t.Fatalf("the README's JSON example does not parse: %v", err)
	}

	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), golden.Leaky("leaky"))
	golden.WriteFile(t, filepath.Join(dir, "broken/b.go"), "package broken\n\nfunc f( {\n")
	var stdout, stderr bytes.Buffer
	Main([]string{"check", "--format=json", "-C", dir}, &stdout, &stderr)
	var actual map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &actual); err != nil {
		t.Fatalf("check --format=json: %v\n%s", err, stdout.String())
	}
	var diffs []string
	compareKeys("", example, actual, &diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

// compareKeys adds to diffs the object keys that a has and b lacks, or b
// has and a lacks, below path; lists are compared by their first element.
func compareKeys(path string, a, b any, diffs *[]string) {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: the README has an object, check writes %T", path, b))
			return
		}
		for k, v := range a {
			if bv, ok := bm[k]; ok {
				compareKeys(path+"."+k, v, bv, diffs)
			} else {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: in the README, not written by check", path, k))
			}
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: written by check, not in the README", path, k))
			}
		}
	case []any:
		if bl, ok := b.([]any); ok && len(a) > 0 && len(bl) > 0 {
			compareKeys(path+"[0]", a[0], bl[0], diffs)
		}
	}
}
