package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/report"
)

// reportFormat returns "md" or "json" from the report file's extension.
func reportFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".md", ".markdown":
		return "md", nil
	case ".json":
		return "json", nil
	}
	return "", fmt.Errorf("--report %s: the file must end in .md or .json", path)
}

// migrationReport is the migration report; its JSON form is what --report x.json
// writes, field names included.
type migrationReport struct {
	Summary  migrationSummary   `json:"summary"`
	Packages []migrationPackage `json:"packages"`
	Errors   []string           `json:"errors,omitempty"`
}

type migrationSummary struct {
	Packages     int `json:"packages"`
	Findings     int `json:"findings"`
	Fixed        int `json:"fixed"`
	NotFixed     int `json:"notFixed"`
	FilesChanged int `json:"filesChanged"`
	Generated    int `json:"generatedFilesSkipped"`
	NotAnalysed  int `json:"filesNotAnalysed"`
}

type migrationPackage struct {
	Path     string             `json:"path"`
	Fixed    []migrationFinding `json:"fixed,omitempty"`
	NotFixed []migrationFinding `json:"notFixed,omitempty"`
	Wire     []migrationWire    `json:"wireUp,omitempty"`
}

type migrationFinding struct {
	Pos     string `json:"pos"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

// migrationWire is one thing to wire up: a method that now stops background
// work, and where that work is started.
type migrationWire struct {
	Type    string            `json:"type,omitempty"`
	Method  string            `json:"method,omitempty"`
	Added   bool              `json:"added,omitempty"`
	Starter string            `json:"startedBy"`
	Ctx     string            `json:"context,omitempty"`
	Callers []migrationCaller `json:"calledFrom"`
}

type migrationCaller struct {
	Pos  string `json:"pos"`
	Func string `json:"func"`
	// Wired says where the fix now calls the cleanup for this call's
	// values; NotWired why it does not.
	Wired    string `json:"wired,omitempty"`
	NotWired string `json:"notWired,omitempty"`
}

func buildMigrationReport(dir string, res *engine.Result) *migrationReport {
	rel := func(p engine.Finding) string {
		return fmt.Sprintf("%s:%d:%d", engine.Rel(dir, p.Pos.Filename), p.Pos.Line, p.Pos.Column)
	}
	r := &migrationReport{Summary: migrationSummary{
		Packages: res.Packages, Findings: len(res.Findings), FilesChanged: len(res.Changes),
		Generated: res.Generated, NotAnalysed: res.NotAnalysed,
	}}
	byPath := map[string]*migrationPackage{}
	for _, f := range res.Findings {
		p := byPath[f.Package]
		if p == nil {
			p = &migrationPackage{Path: f.Package}
			byPath[f.Package] = p
		}
		rf := migrationFinding{Pos: rel(f), Rule: f.Rule, Message: f.Message, Reason: f.Unfixed}
		if !f.Fixed {
			r.Summary.NotFixed++
			p.NotFixed = append(p.NotFixed, rf)
			continue
		}
		r.Summary.Fixed++
		p.Fixed = append(p.Fixed, rf)
		if f.Wire == nil {
			continue
		}
		w := migrationWire{Type: f.Wire.Type, Method: f.Wire.Method, Added: f.Wire.Added, Starter: f.Wire.Starter, Ctx: f.Wire.Ctx, Callers: []migrationCaller{}}
		for _, c := range f.Wire.Callers {
			w.Callers = append(w.Callers, migrationCaller{
				Pos:  fmt.Sprintf("%s:%d:%d", engine.Rel(dir, c.Pos.Filename), c.Pos.Line, c.Pos.Column),
				Func: c.Func, Wired: c.Wired, NotWired: c.NotWired,
			})
		}
		// Several loops of one type share its Shutdown: list it once.
		dup := false
		for _, have := range p.Wire {
			if have.Type == w.Type && have.Method == w.Method && have.Starter == w.Starter && have.Ctx == w.Ctx {
				dup = true
			}
		}
		if !dup {
			p.Wire = append(p.Wire, w)
		}
	}
	r.Packages = []migrationPackage{} // [] rather than null in JSON when nothing was found
	for _, p := range byPath {
		r.Packages = append(r.Packages, *p)
	}
	sort.Slice(r.Packages, func(i, j int) bool { return r.Packages[i].Path < r.Packages[j].Path })
	for _, e := range res.Errors {
		r.Errors = append(r.Errors, report.RelError(dir, e))
	}
	return r
}

// writeReport writes the report in the format path's extension names.
func writeReport(path, dir string, res *engine.Result) error {
	format, err := reportFormat(path)
	if err != nil {
		return err
	}
	r := buildMigrationReport(dir, res)
	var buf bytes.Buffer
	if format == "json" {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.markdown(&buf)
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func (r *migrationReport) markdown(b *bytes.Buffer) {
	s := r.Summary
	fmt.Fprintf(b, "# leakfix migration report\n\n")
	fmt.Fprintf(b, "%s in %s: %d fixed, %d not fixed; %s changed.",
		plural(s.Findings, "finding", "findings"), plural(s.Packages, "package", "packages"), s.Fixed, s.NotFixed,
		plural(s.FilesChanged, "file", "files"))
	if s.Generated > 0 {
		fmt.Fprintf(b, " %s skipped.", plural(s.Generated, "generated file", "generated files"))
	}
	if s.NotAnalysed > 0 {
		fmt.Fprintf(b, " %s excluded by build constraints not analysed (see --platforms).", plural(s.NotAnalysed, "file", "files"))
	}
	b.WriteString("\n")

	var wires []string
	for _, p := range r.Packages {
		for _, w := range p.Wire {
			wires = append(wires, wireText(p.Path, w))
		}
	}
	if ws := summarizeWiring(r.Packages); ws.cleanups > 0 {
		b.WriteString("\n")
		ws.markdown(b)
	}
	if len(wires) > 0 {
		b.WriteString("\n## Wire up next\n\n")
		b.WriteString("A fix stops background work only when its method is called. Add each call to the\n")
		b.WriteString("program's shutdown path, for every value the listed calls create or start.\n\n")
		for _, w := range wires {
			b.WriteString(w)
		}
	}

	if len(r.Packages) > 0 {
		b.WriteString("\n## Packages\n")
	}
	for _, p := range r.Packages {
		fmt.Fprintf(b, "\n### %s\n", p.Path)
		if len(p.Fixed) > 0 {
			b.WriteString("\nFixed:\n\n")
			for _, f := range p.Fixed {
				fmt.Fprintf(b, "- `%s`: %s\n", f.Pos, f.Message)
			}
		}
		if len(p.NotFixed) > 0 {
			b.WriteString("\nNot fixed:\n\n")
			for _, f := range p.NotFixed {
				reason := f.Reason
				if reason == "" {
					reason = "no automatic fix for this rule"
				}
				fmt.Fprintf(b, "- `%s`: %s — %s\n", f.Pos, f.Message, reason)
			}
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n## Errors\n\nThese could not be analysed; the rest of the run went on.\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(b, "- %s\n", e)
		}
	}
}

// wireText is one "wire up next" item in Markdown.
func wireText(pkg string, w migrationWire) string {
	var b strings.Builder
	short := pkg[strings.LastIndex(pkg, "/")+1:]
	how := "now also stops"
	if w.Added {
		how = "is new; it stops"
	}
	if allWired(w) {
		b.WriteString("- [x]")
	} else {
		b.WriteString("- [ ]")
	}
	switch {
	case w.Ctx != "":
		fmt.Fprintf(&b, " The work started by `%s.%s` now ends when its context `%s` is done: make sure something cancels it.",
			short, w.Starter, w.Ctx)
	case w.Type == "" && allWired(w):
		fmt.Fprintf(&b, " `%s.%s` %s the work started by `%s`.", short, w.Method, how, w.Starter)
	case w.Type == "":
		fmt.Fprintf(&b, " `%s.%s` %s the work started by `%s`: call it where the program shuts down.", short, w.Method, how, w.Starter)
	case allWired(w):
		fmt.Fprintf(&b, " `(*%s.%s).%s` %s the work started by `%s`.", short, w.Type, w.Method, how, w.Starter)
	default:
		fmt.Fprintf(&b, " `(*%s.%s).%s` %s the work started by `%s`: call it where the value's life ends.", short, w.Type, w.Method, how, w.Starter)
	}
	if len(w.Callers) == 0 {
		fmt.Fprintf(&b, " No call of `%s` was found in the loaded packages; look for it in the programs that use this package.\n", w.Starter)
		return b.String()
	}
	// Work the package starts on its own (init) has no caller: the callers
	// listed are the mains of the commands that import the package.
	fromMain := w.Type == "" && !slices.ContainsFunc(w.Callers, func(c migrationCaller) bool { return c.Func != "main" })
	switch {
	case fromMain && allWired(w):
		b.WriteString(" The fix calls it on the shutdown path of the commands that import the package:\n")
	case fromMain:
		b.WriteString(" The commands that import the package, on whose shutdown path it belongs:\n")
	case allWired(w):
		fmt.Fprintf(&b, " The fix calls it where the values these calls of `%s` make are done with:\n", w.Starter)
	default:
		fmt.Fprintf(&b, " The work is started by these calls of `%s`; the cleanup belongs where the values they make are done with:\n", w.Starter)
	}
	for _, c := range w.Callers {
		switch {
		case c.Wired != "":
			fmt.Fprintf(&b, "  - `%s` in %s: %s\n", c.Pos, c.Func, c.Wired)
		case c.NotWired != "":
			fmt.Fprintf(&b, "  - `%s` in %s: call it from there (not wired: %s)\n", c.Pos, c.Func, c.NotWired)
		default:
			fmt.Fprintf(&b, "  - `%s` in %s\n", c.Pos, c.Func)
		}
	}
	return b.String()
}
