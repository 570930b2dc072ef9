package difftest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/golden"
)

// An outcome is what became of one program.
type outcome struct {
	prog    *program
	pkg     string // the package directory it ran in
	status  string // "unreported", "refused" or "fixed"
	reasons []string
	cleanup cleanup
	traces  traces
	// the recorders of the goroutines that were fixed
	fixedTraces map[string]bool
	fixed       string   // the file after the fix
	broken      []string // the promises it broke, in words
}

func (o *outcome) breaks(format string, args ...any) {
	o.broken = append(o.broken, fmt.Sprintf(format, args...))
}

// runBatch writes each group of programs as a package of one module, runs
// them before the fix, fixes the module with the engine, and runs the
// fixed programs' tests. It fails t only for problems of its own (a
// generated program that does not build, a go command that does not run);
// what the fix broke is in the outcomes.
//
// race runs the tests after the fix with the race detector, which the fuzz
// target leaves out: the fuzzing engine kills a worker whose input takes
// more than ten seconds.
func runBatch(t *testing.T, groups [][]*program, race bool) []*outcome {
	t.Helper()
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), "module example.com/difftest\n\ngo 1.26\n")
	// A package function's cleanup stops every package function's work of
	// its package, and its state outlives a test's bubble: each such
	// program gets a package of its own.
	var pkgs []string
	progsOf := map[string][]*program{}
	for i, progs := range groups {
		for _, p := range progs {
			pkg := fmt.Sprintf("p%d", i)
			if p.owner == pkgFunc {
				pkg = "q" + p.id
			}
			if progsOf[pkg] == nil {
				pkgs = append(pkgs, pkg)
			}
			progsOf[pkg] = append(progsOf[pkg], p)
		}
	}
	var outs []*outcome
	byFile := map[string]*outcome{}
	for _, pkg := range pkgs {
		progs := progsOf[pkg]
		golden.WriteFile(t, filepath.Join(dir, pkg, "trace.go"), traceGo)
		golden.WriteFile(t, filepath.Join(dir, pkg, "before_test.go"), beforeTest(progs))
		for _, p := range progs {
			path := filepath.Join(dir, pkg, p.file())
			golden.WriteFile(t, path, p.src)
			o := &outcome{prog: p, pkg: pkg, status: "unreported"}
			outs = append(outs, o)
			byFile[path] = o
		}
	}

	// Before the fix: every package's programs in one bubble.
	if res := goCmd(dir, "test", "-count=1", "-timeout=1m", "./...", "-args", "-test.paniconexit0=false"); res.err != nil {
		t.Fatalf("the programs do not run before the fix: %v\n%s\n%s", res.err, res.out, programs(outs))
	}
	for _, pkg := range pkgs {
		out := filepath.Join(dir, pkg, "traces.json")
		var tr traces
		if err := json.Unmarshal([]byte(golden.ReadFile(t, out)), &tr); err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o.pkg == pkg {
				o.traces = traces{At: map[string][]string{}, Later: map[string][]string{}}
				for _, name := range o.prog.traces {
					o.traces.At[name], o.traces.Later[name] = tr.At[name], tr.Later[name]
				}
			}
		}
		os.Remove(out)
		os.Remove(filepath.Join(dir, pkg, "before_test.go"))
	}

	// The fix, as leakfix fix makes it.
	res, err := engine.Run(context.Background(), []string{"./..."}, engine.Options{Dir: dir, Mode: engine.ModeDiff})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range res.Errors {
		t.Errorf("leakfix: %v", err)
	}
	wires := map[*outcome][]*engine.Wire{}
	fixedAt := map[*outcome][]int{} // the lines of the go statements fixed
	for _, f := range res.Findings {
		o := byFile[f.Pos.Filename]
		if o == nil {
			t.Errorf("a finding outside the programs: %s: %s", f.Pos, f.Message)
			continue
		}
		switch {
		case f.Fixed:
			o.status = "fixed"
			wires[o] = append(wires[o], f.Wire)
			fixedAt[o] = append(fixedAt[o], f.Pos.Line)
		case o.status == "unreported":
			o.status = "refused"
		}
		if f.Unfixed != "" {
			o.reasons = append(o.reasons, f.Unfixed)
		}
	}
	changed := map[string]bool{}
	for _, c := range res.Changes {
		golden.WriteFile(t, c.Path, string(c.New))
		if o := byFile[c.Path]; o != nil {
			changed[c.Path] = true
			o.fixed = string(c.New)
		} else {
			t.Errorf("the fix changed %s, which holds no program", c.Path)
		}
	}

	// What to run after the fix, and how to stop it.
	var run []*outcome
	for path, o := range byFile {
		switch {
		case o.status != "fixed" && changed[path]:
			o.breaks("the program was %s, yet the fix changed it", o.status)
		case o.status == "fixed" && !changed[path]:
			o.breaks("the finding is marked fixed, yet the program did not change")
		case o.status == "fixed":
			c, why := findCleanup(o, outs, changed)
			if why != "" {
				o.breaks("%s", why)
				continue
			}
			o.cleanup = c
			checkWire(o, wires[o])
			o.fixedTraces = map[string]bool{}
			lines := goLines(o.prog)
			for _, line := range fixedAt[o] {
				if i := slices.Index(lines, line); i >= 0 && i < len(o.prog.traces) {
					o.fixedTraces[o.prog.traces[i]] = true
				} else {
					t.Errorf("program %s: a finding at line %d, which starts none of its goroutines (%v)", o.prog.id, line, lines)
				}
			}
			if len(o.fixedTraces) < len(o.prog.traces) {
				// A goroutine the fix did not stop would keep the
				// test's bubble from ending.
				o.status = "partly fixed"
				continue
			}
			golden.WriteFile(t, filepath.Join(dir, o.pkg, "prog"+o.prog.id+"_test.go"), afterTest(o.prog, c, o.traces, o.fixedTraces))
			run = append(run, o)
		}
	}
	if len(run) == 0 {
		return outs
	}
	for _, pkg := range pkgs {
		golden.WriteFile(t, filepath.Join(dir, pkg, "helpers_test.go"), helpersTest)
	}

	// go vet, with its messages given to the programs they are about.
	if res := goCmd(dir, "vet", "./..."); res.err != nil {
		for _, line := range strings.Split(res.out, "\n") {
			if m := vetLine.FindStringSubmatch(line); m != nil {
				if o := byFile[filepath.Join(dir, m[1])]; o != nil {
					o.breaks("go vet: %s", line)
					continue
				}
			}
			if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#") {
				t.Errorf("go vet: %s", line)
			}
		}
	}

	// After the fix, each program in a bubble of its own. A test that
	// leaves a goroutine running ends the binary, so run the rest again.
	pending := map[string]*outcome{}
	for _, o := range run {
		pending[o.pkg+".TestProgram"+o.prog.id] = o
	}
	for len(pending) > 0 {
		var names, pkgs []string
		seen := map[string]bool{}
		for key, o := range pending {
			names = append(names, strings.TrimPrefix(key, o.pkg+"."))
			if !seen[o.pkg] {
				seen[o.pkg] = true
				pkgs = append(pkgs, "./"+o.pkg)
			}
		}
		sort.Strings(names)
		sort.Strings(pkgs)
		// A goroutine blocked on a mutex keeps fake time from advancing, so
		// a cleanup that deadlocks hangs the binary instead of failing the
		// bubble: the timeout turns that into a failure.
		args := []string{"test", "-count=1", "-json", "-timeout=1m", "-run", "^(" + strings.Join(names, "|") + ")$"}
		if race {
			args = append(args, "-race")
		}
		args = append(args, pkgs...)
		res := goCmd(dir, args...)
		progress := false
		for key, r := range parseTestJSON(res.out) {
			o := pending[key]
			if o == nil {
				continue
			}
			switch r.action {
			case "pass":
			case "fail", "exited":
				o.breaks("its test after the fix failed:\n%s", r.output)
			default:
				continue // not run: the binary ended before it
			}
			delete(pending, key)
			progress = true
		}
		if !progress {
			t.Fatalf("go %s made no progress: %v\n%s", strings.Join(args, " "), res.err, res.out)
		}
	}
	return outs
}

var vetLine = regexp.MustCompile(`^(?:vet: )?([pq]\d+/prog\d*\.go):\d+:\d+: `)

// findCleanup returns what stops a fixed program: the method the fix added
// to its type, or the package function it added, or the method it extended;
// or the context it made the loop honour.
func findCleanup(o *outcome, outs []*outcome, changed map[string]bool) (cleanup, string) {
	T := "T" + o.prog.id
	before, after := decls(o.prog.src), decls(o.fixed)
	var added, extended []*ast.FuncDecl
	for key, d := range after {
		if old, ok := before[key]; !ok {
			added = append(added, d.decl)
		} else if old.text != d.text {
			extended = append(extended, d.decl)
		}
	}
	isCleanup := func(d *ast.FuncDecl, onType bool) bool {
		if onType != (d.Recv != nil) || !d.Name.IsExported() {
			return false
		}
		return !onType || recvType(d) == T
	}
	var found []*ast.FuncDecl
	for _, d := range added {
		if isCleanup(d, true) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		for _, d := range extended {
			if isCleanup(d, true) && d.Name.Name != "Start" {
				found = append(found, d)
			}
		}
	}
	if len(found) == 0 && o.prog.owner == pkgFunc {
		// The package's cleanup is in the file of one of its programs.
		for _, other := range outs {
			if other.pkg != o.pkg || other.fixed == "" {
				continue
			}
			before, after := decls(other.prog.src), decls(other.fixed)
			for key, d := range after {
				if _, ok := before[key]; !ok && isCleanup(d.decl, false) {
					found = append(found, d.decl)
				}
			}
		}
	}
	switch {
	case len(found) > 1:
		var names []string
		for _, d := range found {
			names = append(names, d.Name.Name)
		}
		return cleanup{}, "the fix added or changed several cleanups: " + strings.Join(names, ", ")
	case len(found) == 1:
		d := found[0]
		if d.Type.Params.NumFields() > 0 {
			return cleanup{}, fmt.Sprintf("the cleanup %s takes arguments", d.Name.Name)
		}
		c := cleanup{kind: "method", name: d.Name.Name, result: d.Type.Results.NumFields() > 0}
		if d.Recv == nil {
			c.kind = "func"
		}
		return c, ""
	case o.prog.owner == ctxParam:
		return cleanup{kind: "cancel"}, ""
	case o.prog.owner == ctxTimeout:
		return cleanup{kind: "none"}, ""
	}
	return cleanup{}, "the fix added no cleanup and there is no context the test could cancel"
}

// checkWire compares what the report says stops the work with what the fix
// did.
func checkWire(o *outcome, wires []*engine.Wire) {
	for _, w := range wires {
		if w == nil {
			o.breaks("a fixed finding has no wire-up advice")
			continue
		}
		switch o.cleanup.kind {
		case "method", "func":
			if w.Method != o.cleanup.name {
				o.breaks("the report says %q stops the work; the fix made %s", w.Method, o.cleanup.name)
			}
		}
	}
}

// goLines returns the lines of the go statements that start a program's
// goroutines, in the order of its recorders: those in its starter, not
// those its goroutines run.
func goLines(p *program) []int {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", p.src, 0)
	if err != nil {
		return nil
	}
	var lines []int
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != "New"+p.id && fd.Name.Name != "Start"+p.id && !(fd.Recv != nil && fd.Name.Name == "Start") {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				lines = append(lines, fset.Position(n.Pos()).Line)
				return false // not the go statements of the goroutine's body
			}
			return true
		})
	}
	return lines
}

type decl struct {
	decl *ast.FuncDecl
	text string
}

// decls returns a file's functions by receiver type and name.
func decls(src string) map[string]decl {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		return nil
	}
	out := map[string]decl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			var b bytes.Buffer
			printer.Fprint(&b, fset, fd.Body)
			out[recvType(fd)+"."+fd.Name.Name] = decl{fd, b.String()}
		}
	}
	return out
}

func recvType(fd *ast.FuncDecl) string {
	if fd.Recv == nil {
		return ""
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

type result struct {
	out string
	err error
}

func goCmd(dir string, args ...string) result {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	return result{string(out), err}
}

// A testResult is one test's end in go test -json: pass, fail, exited (its
// output ends with the binary's failure) or "" (it did not run).
type testResult struct {
	action string
	output string
}

// parseTestJSON returns the result of every test that started, by
// package directory and name (p0.TestProgram3).
func parseTestJSON(out string) map[string]*testResult {
	results := map[string]*testResult{}
	last := map[string]string{} // the test running in each package
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ev struct{ Action, Package, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		pkg := strings.TrimPrefix(ev.Package, "example.com/difftest/")
		if ev.Test == "" {
			if t := last[pkg]; t != "" && ev.Action == "output" {
				results[t].output += ev.Output
			}
			if t := last[pkg]; t != "" && ev.Action == "fail" && results[t].action == "run" {
				results[t].action = "exited"
			}
			continue
		}
		key := pkg + "." + ev.Test
		r := results[key]
		if r == nil {
			r = &testResult{}
			results[key] = r
		}
		switch ev.Action {
		case "run":
			r.action = "run"
			last[pkg] = key
		case "output":
			r.output += ev.Output
		case "pass", "fail":
			r.action = ev.Action
		}
	}
	for _, r := range results {
		if r.action == "run" {
			r.action = "" // never finished, and the package did not fail: not run
		}
	}
	return results
}

// programs prints the programs, for a message.
func programs(outs []*outcome) string {
	var b strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&b, "-- %s/%s --\n%s", o.pkg, o.prog.file(), o.prog.src)
	}
	return b.String()
}
