package analyzer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aymanbagabas/go-udiff"
	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/leakfix/leakfix/analyzer"
	"github.com/leakfix/leakfix/internal/engine"
)

// The cases under testdata/src whose files have a .golden form: the
// expected content after every suggested fix is applied.
var fixed = []string{"tick", "twoloops", "ignored"}

// TestAnalyzer checks the diagnostics against the // want comments and the
// suggested fixes, all applied, against the .golden files.
func TestAnalyzer(t *testing.T) {
	dir := analysistest.TestData()
	analysistest.RunWithSuggestedFixes(t, dir, analyzer.Analyzer, fixed...)
	// The unfixable case is a global-hook finding, an opt-in rule.
	if err := analyzer.Analyzer.Flags.Set("rules", "all"); err != nil {
		t.Fatal(err)
	}
	defer analyzer.Analyzer.Flags.Set("rules", "")
	analysistest.Run(t, dir, analyzer.Analyzer, "unfixable")
}

// TestGoVersion checks that the rules see the module's go line: in a
// module below Go 1.23 an unstopped ticker is reported, as leakfix check
// reports it.
func TestGoVersion(t *testing.T) {
	analysistest.Run(t, filepath.Join(analysistest.TestData(), "go122"), analyzer.Analyzer, "./...")
}

// TestGoldenIsLeakfixFix checks that each .golden file is, byte for byte,
// what leakfix fix writes for the same input; with TestAnalyzer, this is
// what makes the analyzer's fixes the same as leakfix fix's.
func TestGoldenIsLeakfixFix(t *testing.T) {
	for _, c := range fixed {
		t.Run(c, func(t *testing.T) {
			src := filepath.Join("testdata", "src", c)
			dir := module(t, src)
			res, err := engine.Run(context.Background(), nil, engine.Options{Dir: dir, Mode: engine.ModeDiff})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			got := map[string]string{}
			for _, ch := range res.Changes {
				got[filepath.Base(ch.Path)] = string(ch.New)
			}
			compareGolden(t, src, got)
		})
	}
}

// TestGoVetFix runs go vet -vettool with the real leakfix-vet binary, as a
// user would, and checks that -fix writes the golden files; so does go fix
// -fixtool.
func TestGoVetFix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds leakfix-vet")
	}
	bin := filepath.Join(t.TempDir(), "leakfix-vet")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/leakfix-vet").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range fixed {
		t.Run(c, func(t *testing.T) {
			src := filepath.Join("testdata", "src", c)
			dir := module(t, src)
			report := goVet(t, dir, bin)
			if !strings.Contains(report, "goroutine started in") {
				t.Errorf("go vet reported:\n%s", report)
			}
			goVet(t, dir, bin, "-fix")
			checkFixed(t, src, dir)

			// go fix -fixtool runs the same analyzer and applies its fixes.
			dir = module(t, src)
			cmd := exec.Command("go", "fix", "-fixtool="+bin, "./...")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go fix -fixtool: %v\n%s", err, out)
			}
			checkFixed(t, src, dir)
		})
	}
}

// checkFixed compares the .go files of dir with the golden files of src.
func checkFixed(t *testing.T, src, dir string) {
	t.Helper()
	got := map[string]string{}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name()] = string(b)
		}
	}
	compareGolden(t, src, got)
}

func goVet(t *testing.T, dir, bin string, flags ...string) string {
	t.Helper()
	cmd := exec.Command("go", append(append([]string{"vet", "-vettool=" + bin}, flags...), "./...")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, _ := cmd.CombinedOutput() // vet exits non-zero when it reports
	return string(out)
}

// module copies the .go files of src into a new module and returns its
// directory.
func module(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/"+filepath.Base(src)+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// compareGolden compares got (file name → content; a missing file means
// unchanged) with the .golden files of src.
func compareGolden(t *testing.T, src string, got map[string]string) {
	t.Helper()
	goldens, err := filepath.Glob(filepath.Join(src, "*.go.golden"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden files in %s", src)
	}
	for _, g := range goldens {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(g), ".golden")
		if got[name] != string(want) {
			t.Errorf("%s differs from %s:\n%s", name, g, udiff.Unified("want", "got", string(want), got[name]))
		}
	}
}
