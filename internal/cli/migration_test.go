package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/golden"
)

// reportModule has a fixable loop whose constructor main calls, one whose
// Start method nothing in the module calls, and one that cannot be fixed.
var reportModule = map[string]string{
	"srv/srv.go": `package srv

import "time"

type Server struct{ n int }

func NewServer() *Server {
	s := &Server{}
	go func() {
		for range time.Tick(time.Minute) {
			s.n++
		}
	}()
	return s
}

type Poller struct{ n int }

func (p *Poller) Close() error { return nil }

func (p *Poller) Start() {
	go func() {
		for range time.Tick(time.Second) {
			p.n++
		}
	}()
}

func Many(s *Server) {
	for i := 0; i < 3; i++ {
		go func() {
			for range time.Tick(time.Hour) {
				s.n++
			}
		}()
	}
}
`,
	// Work the package owns, work that honours its caller's context, and
	// owners whose cleanup names are taken by promoted methods: the report
	// must say what the rewrite did, not what a guess at it would.
	"srv/more.go": `package srv

import (
	"context"
	"time"
)

var ticks int

func init() {
	go func() {
		for range time.Tick(time.Hour) {
			ticks++
		}
	}()
}

func Watch(ctx context.Context, s *Server) {
	go func() {
		for range time.Tick(time.Second) {
			s.n++
		}
	}()
}

type base struct{}

func (*base) Shutdown() {}

type Embedder struct {
	*base
	n int
}

func NewEmbedder() *Embedder {
	e := &Embedder{base: &base{}}
	go func() {
		for range time.Tick(time.Minute) {
			e.n++
		}
	}()
	return e
}

type closer struct{}

func (closer) Close() error { return nil }

type WithClose struct {
	closer
	n int
}

func NewWithClose() *WithClose {
	w := &WithClose{}
	go func() {
		for range time.Tick(time.Minute) {
			w.n++
		}
	}()
	return w
}
`,
	"cmd/app/main.go": `package main

import "example.com/golden/srv"

func main() {
	s := srv.NewServer()
	_ = s
}
`,
}

// TestReport checks the migration report in both formats: what was fixed,
// what was not and why, and what to wire up, with the callers found.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	for name, content := range reportModule {
		golden.WriteFile(t, filepath.Join(dir, name), content)
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"fix", "-C", dir, "--report", "r.json"}, &stdout, &stderr)
	if code != exitFindings {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	var r migrationReport
	if err := json.Unmarshal([]byte(golden.ReadFile(t, filepath.Join(dir, "r.json"))), &r); err != nil {
		t.Fatal(err)
	}
	want := migrationSummary{Packages: 2, Findings: 7, Fixed: 6, NotFixed: 1, FilesChanged: 2}
	if r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	if len(r.Packages) != 1 || r.Packages[0].Path != "example.com/golden/srv" {
		t.Fatalf("packages %+v", r.Packages)
	}
	p := r.Packages[0]
	if len(p.Fixed) != 6 || p.Fixed[4].Pos != "srv/srv.go:9:2" || p.Fixed[5].Pos != "srv/srv.go:22:2" {
		t.Errorf("fixed %+v", p.Fixed)
	}
	if len(p.NotFixed) != 1 || p.NotFixed[0].Pos != "srv/srv.go:31:3" || p.NotFixed[0].Reason != "the goroutine is started inside a loop, so one value owns several of them" {
		t.Errorf("not fixed %+v", p.NotFixed)
	}
	wantWire := []migrationWire{
		// main imports the package, but has no shutdown path to call
		// the package's cleanup from.
		{Method: "Shutdown", Added: true, Starter: "init", Callers: []migrationCaller{{Pos: "cmd/app/main.go:5:6", Func: "main",
			NotWired: "main has no shutdown path (it handles no signal and defers no cleanup)"}}},
		{Starter: "Watch", Ctx: "ctx", Callers: []migrationCaller{}},
		// Shutdown is promoted from base: Embedder gets its own, which
		// stops the work and then calls base's.
		{Type: "Embedder", Method: "Shutdown", Added: true, Starter: "NewEmbedder", Callers: []migrationCaller{}},
		// The same for the Close promoted from closer.
		{Type: "WithClose", Method: "Close", Added: true, Starter: "NewWithClose", Callers: []migrationCaller{}},
		{Type: "Server", Method: "Shutdown", Added: true, Starter: "NewServer", Callers: []migrationCaller{{Pos: "cmd/app/main.go:6:11", Func: "main",
			NotWired: "main has no shutdown path (it handles no signal and defers no cleanup)"}}},
		{Type: "Poller", Method: "Close", Starter: "(*Poller).Start", Callers: []migrationCaller{}},
	}
	if got, _ := json.Marshal(p.Wire); string(got) != mustJSON(t, wantWire) {
		t.Errorf("wire up:\n%s\nwant:\n%s", got, mustJSON(t, wantWire))
	}

	// The same run as Markdown, on the original code.
	for name, content := range reportModule {
		golden.WriteFile(t, filepath.Join(dir, name), content)
	}
	stderr.Reset()
	Main([]string{"fix", "-C", dir, "--report", filepath.Join(dir, "r.md")}, &stdout, &stderr)
	md := golden.ReadFile(t, filepath.Join(dir, "r.md"))
	for _, line := range []string{
		"7 findings in 2 packages: 6 fixed, 1 not fixed; 2 files changed.",
		"- [ ] `(*srv.Server).Shutdown` is new; it stops the work started by `NewServer`: call it where the value's life ends. " +
			"The work is started by these calls of `NewServer`; the cleanup belongs where the values they make are done with:\n" +
			"  - `cmd/app/main.go:6:11` in main: call it from there (not wired: main has no shutdown path (it handles no signal and defers no cleanup))\n",
		"Wired by the fix: 0 of 5 cleanups (0 of 2 calls of their starters).\n\nNot wired:\n\n" +
			"- 3× no call of the starter in the loaded packages\n- 2× main has no shutdown path (it handles no signal and defers no cleanup)\n",
		"- [ ] `(*srv.Poller).Close` now also stops the work started by `(*Poller).Start`: call it where the value's life ends. No call of `(*Poller).Start` was found",
		"- [ ] `srv.Shutdown` is new; it stops the work started by `init`: call it where the program shuts down. " +
			"The commands that import the package, on whose shutdown path it belongs:\n" +
			"  - `cmd/app/main.go:5:6` in main: call it from there (not wired: main has no shutdown path (it handles no signal and defers no cleanup))\n",
		"- [ ] The work started by `srv.Watch` now ends when its context `ctx` is done",
		"- [ ] `(*srv.Embedder).Shutdown` is new",
		"- [ ] `(*srv.WithClose).Close` is new",
		"- `srv/srv.go:31:3`: goroutine started in Many ticks forever with no way to stop it — the goroutine is started inside a loop, so one value owns several of them\n",
	} {
		if !strings.Contains(md, line) {
			t.Errorf("the Markdown report lacks %q:\n%s", line, md)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoProgressOffTerminal checks that a run whose standard error is a
// file, not a terminal, prints no progress line.
func TestNoProgressOffTerminal(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), golden.Leaky("leaky"))
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var stdout bytes.Buffer
	Main([]string{"fix", "-C", dir}, &stdout, stderr)
	got := golden.ReadFile(t, stderr.Name())
	if want := "leakfix: 1 finding in 1 package, 1 file fixed, 0 not fixed\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

// TestCheckSummary checks that check tells a terminal what it looked at,
// and nothing else.
func TestCheckSummary(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
	golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), golden.Leaky("leaky"))
	golden.WriteFile(t, filepath.Join(dir, "clean/c.go"), "package clean\n")
	for _, terminal := range []bool{false, true} {
		old := isTerminal
		isTerminal = func(io.Writer) bool { return terminal }
		var stdout, stderr bytes.Buffer
		code := Main([]string{"check", "--no-cache", "-C", dir}, &stdout, &stderr)
		isTerminal = old
		summary := "leakfix: 1 finding in 2 packages\n"
		if got := stderr.String(); code != exitFindings || terminal && !strings.HasSuffix(got, "\x1b[K"+summary) || !terminal && got != "" {
			t.Errorf("terminal %v: exit %d, stderr %q; want exit 1 and the summary %q only on a terminal", terminal, code, got, summary)
		}
	}
}

// TestProgress checks the progress line's form and that only character
// devices get one.
func TestProgress(t *testing.T) {
	if p := newProgress(&bytes.Buffer{}); p != nil {
		t.Error("a buffer got a progress line")
	}
	if f, err := os.Open(os.DevNull); err == nil {
		defer f.Close()
		if p := newProgress(f); p == nil {
			t.Errorf("%s, a character device, got no progress line", os.DevNull)
		}
	}
	var b bytes.Buffer
	p := &progress{w: &b}
	p.show(engine.Progress{Stage: engine.StageListing})
	p.show(engine.Progress{Stage: engine.StageChecking, Done: 30, Total: 40})
	p.show(engine.Progress{Loaded: 12, Analysed: 3})
	p.show(engine.Progress{Platform: "windows/amd64", Loaded: 12, Analysed: 12})
	p.clear()
	want := "\rleakfix: listing packages\x1b[K\rleakfix: parsing and type-checking: 30 of 40 packages\x1b[K" +
		"\rleakfix: 12 packages loaded, 3 analysed\x1b[K\rleakfix: 12 packages loaded, 12 analysed (windows/amd64)\x1b[K\r\x1b[K"
	if b.String() != want {
		t.Errorf("progress wrote %q, want %q", b.String(), want)
	}
}

// TestReportEmpty checks that a run without findings still writes a
// report whose lists are lists, not null.
func TestReportEmpty(t *testing.T) {
	b, err := json.Marshal(buildMigrationReport(t.TempDir(), &engine.Result{}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"packages":[]`) {
		t.Errorf("report %s, want an empty packages list", b)
	}
}
