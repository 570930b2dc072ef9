package engine

import (
	"context"
	"fmt"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/txtar"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
	"github.com/leakfix/leakfix/rules"
)

// The benchmarks measure the engine's stages on real code: by default the
// standard library, as `leakfix check std` in $(go env GOROOT)/src sees it.
// LEAKFIX_BENCH_DIR and LEAKFIX_BENCH_PATTERNS measure other packages.
//
//	go test ./internal/engine -run '^$' -bench . -benchtime 3x
//	go test ./internal/engine -run '^$' -bench 'Load/scan' -cpuprofile cpu.out
//
// Rewrite needs findings, which std does not have: it fixes a module made of
// copies of the golden cases instead.

// cpuTime returns the CPU time this process and its finished children (the
// go command) have used. Benchmarks report it per operation as cpu-s/op, which
// a busy machine inflates far less than wall time.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

// loop runs op b.N times and reports its CPU time per operation.
func loop(b *testing.B, op func()) {
	b.Helper()
	start := cpuTime()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	b.ReportMetric((cpuTime()-start).Seconds()/float64(n), "cpu-s/op")
}

func benchTarget(b *testing.B) (string, []string) {
	b.Helper()
	dir := os.Getenv("LEAKFIX_BENCH_DIR")
	if dir == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			b.Fatal(err)
		}
		dir = filepath.Join(strings.TrimSpace(string(out)), "src")
	}
	patterns := strings.Fields(os.Getenv("LEAKFIX_BENCH_PATTERNS"))
	if len(patterns) == 0 {
		patterns = []string{"std"}
	}
	return dir, patterns
}

// BenchmarkLoad measures the loading stages, and the typed load of every
// package that they replace.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	dir, patterns := benchTarget(b)
	b.Run("typed-all", func(b *testing.B) {
		loop(b, func() {
			if _, err := load.Typed(&load.Config{Context: ctx, Dir: dir}, patterns...); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("list", func(b *testing.B) {
		loop(b, func() {
			if _, err := load.List(&load.Config{Context: ctx, Dir: dir}, patterns...); err != nil {
				b.Fatal(err)
			}
		})
	})
	roots, err := load.List(&load.Config{Context: ctx, Dir: dir}, patterns...)
	if err != nil {
		b.Fatal(err)
	}
	kept := scanAll(roots)
	b.Run("scan", func(b *testing.B) {
		loop(b, func() { kept = scanAll(roots) })
		b.ReportMetric(float64(len(kept)), "kept")
		b.ReportMetric(float64(len(roots)), "packages")
	})
	// How the engine type-checks the kept packages: from source, side by
	// side along the import graph, what they import for its API only.
	b.Run("typed-kept", func(b *testing.B) {
		sizes, _, err := load.Sizes(ctx, dir, os.Environ())
		if err != nil {
			b.Fatal(err)
		}
		isKept := map[*packages.Package]bool{}
		for _, p := range kept {
			isKept[p] = true
		}
		loop(b, func() {
			c := &load.Checker{Fset: token.NewFileSet(), Sizes: sizes, Info: fixpkg.FullInfo}
			err := c.Check(ctx, roots, func(p *packages.Package) load.Need {
				if isKept[p] {
					return load.Full
				}
				return load.None
			})
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range kept {
				if t, ok := c.Package(p); !ok {
					b.Errorf("%s: %v", p.ID, t.Errors)
				}
			}
		})
	})
	// The same packages through go/packages, which checks a kept package
	// that another imports from source first.
	b.Run("typed-kept-gopackages", func(b *testing.B) {
		loop(b, func() {
			if _, err := load.Reload(&load.Config{Context: ctx, Dir: dir}, patterns, kept, nil, nil); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// scanAll runs the syntactic pass on roots and returns the packages it keeps.
func scanAll(roots []*packages.Package) []*packages.Package {
	keep := make([]bool, len(roots))
	g := newGraph()
	parallel(len(roots), func(i int) {
		s, _ := scanPackage(token.NewFileSet(), roots[i], nil)
		keep[i] = s.broken || needsTypes(roots[i], &s, g, rules.All)
	})
	var out []*packages.Package
	for i, p := range roots {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkFind measures the rules on every package, type-checked beforehand.
func BenchmarkFind(b *testing.B) {
	dir, patterns := benchTarget(b)
	pkgs, err := load.Typed(&load.Config{Context: context.Background(), Dir: dir}, patterns...)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	loop(b, func() {
		n = 0
		r := newRun(context.Background(), dir, Options{}, rules.All)
		for _, p := range pkgs {
			if len(p.Errors) == 0 {
				if pf := r.analyse(p, nil, false); pf != nil {
					n += len(pf.findings)
				}
			}
		}
	})
	b.ReportMetric(float64(n), "findings")
}

// BenchmarkRewrite measures finding and fixing, with verification, on a
// module of copies of the golden cases.
func BenchmarkRewrite(b *testing.B) {
	dir := goldenModule(b, 10)
	ctx := context.Background()
	pkgs, err := load.Typed(&load.Config{Context: ctx, Dir: dir}, "./...")
	if err != nil {
		b.Fatal(err)
	}
	v := verify.New(ctx, dir, nil, pkgs...)
	fixed := 0
	loop(b, func() {
		fixed = 0
		for _, p := range pkgs {
			if len(p.Errors) > 0 {
				b.Fatalf("%s: %v", p.ID, p.Errors)
			}
			res := fixpkg.Run(v.View(p, nil), fixpkg.Options{Rules: []*rules.Rule{rules.UnstoppableLoop}, Fix: true})
			fixed += len(res.Files)
		}
	})
	if fixed == 0 {
		b.Fatal("nothing fixed")
	}
	b.ReportMetric(float64(fixed), "files")
}

// BenchmarkRun measures whole check runs: with the fast load, and with
// every package loaded with types.
func BenchmarkRun(b *testing.B) {
	dir, patterns := benchTarget(b)
	ctx := context.Background()
	for _, mode := range []string{"fast", "typed"} {
		b.Run(mode, func(b *testing.B) {
			opts := Options{Dir: dir, typedOnly: mode == "typed"}
			loop(b, func() {
				if _, err := Run(ctx, patterns, opts); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// goldenModule writes a module holding copies of the golden cases' non-test
// files, one package per case and copy. Cases with a go.mod of their own
// (other requirements or go versions) are left out.
func goldenModule(b *testing.B, copies int) string {
	b.Helper()
	names, err := filepath.Glob("../../testdata/golden/*.txtar")
	if err != nil || len(names) == 0 {
		b.Fatalf("no golden cases: %v", err)
	}
	dir := b.TempDir()
	write := func(name string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(name, data, 0o666); err != nil {
			b.Fatal(err)
		}
	}
	write(filepath.Join(dir, "go.mod"), []byte("module example.com/bench\n\ngo 1.26\n"))
	for _, name := range names {
		a, err := txtar.ParseFile(name)
		if err != nil {
			b.Fatal(err)
		}
		if slices.ContainsFunc(a.Files, func(f txtar.File) bool { return f.Name == "go.mod" }) {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(name), ".txtar")
		for i := range copies {
			for _, f := range a.Files {
				if strings.Contains(f.Name, "/") || !strings.HasSuffix(f.Name, ".go") || strings.HasSuffix(f.Name, "_test.go") {
					continue
				}
				write(filepath.Join(dir, fmt.Sprintf("%s%d", base, i), f.Name), f.Data)
			}
		}
	}
	return dir
}
