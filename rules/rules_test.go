package rules

import (
	"strings"
	"testing"
)

// TestChoose checks rule selection as --rules, .leakfix.yaml and the
// analyzer's -rules flag read it.
func TestChoose(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  string // the chosen rules, or the error
	}{
		{nil, "unstoppable-loop unstopped-signal discarded-timer unstopped-ticker"},
		{[]string{"-unstopped-ticker"}, "unstoppable-loop unstopped-signal discarded-timer"},
		{[]string{"global-hook"}, "global-hook"},
		{[]string{"all"}, "unstoppable-loop unstopped-signal discarded-timer global-hook unstopped-ticker"},
		{[]string{"all", "-unstopped-ticker"}, "unstoppable-loop unstopped-signal discarded-timer global-hook"},
		{[]string{"global-hook", "unstoppable-loop"}, "unstoppable-loop global-hook"},
		{[]string{"-global-hook"}, "unstoppable-loop unstopped-signal discarded-timer unstopped-ticker"},
		{[]string{"-global-hook", "-unstopped-ticker"}, "unstoppable-loop unstopped-signal discarded-timer"},
		{[]string{"unstoppable-loop", "global-hook", "-global-hook"}, "unstoppable-loop"},
		{[]string{"always-on"}, ""},
		{[]string{"always-on", "discarded-timer"}, "discarded-timer"},
		{[]string{" discarded-timer"}, "discarded-timer"},
		{[]string{"-always-on"}, "error: always-on is always on and cannot be removed"},
		{[]string{"nope"}, `error: unknown rule "nope" (see leakfix rules)`},
		{[]string{"-nope"}, `error: unknown rule "nope" (see leakfix rules)`},
	} {
		rs, err := Choose(c.names, "always-on")
		var got []string
		for _, r := range rs {
			got = append(got, r.Name)
		}
		g := strings.Join(got, " ")
		if err != nil {
			g = "error: " + err.Error()
		}
		if g != c.want {
			t.Errorf("Choose(%q) = %s, want %s", c.names, g, c.want)
		}
	}
}
