package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
)

// allWired reports whether the fix itself calls w's cleanup for every
// value the starter's calls make.
func allWired(w migrationWire) bool {
	if len(w.Callers) == 0 || w.Method == "" {
		return false
	}
	for _, c := range w.Callers {
		if c.Wired == "" {
			return false
		}
	}
	return true
}

// wiringSummary counts what the fix wired: cleanups whose every value is
// stopped where its life ends, calls of their starters wired, and why the
// others are not, grouped.
type wiringSummary struct {
	cleanups, wiredCleanups int
	calls, wiredCalls       int
	reasons                 map[string]int
}

func summarizeWiring(pkgs []migrationPackage) wiringSummary {
	s := wiringSummary{reasons: map[string]int{}}
	for _, p := range pkgs {
		for _, w := range p.Wire {
			if w.Method == "" {
				continue // the work honours a context
			}
			s.cleanups++
			if allWired(w) {
				s.wiredCleanups++
			}
			if len(w.Callers) == 0 {
				s.reasons["no call of the starter in the loaded packages"]++
			}
			for _, c := range w.Callers {
				s.calls++
				switch {
				case c.Wired != "":
					s.wiredCalls++
				case c.NotWired != "":
					s.reasons[c.NotWired]++
				default:
					s.reasons["not analysed for wiring"]++
				}
			}
		}
	}
	return s
}

// sortedReasons returns the reasons, most frequent first.
func (s wiringSummary) sortedReasons() []string {
	var whys []string
	for why := range s.reasons {
		whys = append(whys, why)
	}
	sort.Slice(whys, func(i, j int) bool {
		return s.reasons[whys[i]] > s.reasons[whys[j]] || s.reasons[whys[i]] == s.reasons[whys[j]] && whys[i] < whys[j]
	})
	return whys
}

// text prints the closing note of fix: what was wired, what was left in
// the report and why.
func (s wiringSummary) text(w io.Writer) {
	if s.calls == 0 {
		return // nothing in sight to wire: the report lists the cleanups
	}
	fmt.Fprintf(w, "leakfix: %d of %s wired where the values' lives end (%d of %s); the rest is left to wire up\n",
		s.wiredCleanups, plural(s.cleanups, "cleanup", "cleanups"), s.wiredCalls, plural(s.calls, "call", "calls"))
	for _, why := range s.sortedReasons() {
		fmt.Fprintf(w, "  %4d  not wired: %s\n", s.reasons[why], why)
	}
}

func (s wiringSummary) markdown(b *bytes.Buffer) {
	fmt.Fprintf(b, "Wired by the fix: %d of %s (%d of %s of their starters).\n",
		s.wiredCleanups, plural(s.cleanups, "cleanup", "cleanups"), s.wiredCalls, plural(s.calls, "call", "calls"))
	if len(s.reasons) > 0 {
		b.WriteString("\nNot wired:\n\n")
		for _, why := range s.sortedReasons() {
			fmt.Fprintf(b, "- %d× %s\n", s.reasons[why], why)
		}
	}
}
