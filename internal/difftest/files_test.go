package difftest

import (
	"fmt"
	"go/format"
	"sort"
	"strings"
)

// The fake durations of a run: the programs run for runFor, then their
// cleanup is called. No event falls on runFor (see the grammar). The trace
// before the fix goes on for horizon after it, to tell what each program
// would have done while its cleanup waits.
const (
	runFor  = "2525 * time.Millisecond"
	horizon = "2 * time.Second"
)

// traceGo is the recorder every program writes its events to.
const traceGo = `package p

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// A recorder keeps what one goroutine did, and when, in fake time from the
// start of its program.
type recorder struct {
	start  time.Time // set before the program starts
	mu     sync.Mutex
	events []string
}

// maxEvents bounds a trace: a loop that spins instead of waiting keeps fake
// time from advancing, and would otherwise never let the test go on.
const maxEvents = 10000

func (r *recorder) record(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == maxEvents {
		panic(fmt.Sprintf("more than %d events: the loop spins", maxEvents))
	}
	r.events = append(r.events, fmt.Sprintf("%v ", time.Since(r.start))+fmt.Sprintf(format, args...))
}

func (r *recorder) trace() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}
`

// helpersTest holds what the run-time tests after the fix share.
const helpersTest = `package p

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// exit ends the test binary: once a goroutine of the program is left
// running, the bubble would wait for it for ever.
func exit(t *testing.T, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "--- FAIL: %s\n    %s\n", t.Name(), fmt.Sprintf(format, args...))
	os.Exit(1)
}

// checkEnded requires the goroutine to have returned: its deferred record
// of its end is in the trace.
func checkEnded(t *testing.T, name string, got []string) {
	t.Helper()
	for _, e := range got {
		if strings.HasSuffix(e, " exit") {
			return
		}
	}
	t.Errorf("%s: the goroutine had not returned when the cleanup did", name)
}

// stopWithin calls stop twice at the same time, waits up to an hour of
// fake time for the first call to return, and calls it once more. It calls
// returned as soon as the first call has returned.
func stopWithin(t *testing.T, stop, returned func()) {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		stop()
		returned()
	}()
	go stop()
	select {
	case <-stopped:
	case <-time.After(time.Hour):
		exit(t, "the cleanup did not return within an hour")
	}
	stop()
}

// checkTrace requires the trace up to the cleanup to be the one recorded
// before the fix.
func checkTrace(t *testing.T, name string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s up to the cleanup differs from before the fix:\n got: %q\nwant: %q", name, got, want)
	}
}

// checkDuring requires what happened while the cleanup waited to be what
// the program would have done next, or the start of it, followed at most by
// the goroutine's deferred record of its end.
func checkDuring(t *testing.T, name string, got, want, next []string) {
	t.Helper()
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		return // checkTrace reported it
	}
	during := got[len(want):]
	if n := len(during); n > 0 && strings.HasSuffix(during[n-1], " exit") {
		during = during[:n-1]
	}
	if len(during) > len(next) || !slices.Equal(during, next[:len(during)]) {
		t.Errorf("%s while the cleanup waited: %q; before the fix it went on with %q", name, during, next)
	}
}

// checkAfter requires the goroutine to have done nothing after the cleanup
// returned: the cleanup waits for it to end.
func checkAfter(t *testing.T, name string, returned, got []string) {
	t.Helper()
	if len(got) > len(returned) {
		t.Errorf("%s after the cleanup returned: %q", name, got[len(returned):])
	}
}
`

// A cleanup is what stops a fixed program.
type cleanup struct {
	kind   string // "method", "func" (the package's), "cancel" (the context New takes), or "none"
	name   string
	result bool // it returns an error
}

// call spells a call of the cleanup on v, as a statement.
func (c cleanup) call(v string) string {
	switch c.kind {
	case "method":
		if c.result {
			return fmt.Sprintf("if err := %s.%s(); err != nil {\nt.Errorf(\"%[2]s: %%v\", err)\n}", v, c.name)
		}
		return v + "." + c.name + "()"
	case "func":
		return c.name + "()"
	case "cancel":
		return "cancel()"
	}
	return ""
}

// beforeTest starts every program of a package in one bubble, records their
// traces up to runFor and horizon after it into traces.json in its directory,
// and exits: their goroutines never end.
func beforeTest(progs []*program) string {
	var b strings.Builder
	ctx := false
	b.WriteString("func TestBefore(t *testing.T) {\nsynctest.Test(t, func(t *testing.T) {\nstart := time.Now()\n")
	var traces []string
	for _, p := range progs {
		for _, tr := range p.traces {
			fmt.Fprintf(&b, "%s.start = start\n", tr)
			traces = append(traces, tr)
		}
		switch p.owner {
		case startLit, startMethod:
			fmt.Fprintf(&b, "(&T%s{}).Start()\n", p.id)
		case pkgFunc:
			fmt.Fprintf(&b, "Start%s()\n", p.id)
		case ctxParam:
			ctx = true
			fmt.Fprintf(&b, "New%s(context.Background())\n", p.id)
		default:
			fmt.Fprintf(&b, "New%s()\n", p.id)
		}
	}
	fmt.Fprintf(&b, "time.Sleep(%s)\nat := map[string][]string{\n", runFor)
	for _, tr := range traces {
		fmt.Fprintf(&b, "%q: %s.trace(),\n", tr, tr)
	}
	fmt.Fprintf(&b, "}\ntime.Sleep(%s)\nlater := map[string][]string{\n", horizon)
	for _, tr := range traces {
		fmt.Fprintf(&b, "%q: %s.trace(),\n", tr, tr)
	}
	b.WriteString("}\nout, err := json.Marshal(map[string]any{\"at\": at, \"later\": later})\nif err != nil {\nt.Fatal(err)\n}\n")
	b.WriteString("if err := os.WriteFile(\"traces.json\", out, 0o644); err != nil {\nt.Fatal(err)\n}\nos.Exit(0)\n})\n}\n")
	imports := []string{"encoding/json", "os", "testing", "testing/synctest", "time"}
	if ctx {
		imports = append(imports, "context")
	}
	return gofmt(header(imports) + "// TestBefore runs the programs as they were before the fix.\n" + b.String())
}

// traces are what a program's recorders held before the fix.
type traces struct {
	At    map[string][]string // at runFor
	Later map[string][]string // horizon after it
}

// afterTest runs one fixed program for runFor, requires its trace to be the
// one before the fix, calls its cleanup, and requires the cleanup to return,
// no goroutine to remain, and nothing to happen meanwhile that would not
// have happened without it.
//
// Only the goroutines in fixed must end: a program may have others, which
// were not reported or not fixed.
func afterTest(p *program, c cleanup, tr traces, fixed map[string]bool) string {
	var b strings.Builder
	imports := []string{"testing", "testing/synctest", "time"}
	fmt.Fprintf(&b, "// TestProgram%s runs the fixed program and stops it with its cleanup.\n", p.id)
	fmt.Fprintf(&b, "func TestProgram%s(t *testing.T) {\nsynctest.Test(t, func(t *testing.T) {\nstart := time.Now()\n", p.id)
	for _, tr := range p.traces {
		fmt.Fprintf(&b, "%s.start = start\n", tr)
	}
	v := "v"
	switch p.owner {
	case startLit, startMethod:
		fmt.Fprintf(&b, "v := &T%s{}\n", p.id)
		if c.kind == "method" {
			fmt.Fprintf(&b, "%s // before Start: does nothing\n", c.call(v))
		}
		b.WriteString("v.Start()\n")
	case pkgFunc:
		if c.kind == "func" {
			fmt.Fprintf(&b, "%s // before Start: does nothing\n", c.call(v))
		}
		fmt.Fprintf(&b, "Start%s()\n", p.id)
	case ctxParam:
		imports = append(imports, "context")
		b.WriteString("ctx, cancel := context.WithCancel(context.Background())\ndefer cancel()\n")
		if c.kind == "method" {
			fmt.Fprintf(&b, "v := New%s(ctx)\n", p.id)
		} else {
			fmt.Fprintf(&b, "New%s(ctx)\n", p.id)
		}
	default:
		if c.kind == "method" {
			fmt.Fprintf(&b, "v := New%s()\n", p.id)
		} else {
			fmt.Fprintf(&b, "New%s()\n", p.id)
		}
	}
	fmt.Fprintf(&b, "time.Sleep(%s)\n", runFor)
	for _, name := range p.traces {
		fmt.Fprintf(&b, "checkTrace(t, %q, %s.trace(), want%s)\n", name, name, strings.TrimPrefix(name, "trace"))
	}
	switch c.kind {
	case "none":
	case "cancel":
		// Nothing waits for a loop that honours a context: give it time.
		b.WriteString("cancel()\ntime.Sleep(time.Minute)\nsynctest.Wait()\n")
	default:
		b.WriteString("var returned [][]string\n")
		fmt.Fprintf(&b, "stopWithin(t, func() {\n%s\n}, func() {\nreturned = [][]string{", c.call(v))
		for _, name := range p.traces {
			fmt.Fprintf(&b, "%s.trace(), ", name)
		}
		b.WriteString("}\n})\nsynctest.Wait()\n")
		if len(fixed) == 0 {
			b.WriteString("_ = returned\n")
		}
	}
	if c.kind != "none" {
		for i, name := range p.traces {
			suffix := strings.TrimPrefix(name, "trace")
			fmt.Fprintf(&b, "checkDuring(t, %q, %s.trace(), want%s, next%[3]s)\n", name, name, suffix)
			switch {
			case !fixed[name]:
			case c.kind == "cancel":
				fmt.Fprintf(&b, "checkEnded(t, %q, %[1]s.trace())\n", name)
			default:
				fmt.Fprintf(&b, "checkEnded(t, %q, returned[%d])\ncheckAfter(t, %[1]q, returned[%[2]d], %[1]s.trace())\n", name, i)
			}
		}
	}
	if c.kind == "method" && p.owner != ctxParam {
		fmt.Fprintf(&b, "var zero T%s\n%s\n", p.id, c.call("zero"))
	}
	b.WriteString("})\n}\n\n")
	// The traces before the fix.
	b.WriteString("var (\n")
	for _, name := range p.traces {
		suffix := strings.TrimPrefix(name, "trace")
		at := tr.At[name]
		fmt.Fprintf(&b, "want%[1]s = %[2]s\nnext%[1]s = %[3]s\n", suffix, literal(at), literal(tr.Later[name][len(at):]))
	}
	b.WriteString(")\n")
	return gofmt(header(imports) + b.String())
}

func literal(events []string) string {
	if len(events) == 0 {
		return "[]string{}"
	}
	var b strings.Builder
	b.WriteString("[]string{\n")
	for _, e := range events {
		fmt.Fprintf(&b, "%q,\n", e)
	}
	b.WriteString("}")
	return b.String()
}

func header(imports []string) string {
	sort.Strings(imports)
	var b strings.Builder
	b.WriteString("package p\n\nimport (\n")
	for _, path := range imports {
		fmt.Fprintf(&b, "%q\n", path)
	}
	b.WriteString(")\n\n")
	return b.String()
}

func gofmt(src string) string {
	out, err := format.Source([]byte(src))
	if err != nil {
		panic(fmt.Sprintf("generated test does not parse: %v\n%s", err, src))
	}
	return string(out)
}
