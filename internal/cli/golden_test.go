package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestGolden runs every case in testdata/golden through the command line as
// a user would: check, fix, go vet, fix again, check again, and the case's
// own tests under -race against the fixed code.
//
// A case is a txtar archive. Its comment says what it covers; files named
// want/<file> hold the expected content of <file> after fix (files without
// one must not change); want/check holds the expected check report,
// want/fix what fix reports it could not fix, and want/report.md, when the
// case has one, the migration report of the fix. A line "Flags: ..." in
// the comment gives check and fix more flags (--tests).
func TestGolden(t *testing.T) {
	for _, c := range golden.Load(t, "../../testdata/golden") {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			runCase(t, c)
		})
	}
}

func runCase(t *testing.T, c *golden.Case) {
	if len(bytes.TrimSpace(c.Archive.Comment)) == 0 {
		t.Error("the case has no comment saying what it covers")
	}
	dir := t.TempDir()
	inputs := c.WriteInputs(t, dir)
	for _, f := range c.Archive.Files {
		if name, ok := strings.CutPrefix(f.Name, "want/"); ok && name != "check" && name != "fix" && name != "report.md" {
			if _, ok := inputs[name]; !ok {
				t.Errorf("%s has no input file %s", f.Name, name)
			}
		}
	}

	// The report on the input; the second check reads the first's results
	// from the cache.
	flags := c.Flags()
	leakfix := func(t *testing.T, dir string, args ...string) (string, int) {
		t.Helper()
		return leakfix(t, dir, append(args, flags...)...)
	}
	report, code := leakfix(t, dir, "check")
	expect(t, c, "want/check", report)
	if want := exitCode(report != ""); code != want {
		t.Errorf("check exited %d, want %d", code, want)
	}
	if cached, code2 := leakfix(t, dir, "check"); cached != report || code2 != code {
		t.Errorf("a second check reported (exit %d):\n%s\nthe first (exit %d):\n%s", code2, cached, code, report)
	}

	// The fix, file by file, and its report of what it could not fix.
	fixArgs := []string{"fix"}
	_, withReport := c.File("want/report.md")
	reportPath := filepath.Join(t.TempDir(), "report.md")
	if withReport {
		fixArgs = append(fixArgs, "--report", reportPath)
	}
	fixReport, _ := leakfix(t, dir, fixArgs...)
	expect(t, c, "want/fix", fixReport)
	if withReport {
		expect(t, c, "want/report.md", golden.ReadFile(t, reportPath))
	}
	changed := false
	for name, in := range inputs {
		got := golden.ReadFile(t, filepath.Join(dir, name))
		changed = changed || got != in
		if *golden.Update {
			if got != in {
				c.Set("want/"+name, []byte(got))
			} else {
				c.Set("want/"+name, nil)
			}
			continue
		}
		want, ok := c.File("want/" + name)
		if !ok {
			want = in
		}
		if got != want {
			t.Errorf("fix wrote %s differently than expected:\n%s", name, udiff.Unified("want/"+name, "got/"+name, want, got))
		}
	}
	if *golden.Update {
		c.Save(t)
	}

	if changed {
		goCmd(t, dir, "vet", "./...")
	}

	// Running fix again changes nothing, and check reports only what could
	// not be fixed.
	before := snapshot(t, dir, inputs)
	leakfix(t, dir, "fix")
	if after := snapshot(t, dir, inputs); after != before {
		t.Errorf("a second fix changed the code:\n%s", udiff.Unified("first", "second", before, after))
	}
	again, code := leakfix(t, dir, "check")
	if want := fixReport; normalize(again) != normalize(want) {
		t.Errorf("check after fix reported:\n%s\nwant:\n%s", again, want)
	}
	if want := exitCode(again != ""); code != want {
		t.Errorf("check after fix exited %d, want %d", code, want)
	}

	// The case's own tests prove at run time that Shutdown stops the work.
	for name := range inputs {
		if strings.HasSuffix(name, "_test.go") {
			// go vet has run on the fixed code; go test need not run its
			// own subset of it again.
			args := []string{"test", "-race", "-count=1"}
			if changed {
				args = append(args, "-vet=off")
			}
			goCmd(t, dir, append(args, "./...")...)
			break
		}
	}
}

// leakfix runs the command line in dir and returns its standard output and
// exit status. Standard error is logged.
func leakfix(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(append(args, "-C", dir), &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("leakfix %s: %s", strings.Join(args, " "), stderr.String())
	}
	if code == exitError {
		t.Fatalf("leakfix %s failed: %s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), code
}

func exitCode(findings bool) int {
	if findings {
		return exitFindings
	}
	return exitOK
}

// normalize drops from a report what differs between check and fix for
// the same findings: line and column numbers, which move when a fix inserts
// code above a finding, and the reason a finding was not fixed, which check
// only knows when the rule gives it.
func normalize(report string) string {
	return notFixed.ReplaceAllString(lineCol.ReplaceAllString(report, ":"), "")
}

var (
	lineCol  = regexp.MustCompile(`:\d+:\d+:`)
	notFixed = regexp.MustCompile(` \(not fixed: .*\)`)
)

// expect compares got with the case's file name, or records it with -update.
func expect(t *testing.T, c *golden.Case, name, got string) {
	t.Helper()
	if *golden.Update {
		if got == "" {
			c.Set(name, nil)
		} else {
			c.Set(name, []byte(got))
		}
		return
	}
	want, _ := c.File(name)
	if got != want {
		t.Errorf("%s differs:\n%s", name, udiff.Unified("want", "got", want, got))
	}
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func snapshot(t *testing.T, dir string, inputs map[string]string) string {
	var names []string
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString("-- " + name + " --\n" + golden.ReadFile(t, filepath.Join(dir, name)))
	}
	return b.String()
}
