package engine

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/fixpkg"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/verify"
	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// FuzzFix generates goroutine loops from the fuzz input — how they are
// started, how they wait (tickers, time.Tick with its value, sleeps,
// time.After in a select), and bodies with break, continue, labels,
// returns in closures, nested loops, switches and selects, with comments in
// odd places — and requires of every fix that:
//   - the rewriter neither panics nor produces code that does not compile
//     (the engine would drop such a fix; here it is a bug);
//   - the output parses, is gofmt-clean and type-checks;
//   - fixing the output again changes nothing, and reports only what the
//     first run could not fix.
//
// Run it with: go test ./internal/engine -run '^$' -fuzz FuzzFix
func FuzzFix(f *testing.F) {
	for _, seed := range []string{
		"", "\x00", "\x01\x01", "\x02\x03\x04", "\x03\x05\x01\x02\x03\x04\x05\x06\x07",
		"\x00\x01\x01\x01\x05\x03\x02\x01", "\x01\x00\x02\x01\x04\x09\x08\x07\x06", "\x02\x02\x01\x03\x03\x0a\x0b",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		std := fuzzStd(t)
		raw := generate(data)
		formatted, err := format.Source([]byte(raw))
		if err != nil {
			t.Fatalf("the generator made code that does not parse: %v\n%s", err, raw)
		}
		src := string(formatted) // as real code is
		pkg, err := typeCheck(src, std)
		if err != nil {
			t.Fatalf("the generator made code that does not compile: %v\n%s", err, src)
		}
		v := verify.New(context.Background(), "", nil)
		v.Source = func() map[string]*types.Package { return std }
		res := fixAll(pkg, v)
		for f, o := range res.Outcome {
			if strings.Contains(o.Reason, "would not compile") || strings.Contains(o.Reason, "rewriter failed") {
				t.Fatalf("%s: %s\ninput:\n%s", pkg.Fset.Position(f.Pos), o.Reason, src)
			}
		}
		out, changed := res.Files[fuzzFile]
		if !changed {
			return
		}
		if formatted, err := format.Source(out); err != nil {
			t.Fatalf("the output does not parse: %v\ninput:\n%s\noutput:\n%s", err, src, out)
		} else if !bytes.Equal(formatted, out) {
			t.Fatalf("the output is not gofmt-clean\ninput:\n%s\noutput:\n%s", src, out)
		}
		pkg2, err := typeCheck(string(out), std)
		if err != nil {
			t.Fatalf("the output does not type-check: %v\ninput:\n%s\noutput:\n%s", err, src, out)
		}
		unfixed := 0
		for _, f := range res.Found {
			if !res.Outcome[f].Fixed {
				unfixed++
			}
		}
		res2 := fixAll(pkg2, v)
		found2 := res2.Found
		if again, ok := res2.Files[fuzzFile]; ok && !bytes.Equal(again, out) {
			t.Fatalf("a second fix changed the output\ninput:\n%s\nfirst:\n%s\nsecond:\n%s", src, out, again)
		}
		if len(found2) != unfixed {
			var msgs []string
			for _, f := range found2 {
				msgs = append(msgs, pkg2.Fset.Position(f.Pos).String()+": "+f.Message)
			}
			t.Fatalf("after the fix, %d findings (want the %d not fixed):\n%s\ninput:\n%s\noutput:\n%s",
				len(found2), unfixed, strings.Join(msgs, "\n"), src, out)
		}
	})
}

const fuzzFile = "/fuzz/p.go"

// fixAll runs the rule and the per-package core's fix (rewrite, verify,
// settle) on pkg.
func fixAll(pkg *packages.Package, v *verify.Verifier) *fixpkg.Result {
	return fixpkg.Run(v.View(pkg, nil), fixpkg.Options{Rules: []*rules.Rule{rules.UnstoppableLoop}, Fix: true})
}

var (
	stdOnce  sync.Once
	stdTypes map[string]*types.Package
	stdErr   error
)

// fuzzStd loads the standard packages generated code imports, once.
func fuzzStd(t *testing.T) map[string]*types.Package {
	stdOnce.Do(func() {
		pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes}, rewrite.MayImport...)
		if err != nil {
			stdErr = err
			return
		}
		stdTypes = map[string]*types.Package{}
		for _, p := range pkgs {
			stdTypes[p.PkgPath] = p.Types
		}
	})
	if stdErr != nil {
		t.Fatal(stdErr)
	}
	return stdTypes
}

// typeCheck parses and type-checks src as the only file of a package, the
// way go/packages would present it to the engine.
func typeCheck(src string, std map[string]*types.Package) (*packages.Package, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, fuzzFile, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	info := fixpkg.FullInfo()
	imports := map[string]*packages.Package{}
	conf := types.Config{
		GoVersion: "go1.26",
		Importer: load.ImporterFunc(func(path string) (*types.Package, error) {
			if p := std[path]; p != nil {
				imports[path] = &packages.Package{ID: path, PkgPath: path, Name: p.Name(), Types: p}
				return p, nil
			}
			return nil, fmt.Errorf("cannot import %q", path)
		}),
		Sizes: types.SizesFor("gc", "amd64"),
	}
	tp, err := conf.Check("example.com/fuzz", fset, []*ast.File{file}, info)
	if err != nil {
		return nil, err
	}
	return &packages.Package{
		ID: "example.com/fuzz", Name: tp.Name(), PkgPath: "example.com/fuzz",
		GoFiles: []string{fuzzFile}, CompiledGoFiles: []string{fuzzFile},
		Fset: fset, Syntax: []*ast.File{file}, Types: tp, TypesInfo: info, TypesSizes: conf.Sizes,
		Imports: imports, Module: &packages.Module{Path: "example.com/fuzz", Main: true, GoVersion: "1.26"},
	}, nil
}

// A gen turns fuzz input into choices; once the input is used up every
// choice is 0, so that every input makes a program.
type gen struct {
	data []byte
	b    strings.Builder
	// labeled is set when the loop is labeled outer: a body statement
	// continues it, since Go rejects unused labels.
	labeled, usedLabel bool
	depth              int
	inner              int    // labels of inner loops so far, to keep them unique
	recv               string // the owner value's name in the loop: t, or s
	typ                string // T, or T[K] for a generic owner
	tick               string // the tick value's name when the loop has one
	outer              string // the label of the current loop when labeled
	loopsSoFar         int
}

func (g *gen) choose(n int) int {
	if len(g.data) == 0 {
		return 0
	}
	c := int(g.data[0]) % n
	g.data = g.data[1:]
	return c
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

// comment may write a comment in one of several odd places.
func (g *gen) comment(where string) {
	switch g.choose(4) {
	case 1:
		g.p(" /* %s */ ", where)
	case 2:
		g.p(" // %s\n", where)
	}
}

// generate writes a package with a type T whose background work is
// described by data: how it is started, what the type already has (a
// cleanup method, fields and locals named like the ones a fix adds), and
// one or two loops.
func generate(data []byte) string {
	g := &gen{data: data, recv: "t", typ: "T"}
	starter := g.choose(6)
	cleanup := g.choose(4)
	ctx := starter == 3
	generic := g.choose(4) == 0
	collide := g.choose(3) // 1: fields named like the fix's; 2: locals named like the fix's
	if g.choose(3) == 0 {
		g.recv = "s"
	}
	tparams, targs := "", ""
	if generic {
		tparams, targs, g.typ = "[K comparable]", "[K]", "T[K]"
	}
	g.p("package p\n\nimport (\n\t\"context\"\n\t\"time\"\n)\n\nconst d = 10 * time.Millisecond\n\nvar _ context.Context\n\n")
	g.p("// T does background work.\ntype T%s struct {\n\tn  int\n\tch chan int\n", tparams)
	if generic {
		g.p("\tm  map[K]int\n")
	}
	if collide == 1 {
		g.p("\tstopLoop func()\n\tloopDone bool\n\tstopWork int\n")
	}
	g.p("}\n\nfunc (%s *T%s) work() { %[1]s.n++ }\n\nfunc (%[1]s *T%[2]s) interval() time.Duration { return d }\n\n", g.recv, targs)
	switch cleanup {
	case 1:
		g.p("// Close releases T.\nfunc (%s *T%s) Close() error {\n\t%[1]s.n = 0\n\treturn nil\n}\n\n", g.recv, targs)
	case 2:
		g.p("func (%s *T%s) Stop() { %[1]s.n = -1 }\n\n", g.recv, targs)
	case 3:
		g.p("// Shutdown is what T had already.\nfunc (%s *T%s) Shutdown() {}\n\n", g.recv, targs)
	}
	locals := ""
	if collide == 2 {
		locals = "\tctx, cancel := 1, 2\n\t_, _ = ctx, cancel\n"
	}
	newT := "&T" + targs + "{}"
	r := g.recv
	switch starter {
	case 0, 3:
		param := ""
		if ctx {
			param = "c context.Context"
		}
		g.p("func NewT%s(%s) *T%s {\n%s\t%s := %s\n", tparams, param, targs, locals, r, newT)
		g.goStmt("\t")
		if g.choose(3) == 0 {
			g.goStmt("\t") // a second goroutine
		}
		g.p("\treturn %s\n}\n", r)
	case 1:
		g.p("func NewT%s() *T%s {\n%s\t%s := %s\n\tgo %[4]s.loop()\n\treturn %[4]s\n}\n\nfunc (%[4]s *T%[2]s) loop() {\n", tparams, targs, locals, r, newT)
		g.loops("\t")
		g.p("}\n")
	case 2:
		g.p("// Start starts the work.\nfunc (%s *T%s) Start() {\n%s", r, targs, locals)
		g.goStmt("\t")
		g.p("}\n")
	case 5:
		// Goroutines started in a loop: one value would own several.
		g.p("func NewT%s() *T%s {\n%s\t%s := %s\n\tfor i := 0; i < 2; i++ {\n", tparams, targs, locals, r, newT)
		g.goStmt("\t\t")
		g.p("\t}\n\treturn %s\n}\n", r)
	case 4:
		// The go statement inside an if, after a comment.
		g.p("func NewT%s(on bool) *T%s {\n%s\t%s := %s\n\tif on {\n\t\t// start the work\n", tparams, targs, locals, r, newT)
		g.goStmt("\t\t")
		g.p("\t}\n\treturn %s\n}\n", r)
	}
	return g.b.String()
}

func (g *gen) goStmt(in string) {
	g.p("%sgo", in)
	g.comment("go")
	g.p(" func() {\n")
	g.loops(in + "\t")
	g.p("%s}()\n", in)
}

// loops writes one loop, or two in a row.
func (g *gen) loops(in string) {
	g.loop(in)
	if g.choose(4) == 0 {
		g.loop(in)
	}
}

func (g *gen) duration() string {
	return []string{"d", "time.Second", "time.Duration(1+len(\"x\")) * time.Millisecond", "0", "time.Duration(3)", g.recv + ".interval()"}[g.choose(6)]
}

// loop writes a loop at the given indentation.
func (g *gen) loop(in string) {
	g.labeled, g.usedLabel, g.tick = g.choose(3) == 0, false, ""
	g.loopsSoFar++
	g.outer = fmt.Sprintf("outer%d", g.loopsSoFar) // labels are per function, not per block
	label := ""
	if g.labeled {
		label = g.outer + ":\n" + in
	}
	if g.choose(3) == 0 {
		g.p("%s// the loop\n", in)
	}
	g.p("%s{\n", in) // a block, so that two loops may reuse names and labels
	in += "\t"
	switch g.choose(8) {
	case 0:
		g.p("%s%sfor", in, label)
		g.comment("header")
		g.p(" range time.Tick(%s) {", g.duration())
		g.comment("tick")
		g.p("\n")
		g.body(in + "\t")
	case 1:
		// The tick value, possibly shadowing the owner.
		g.tick = []string{"tk", "now", g.recv}[g.choose(3)]
		g.p("%s%sfor %s := range time.Tick(%s) {\n%s\t_ = %[3]s\n", in, label, g.tick, g.duration(), in)
		if g.tick != g.recv && g.choose(2) == 0 {
			g.p("%s\t%s.n = %s.Nanosecond()\n", in, g.recv, g.tick)
		}
		g.body(in + "\t")
	case 2:
		g.p("%sticker := time.NewTicker(time.Second)\n%sdefer ticker.Stop()\n", in, in)
		if g.choose(2) == 0 {
			g.tick = "now"
			g.p("%s%sfor now := range ticker.C {\n%s\t_ = now\n", in, label, in)
		} else {
			g.p("%s%sfor range ticker.C {\n", in, label)
		}
		g.body(in + "\t")
	case 3:
		g.p("%s%sfor {\n%s\ttime.Sleep(%s)", in, label, in, g.duration())
		g.comment("sleep")
		g.p("\n")
		g.body(in + "\t")
	case 4:
		g.p("%s%sfor {\n%s\tselect {", in, label, in)
		g.comment("select")
		g.p("\n%s\tcase <-time.After(%s):\n", in, g.duration())
		g.body(in + "\t\t")
		if g.choose(2) == 0 {
			g.p("%s\tcase v := <-%s.ch:\n%s\t\t%[2]s.n += v\n", in, g.recv, in)
		}
		g.p("%s\t}\n", in)
	case 5:
		g.p("%s%sfor {\n%s\t<-time.After(%s)\n", in, label, in, g.duration())
		g.body(in + "\t")
	case 6:
		g.p("%s%sfor ; ; {\n", in, label)
		g.body(in + "\t")
		g.p("%s\ttime.Sleep(d)\n", in)
	case 7:
		// The only wait is nested in the body.
		g.p("%s%sfor i := 0; ; i++ {\n%s\tif i%%2 == 0 {\n%s\t\ttime.Sleep(d) // nested\n%s\t}\n", in, label, in, in, in)
		g.body(in + "\t")
	}
	if g.labeled && !g.usedLabel {
		g.p("%s\tif %s.n > 5 {\n%s\t\tcontinue %s\n%[3]s\t}\n", in, g.owner(), in, g.outer)
	}
	g.p("%s}", in)
	g.comment("end")
	g.p("\n")
	in = in[:len(in)-1]
	g.p("%s}\n", in)
}

// owner names the owner value in the loop body, or something else of the
// right kind when the tick value shadows it.
func (g *gen) owner() string {
	if g.tick == g.recv {
		return "(&" + g.typ + "{})"
	}
	return g.recv
}

// body writes up to four statements of a loop body.
func (g *gen) body(in string) {
	for n := g.choose(5); n > 0; n-- {
		g.stmt(in)
	}
}

func (g *gen) stmt(in string) {
	g.depth++
	defer func() { g.depth-- }()
	o := g.owner()
	if strings.HasPrefix(o, "(") {
		// With the owner shadowed, only statements on a fresh value.
		g.p("%s_ = %s.n\n", in, o)
		return
	}
	switch c := g.choose(18); {
	case c == 0:
		g.p("%s%s.n++\n", in, o)
	case c == 1:
		g.p("%sif %s.n > 3 {\n%s\tcontinue\n%s}\n", in, o, in, in)
	case c == 2 && g.labeled:
		g.p("%sif %s.n > 7 {\n%s\tcontinue %s\n%[3]s}\n", in, o, in, g.outer)
		g.usedLabel = true
	case c == 3:
		g.p("%s%s.work()", in, o)
		g.comment("work")
		g.p("\n")
	case c == 4 && g.depth < 3:
		g.p("%sfor i := 0; i < 3; i++ {\n%s\tif i == %s.n {\n%s\t\tbreak\n%s\t}\n", in, in, o, in, in)
		g.stmt(in + "\t")
		g.p("%s}\n", in)
	case c == 5 && g.depth < 3:
		g.inner++
		g.p("%sinner%d:\n%sfor j := 0; j < 2; j++ {\n%s\tif j == %s.n {\n%s\t\tcontinue inner%[2]d\n%s\t}\n", in, g.inner, in, in, o, in, in)
		if g.labeled && g.choose(2) == 0 {
			g.p("%s\tif j > %s.n {\n%s\t\tcontinue %s\n%[3]s\t}\n", in, o, in, g.outer)
			g.usedLabel = true
		}
		g.p("%s}\n", in)
	case c == 6:
		g.p("%sswitch %s.n {\n%scase 1:\n%s\tbreak\n%sdefault:\n", in, o, in, in, in)
		if g.choose(2) == 0 {
			g.p("%s\ttime.Sleep(time.Millisecond)\n", in)
		}
		g.p("%s\t%s.n--\n%s}\n", in, o, in)
	case c == 7:
		g.p("%sselect {\n%scase v := <-%s.ch:\n%s\t%[3]s.n += v\n%sdefault:", in, in, o, in, in)
		g.comment("default")
		g.p("\n%s}\n", in)
	case c == 8:
		g.p("%stime.Sleep(time.Millisecond)\n", in)
	case c == 9:
		g.p("%sfunc() {\n%s\tif %s.n > 0 {\n%s\t\treturn\n%s\t}\n%s}()\n", in, in, o, in, in, in)
	case c == 10:
		g.p("%s// about the next line\n%s%s.n += 2\n", in, in, o)
	case c == 11:
		g.p("%s/* lead */ %s.n *= 2 // trail\n", in, o)
	case c == 12:
		g.p("%sif %s.n > 100 {\n%s\t%[2]s.n = 0 // reset\n%s} else {\n%s\t%[2]s.work()\n%s}\n", in, o, in, in, in, in)
	case c == 13:
		g.p("%s{\n%s\tvar x = %s.n\n%s\t_ = x\n%s}\n", in, in, o, in, in)
	case c == 14:
		g.p("%sif %s.n < 0 {\n%s\t<-time.After(time.Millisecond)\n%s}\n", in, o, in, in)
	case c == 15:
		// Locals named like the fix's.
		g.p("%s{\n%[1]s\tctx, cancel, ticker := 0, 1, 2\n%[1]s\t_, _, _ = ctx, cancel, ticker\n%[1]s}\n", in)
	case c == 16:
		g.inner++
		g.p("%sif %s.n == 42 {\n%s\tgoto next%d\n%[3]s}\n%[1]s%[2]s.n++\n%[1]snext%[4]d:\n%[1]s%[2]s.n--\n", in, o, in, g.inner)
	case c == 17:
		// A send nothing can interrupt: the loop cannot be fixed.
		g.p("%s%s.ch <- %[2]s.n\n", in, o)
	default:
		g.p("%s%s.n--\n", in, o)
	}
}
