package difftest

import (
	"fmt"
	"go/format"
	"regexp"
	"strings"
)

var counter = regexp.MustCompile(`\bt\.n\b`)

// The grammar of a program:
//
//	program := owner goroutine [goroutine]  (a second one from New or Start)
//	owner   := New starts go func(){…}()  | New starts go t.loop()
//	         | (*T).Start starts go func(){…}() | (*T).Start starts go t.run()
//	         | package func Start starts go func(){…}() once (package state)
//	         | New starts it, T has a Close that does not stop it
//	         | New(ctx) starts it and ignores ctx
//	         | New uses a timeout context for its setup, then starts it
//	goroutine := defer record exit [defer recover] [finite loop] loop [after]
//	loop    := [label] wait { record tick[value]; t.n++; stmt* [exit] }
//	wait    := range time.Tick(P) | range ticker.C | range time.NewTicker(P).C
//	         | select on ticker.C | select on time.After(P) [and a channel]
//	         | time.Sleep(P) | <-time.After(P) | Timer with Reset first or last
//	         | Sleep(P) and Sleep(Q) alternating | range a channel of times that is closed
//	           (made by a method, or in the goroutine, where the fix is refused)
//	         | range a ticker the body replaces | range time.Tick into a variable
//	stmt    := continue | inner loop with break | continue label from an inner loop
//	         | switch with break | Sleep in the body | closure with return
//	         | select with default and break | goto | a nested time.After wait
//	         | a wait while holding a lock (refused)
//	exit    := return | break | error return | break label | panic (recovered)
//	         | runtime.Goexit
//
// Every wake-up records an event first, so a loop that spins instead of
// waiting exceeds the recorder's bound. Periods are multiples of 50ms and
// the run lasts runFor, which is not, so no event falls on the instant the
// test reads the trace or calls the cleanup.

// An ownerKind says how a program starts its goroutine.
type ownerKind int

const (
	ctorLit       ownerKind = iota // New starts go func() {…}()
	ctorMethod                     // New starts go t.loop()
	startLit                       // (*T).Start starts go func() {…}()
	startMethod                    // (*T).Start starts go t.run()
	pkgFunc                        // a package function starts it: package state
	existingClose                  // New starts it; T has a Close that does not stop it
	ctxParam                       // New(ctx) starts it and ignores ctx
	ctxTimeout                     // New uses a timeout context for its setup
	numOwners
)

var ownerNames = [...]string{
	"constructor starting a function literal", "constructor starting a method",
	"Start method starting a function literal", "Start method starting a method",
	"package function", "constructor, and a Close that does not stop the work",
	"constructor with a context parameter it ignores",
	"constructor using a timeout context for its setup",
}

// A program is one generated package file: an owner type and the goroutine
// it starts.
type program struct {
	id      string    // suffix of its names: T3, New3, trace3
	owner   ownerKind // how the work starts
	src     string    // the file, gofmt-clean
	traces  []string  // the recorders its goroutines write, one per goroutine
	desc    []string  // the grammar's choices, in words
	choices []byte    // the input it was made from, to make it again
}

func (p *program) file() string { return "prog" + p.id + ".go" }

// A gen turns input bytes into choices; once they run out every choice is
// 0, so that every input makes a program.
type gen struct {
	data  []byte
	used  int
	b     strings.Builder
	id    string
	tr    string // the recorder of the goroutine being written
	desc  []string
	imp   map[string]bool
	label int // labels so far, to keep them unique in a function

	// Of the loop being written:
	outer   string // its label, or ""
	inCase  bool   // the body is a select case: break leaves the select
	recover bool   // the goroutine recovers a panic
	exits   bool   // the loop may end by itself
	stepped bool   // the type needs the step method
	plain   bool   // no exits and nothing that is refused
	ticks   bool   // the type needs the ticks method
}

func (g *gen) choose(n int) int {
	if len(g.data) == 0 {
		return 0
	}
	c := int(g.data[0]) % n
	g.data = g.data[1:]
	g.used++
	return c
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

func (g *gen) note(format string, args ...any) { g.desc = append(g.desc, fmt.Sprintf(format, args...)) }

// period returns a wait's duration: a constant, or the owner's field.
func (g *gen) period() string {
	p := []string{"100 * time.Millisecond", "250 * time.Millisecond", "300 * time.Millisecond", "time.Second", "t.every"}[g.choose(5)]
	return p
}

// generate makes a program from data, with names ending in id, and returns
// it and the input it did not use.
func generate(data []byte, id string) (*program, []byte) {
	g := &gen{data: data, id: id, imp: map[string]bool{"time": true}}
	owner := ownerKind(g.choose(int(numOwners)))
	g.note("owner: %s", ownerNames[owner])
	prog := &program{id: id, owner: owner}

	// Two goroutines never exit or refuse a fix: the test after the fix
	// could not end while one it did not stop runs.
	two := (owner == ctorLit || owner == startLit) && g.choose(4) == 0
	g.plain = two
	var body strings.Builder
	prog.traces = append(prog.traces, "trace"+id)
	g.tr = "trace" + id
	g.goroutine()
	body.WriteString(g.b.String())
	g.b.Reset()
	second := ""
	if two {
		g.note("a second goroutine")
		prog.traces = append(prog.traces, "trace"+id+"b")
		g.tr = "trace" + id + "b"
		g.label = 0
		g.goroutine()
		// Its own counter, or the two goroutines would race on t.n.
		second = counter.ReplaceAllString(g.b.String(), "t.m")
		g.b.Reset()
	}

	T, New := "T"+id, "New"+id
	if owner == ctxParam || owner == ctxTimeout {
		g.imp["context"] = true
	}
	if owner == pkgFunc {
		g.imp["sync"] = true
	}
	g.p("package p\n\nimport (\n")
	for _, path := range []string{"context", "errors", "runtime", "sync", "time"} {
		if g.imp[path] {
			g.p("%q\n", path)
		}
	}
	g.p(")\n\n// %s owns the work.\ntype %[1]s struct {\nn int\nevery time.Duration\nin chan int\n", T)
	if g.imp["sync"] {
		g.p("mu sync.Mutex\n")
	}
	if second != "" {
		g.p("m int\n")
	}
	if owner == existingClose {
		g.p("err error\n")
	}
	g.p("}\n\n")
	every := "t.every = 250 * time.Millisecond\n"
	newT := "t := &" + T + "{every: 250 * time.Millisecond}\n"
	goLit := func(body string) string { return "go func() {\n" + body + "}()\n" }
	switch owner {
	case ctorLit, existingClose:
		g.p("// %s starts the work.\nfunc %[1]s() *%s {\n%s%s", New, T, newT, goLit(body.String()))
		if second != "" {
			g.p("%s", goLit(second))
		}
		g.p("return t\n}\n\n")
		if owner == existingClose {
			g.p("// Close releases %s. It does not stop the work.\nfunc (t *%[1]s) Close() error {\nreturn t.err\n}\n\n", T)
		}
	case ctorMethod:
		g.p("// %[1]s starts the work.\nfunc %[1]s() *%[2]s {\n%[3]sgo t.loop()\nreturn t\n}\n\nfunc (t *%[2]s) loop() {\n%[4]s}\n\n", New, T, newT, body.String())
	case startLit:
		g.p("// Start starts the work.\nfunc (t *%s) Start() {\n%s%s", T, every, goLit(body.String()))
		if second != "" {
			g.p("%s", goLit(second))
		}
		g.p("}\n\n")
	case startMethod:
		g.p("// Start starts the work.\nfunc (t *%[1]s) Start() {\n%[2]sgo t.run()\n}\n\nfunc (t *%[1]s) run() {\n%[3]s}\n\n", T, every, body.String())
	case pkgFunc:
		// Once, or package state could stop only the last of several starts.
		g.p("var start%[1]sOnce sync.Once\n\n// Start%[1]s starts the work; later calls do nothing.\nfunc Start%[1]s() {\nstart%[1]sOnce.Do(func() {\n%[2]s%[3]s})\n}\n\n", id, newT, goLit(body.String()))
	case ctxParam:
		g.p("// %s starts the work.\nfunc %[1]s(ctx context.Context) *%s {\n%s%sreturn t\n}\n\n", New, T, newT, goLit(body.String()))
	case ctxTimeout:
		g.p("// %s loads T within a second, then starts the work.\nfunc %[1]s() *%s {\nctx, cancel := context.WithTimeout(context.Background(), time.Second)\ndefer cancel()\n%st.load(ctx)\n%sreturn t\n}\n\n", New, T, newT, goLit(body.String()))
		g.p("func (t *%s) load(ctx context.Context) {\nif ctx.Err() != nil {\nt.n = -1\n}\n}\n\n", T)
	}
	for _, tr := range prog.traces {
		g.p("// %s records what the work does.\nvar %[1]s recorder\n\n", tr)
	}
	if g.ticks {
		g.p("// ticks sends n times, d apart, and closes the channel.\nfunc (t *%s) ticks(n int, d time.Duration) <-chan time.Time {\nch := make(chan time.Time, n)\ngo func() {\ndefer close(ch)\nfor i := 0; i < n; i++ {\ntime.Sleep(d)\nch <- time.Now()\n}\n}()\nreturn ch\n}\n\n", T)
	}
	if g.stepped {
		g.p("func (t *%s) step(n, k int) error {\nif n >= k {\nreturn errors.New(\"too many\")\n}\nreturn nil\n}\n", T)
	}
	src, err := format.Source([]byte(g.b.String()))
	if err != nil {
		panic(fmt.Sprintf("the generator made code that does not parse: %v\n%s", err, g.b.String()))
	}
	prog.src = string(src)
	prog.desc = g.desc
	prog.choices = data[:g.used]
	return prog, g.data
}

// goroutine writes the body of the goroutine's function.
func (g *gen) goroutine() {
	// Every goroutine records its end: the test after the fix requires
	// the record to be there when the cleanup returns.
	exitLast := g.choose(3) == 0
	if !exitLast {
		g.p("defer %s.record(\"exit\")\n", g.tr)
	}
	g.recover = g.choose(4) == 0
	if g.recover {
		g.note("%s: a deferred recover", g.tr)
		g.p("defer func() {\nif r := recover(); r != nil {\n%s.record(\"recovered: %%v\", r)\n}\n}()\n", g.tr)
	}
	if exitLast {
		g.note("%s: its end recorded by the last deferred call", g.tr)
		g.p("defer %s.record(\"exit\")\n", g.tr)
	}
	if g.choose(5) == 0 {
		// A loop that ends by itself before the endless one.
		g.note("%s: first a loop that ends by itself", g.tr)
		g.p("for range time.Tick(%s) {\n%s.record(\"warm-up\")\nt.n++\nif t.n >= 2 {\nbreak\n}\n}\n", g.period(), g.tr)
	}
	g.loop()
}

// The ways a loop waits.
const (
	waitTick = iota
	waitTickerRange
	waitNewTickerC
	waitTickerSelect
	waitAfterSelect
	waitSleep
	waitRecvAfter
	waitTimer
	waitAlternate
	waitClosedChan
	waitReplacedTicker
	waitTickInto
	numWaits
)

var waitNames = [...]string{
	"range time.Tick", "range ticker.C", "range time.NewTicker(P).C", "select on ticker.C",
	"select on time.After", "time.Sleep", "<-time.After", "Timer and Reset",
	"alternating sleeps", "range a channel of times that is closed", "range a ticker the body replaces",
	"range time.Tick into a variable a closure reads",
}

// loop writes one loop and what follows it.
func (g *gen) loop() {
	g.outer, g.inCase, g.exits = "", false, g.choose(3) == 1 && !g.plain // not by default: an exit leaves the loop unreported
	label := ""
	if g.choose(3) == 0 {
		g.label++
		g.outer = fmt.Sprintf("outer%d", g.label)
		label = g.outer + ":\n"
	}
	tick := ""
	if g.choose(2) == 0 {
		tick = "now"
	}
	kind := g.choose(numWaits)
	if kind == waitClosedChan && g.plain {
		// The channel's sender outlives the loop a cleanup stops, and the
		// loop ends by itself: neither fits a program of two goroutines.
		kind = waitTick
	}
	g.note("%s: wait %s", g.tr, waitNames[kind])
	P := g.period()
	tickRecord := func() {
		if tick != "" {
			g.p("%s.record(\"tick %%v\", %s.Sub(%[1]s.start))\n", g.tr, tick)
		} else {
			g.p("%s.record(\"tick\")\n", g.tr)
		}
	}
	def := func() string {
		if tick != "" {
			return tick + " := "
		}
		return ""
	}
	rangeDef := func() string {
		if tick != "" {
			return tick + " := "
		}
		return ""
	}
	ended := false // the loop can end with code after it running
	switch kind {
	case waitTick:
		g.p("%sfor %srange time.Tick(%s) {\n", label, rangeDef(), P)
		tickRecord()
		ended = g.body()
		g.p("}\n")
	case waitTickerRange:
		g.p("ticker := time.NewTicker(%s)\n", P)
		if g.choose(2) == 0 {
			g.p("defer ticker.Stop()\n")
		}
		g.p("%sfor %srange ticker.C {\n", label, rangeDef())
		tickRecord()
		ended = g.body()
		g.p("}\n")
	case waitNewTickerC:
		g.p("%sfor %srange time.NewTicker(%s).C {\n", label, rangeDef(), P)
		tickRecord()
		ended = g.body()
		g.p("}\n")
	case waitTickerSelect, waitAfterSelect:
		if kind == waitTickerSelect {
			g.p("ticker := time.NewTicker(%s)\ndefer ticker.Stop()\n", P)
		}
		g.p("%sfor {\nselect {\n", label)
		if kind == waitTickerSelect {
			g.p("case %s<-ticker.C:\n", def())
		} else {
			g.p("case %s<-time.After(%s):\n", def(), P)
		}
		tickRecord()
		g.inCase = true
		ended = g.body()
		g.inCase = false
		if g.choose(2) == 0 {
			g.note("%s: the select also receives from a channel nothing sends on", g.tr)
			g.p("case v := <-t.in:\nt.n += v\n")
		}
		g.p("}\n}\n")
	case waitSleep:
		g.p("%sfor {\ntime.Sleep(%s)\n", label, P)
		tick = ""
		tickRecord()
		ended = g.body()
		g.p("}\n")
	case waitRecvAfter:
		g.p("%sfor {\n%s<-time.After(%s)\n", label, def(), P)
		tickRecord()
		ended = g.body()
		g.p("}\n")
	case waitTimer:
		resetFirst := g.choose(2) == 0
		g.note("%s: Reset %s", g.tr, map[bool]string{true: "right after the wait", false: "at the end of the body"}[resetFirst])
		g.p("timer := time.NewTimer(%s)\n%sfor {\n%s<-timer.C\n", P, label, def())
		if resetFirst {
			g.p("timer.Reset(%s)\n", P)
		}
		tickRecord()
		ended = g.body()
		if !resetFirst {
			g.p("timer.Reset(%s)\n", P)
		}
		g.p("}\n")
	case waitAlternate:
		Q := g.period()
		g.p("%sfor i := 0; ; i++ {\nif i%%2 == 0 {\ntime.Sleep(%s)\n} else {\ntime.Sleep(%s)\n}\n", label, P, Q)
		tick = ""
		tickRecord()
		ended = g.body()
		g.p("}\n")
	case waitClosedChan:
		// A buffered channel, so that the sender ends whatever the loop does.
		n := 2 + g.choose(4)
		ticks := fmt.Sprintf("t.ticks(%d, %s)", n, P)
		if g.choose(2) == 1 && !g.plain {
			// Closed where the rule sees it: the fix is refused.
			g.note("%s: the goroutine makes the channel and closes it", g.tr)
			g.p("ticks := make(chan time.Time, %d)\ngo func() {\ndefer close(ticks)\nfor i := 0; i < %[1]d; i++ {\ntime.Sleep(%s)\nticks <- time.Now()\n}\n}()\n", n, P)
			ticks = "ticks"
		} else {
			g.ticks = true
		}
		if tick != "" && g.choose(2) == 1 {
			// Into a variable declared outside the loop: range leaves it
			// alone when the channel is closed.
			g.note("%s: the tick value goes to a variable read after the loop", g.tr)
			g.p("var %[1]s time.Time\n%[2]sfor %[1]s = range %[3]s {\n", tick, label, ticks)
			defer g.p("%s.record(\"last tick %%v\", %s.Sub(%[1]s.start))\n", g.tr, tick)
		} else {
			g.p("%sfor %srange %s {\n", label, rangeDef(), ticks)
		}
		tickRecord()
		g.body()
		g.p("}\n")
		ended = true
	case waitReplacedTicker:
		Q := g.period()
		g.p("ticker := time.NewTicker(%s)\n%sfor %srange ticker.C {\n", P, label, rangeDef())
		tickRecord()
		g.p("if t.n == 2 {\nticker.Stop()\nticker = time.NewTicker(%s)\n}\n", Q)
		ended = g.body()
		g.p("}\n")
	case waitTickInto:
		g.p("var last time.Time\nseen := func() time.Duration { return last.Sub(%s.start) }\n%sfor last = range time.Tick(%s) {\n", g.tr, label, P)
		g.p("%s.record(\"tick %%v\", seen())\n", g.tr)
		ended = g.body()
		g.p("}\n")
	}
	// Code after a for loop without a condition or break is unreachable,
	// which vet reports; after a range it is not.
	ranges := kind == waitTick || kind == waitTickerRange || kind == waitNewTickerC || kind == waitReplacedTicker || kind == waitTickInto
	if ended || ranges && g.choose(4) == 0 && !g.plain { // refused after an endless range
		g.note("%s: a statement after the loop", g.tr)
		g.p("%s.record(\"after the loop\")\n", g.tr)
	}
}

// body writes the loop's body after its first record, and reports whether
// it may leave the loop with a break (so that code after it runs).
func (g *gen) body() bool {
	g.p("t.n++\n")
	for n := g.choose(4); n > 0; n-- {
		g.stmt()
	}
	if g.outer != "" {
		g.p("if t.n%%4 == 1 {\ncontinue %s\n}\n", g.outer)
	}
	if !g.exits {
		return false
	}
	k := 2 + g.choose(5)
	switch c := g.choose(6); {
	case c == 0:
		g.note("%s: exit return at n == %d", g.tr, k)
		g.p("if t.n == %d {\n%s.record(\"done\")\nreturn\n}\n", k, g.tr)
	case c == 1 && !g.inCase:
		g.note("%s: exit break at n >= %d", g.tr, k)
		g.p("if t.n >= %d {\nbreak\n}\n", k)
		return true
	case c == 2:
		g.note("%s: exit on an error at n >= %d", g.tr, k)
		g.imp["errors"], g.stepped = true, true
		g.p("if err := t.step(t.n, %d); err != nil {\n%s.record(\"error: %%v\", err)\nreturn\n}\n", k, g.tr)
	case c == 3 && g.outer != "":
		g.note("%s: exit break %s from an inner loop at n >= %d", g.tr, g.outer, k)
		g.p("for j := 0; j < 2; j++ {\nif t.n >= %d {\nbreak %s\n}\n}\n", k, g.outer)
		return true
	case c == 4 && g.recover:
		g.note("%s: exit panic at n == %d", g.tr, k)
		g.p("if t.n == %d {\npanic(\"enough\")\n}\n", k)
	case c == 5:
		g.note("%s: exit runtime.Goexit at n == %d", g.tr, k)
		g.imp["runtime"] = true
		g.p("if t.n == %d {\n%s.record(\"goexit\")\nruntime.Goexit()\n}\n", k, g.tr)
	default:
		g.note("%s: exit return at n == %d", g.tr, k)
		g.p("if t.n == %d {\nreturn\n}\n", k)
	}
	return false
}

// stmt writes one statement of a loop body that does not leave the loop.
func (g *gen) stmt() {
	tr := g.tr
	switch g.choose(11) {
	case 0:
		g.note("%s: continue", tr)
		g.p("if t.n%%3 == 0 {\n%s.record(\"skip\")\ncontinue\n}\n", tr)
	case 1:
		g.note("%s: inner loop with break", tr)
		g.p("for j := 0; j < 3; j++ {\nif j == t.n%%3 {\nbreak\n}\n%s.record(\"inner %%d\", j)\n}\n", tr)
	case 2:
		if g.outer != "" {
			g.note("%s: continue %s from an inner loop", tr, g.outer)
			g.p("for j := 0; j < 2; j++ {\nif t.n%%4 == 0 && j == 1 {\ncontinue %s\n}\n%s.record(\"inner %%d\", j)\n}\n", g.outer, tr)
			return
		}
		fallthrough
	case 3:
		g.note("%s: switch with break", tr)
		g.p("switch t.n %% 3 {\ncase 1:\nif t.n > 3 {\nbreak\n}\n%s.record(\"one\")\ndefault:\n%[1]s.record(\"other\")\n}\n", tr)
	case 4:
		d := []string{"50", "150"}[g.choose(2)]
		g.note("%s: sleep %sms in the body", tr, d)
		g.p("time.Sleep(%s * time.Millisecond)\n%s.record(\"slept\")\n", d, tr)
	case 5:
		g.note("%s: closure with return", tr)
		g.p("func() {\nif t.n%%2 == 0 {\nreturn\n}\n%s.record(\"odd\")\n}()\n", tr)
	case 6:
		g.note("%s: select with default and break", tr)
		g.p("select {\ncase v := <-t.in:\nt.n += v\ndefault:\nif t.n%%2 == 0 {\nbreak\n}\n%s.record(\"idle\")\n}\n", tr)
	case 7:
		g.label++
		g.note("%s: goto", tr)
		g.p("if t.n%%2 == 0 {\ngoto skip%d\n}\n%s.record(\"before skip\")\nskip%[1]d:\n%[2]s.record(\"after skip\")\n", g.label, tr)
	case 8:
		g.note("%s: a nested time.After wait", tr)
		g.p("if t.n%%5 == 4 {\n<-time.After(100 * time.Millisecond)\n%s.record(\"waited\")\n}\n", tr)
	case 9:
		g.note("%s: t.n += 2", tr)
		g.p("t.n += 2\n")
	case 10:
		if g.plain {
			g.p("t.n += 3\n")
			return
		}
		// Refused: returning from the wait would leave the mutex locked.
		g.note("%s: a wait while holding a lock", tr)
		g.imp["sync"] = true
		g.p("t.mu.Lock()\n<-time.After(50 * time.Millisecond)\nt.mu.Unlock()\n%s.record(\"unlocked\")\n", tr)
	}
}
