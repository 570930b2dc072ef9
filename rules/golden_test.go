package rules_test

import (
	"fmt"
	"go/ast"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/rules"
)

// A wantLine is one finding of a case's want/check report.
var wantLine = regexp.MustCompile(`^(\S+:\d+:\d+): ([a-z-]+): (.*)$`)

// TestGoldenFindings runs the rules on every golden case's input, with the
// types checked from source, and requires the findings its want/check
// report lists: the same places, rules and messages, and for a finding the
// rules already know cannot be fixed, the same reason. Where the report
// says "not fixed" and the rules offered a plan, the refusal came later
// (from the rewrite or its verification), which the engine's golden test
// covers. It is the rules' own test of every shape the golden cases hold,
// the negatives included (a case reports nothing on what it must not).
func TestGoldenFindings(t *testing.T) {
	for _, c := range golden.Load(t, "../testdata/golden") {
		t.Run(c.Name, func(t *testing.T) {
			want, _ := c.File("want/check") // none: the case reports nothing
			if hasIgnore(c) {
				t.Skip("ignore comments are the engine's (internal/engine's suppress tests)")
			}
			fset, pkgs := c.Typecheck(t)
			var got []string
			for _, p := range pkgs {
				pass := &rules.Pass{Fset: fset, Pkg: p.Types, Info: p.Info, AllFiles: p.Files, GoVersion: p.GoVersion}
				for _, f := range p.Files {
					if !ast.IsGenerated(f) {
						pass.Files = append(pass.Files, f)
					}
				}
				for _, r := range rules.All {
					for _, fd := range r.Find(pass) {
						pos := fset.Position(fd.Pos)
						line := fmt.Sprintf("%s:%d:%d: %s: %s", strings.TrimPrefix(pos.Filename, c.Name+"/"), pos.Line, pos.Column, fd.Rule, fd.Message)
						if fd.Unfixable != "" {
							// A reason may name a place, as the command line
							// does: relative to the case's directory.
							line += " (not fixed: " + strings.ReplaceAll(fd.Unfixable, c.Name+"/", "") + ")"
						}
						got = append(got, line)
					}
				}
			}
			var wants []string
			for _, l := range strings.Split(want, "\n") {
				if wantLine.MatchString(l) {
					wants = append(wants, l)
				}
			}
			slices.Sort(got)
			slices.Sort(wants)
			for _, w := range wants {
				if i := slices.Index(got, w); i >= 0 {
					got = slices.Delete(got, i, i+1)
					continue
				}
				// A refusal made after the plan: the rules offered one.
				base, _, later := strings.Cut(w, " (not fixed: ")
				if i := slices.Index(got, base); later && i >= 0 {
					got = slices.Delete(got, i, i+1)
					continue
				}
				t.Errorf("missing finding\n%s", w)
			}
			for _, g := range got {
				t.Errorf("unexpected finding\n%s", g)
			}
		})
	}
}

// hasIgnore reports whether a case's input holds a //leakfix:ignore comment.
func hasIgnore(c *golden.Case) bool {
	for _, f := range c.Archive.Files {
		if !strings.HasPrefix(f.Name, "want/") && strings.Contains(string(f.Data), "//leakfix:ignore") {
			return true
		}
	}
	return false
}
