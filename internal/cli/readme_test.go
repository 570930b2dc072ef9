package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/rules"
)

// TestREADMERules checks that the README's rule table is the one the rules'
// own documentation gives, so that it cannot drift from `leakfix explain`.
func TestREADMERules(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "<!-- rules:")
	end := strings.Index(readme, "<!-- end rules -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no rules section")
	}
	start += strings.Index(readme[start:], "\n") + 1

	var table strings.Builder
	table.WriteString("| rule | finds | fixed |\n|---|---|---|\n")
	for _, r := range rules.All {
		fixed := "yes"
		if r.Doc.NoFix {
			fixed = "reported only"
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s |\n", r.Name, r.Doc.Title, fixed)
	}
	if got := readme[start:end]; got != table.String() {
		if *golden.Update {
			if err := os.WriteFile(path, []byte(readme[:start]+table.String()+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's rule table is out of date (run with -update):\n%s", table.String())
	}
}
