package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/rules"
)

func newRulesCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "List the rules",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			for _, r := range rules.All {
				optIn := ""
				if r.OptIn {
					optIn = " (opt-in: --rules " + r.Name + ")"
				}
				fmt.Fprintf(stdout, "%-20s %s%s\n", r.Name, r.Doc.Title, optIn)
			}
			fmt.Fprintf(stdout, "%-20s %s (always on)\n", ignore.InvalidIgnore.Name, ignore.InvalidIgnore.Doc.Title)
		},
	}
}

func newExplainCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:       "explain RULE",
		Short:     "Explain a rule, with code before and after its fix",
		Args:      cobra.ExactArgs(1),
		ValidArgs: ruleNames(),
		RunE: func(_ *cobra.Command, args []string) error {
			r := rules.ByName(args[0])
			if args[0] == ignore.InvalidIgnore.Name {
				r = ignore.InvalidIgnore
			}
			if r == nil {
				return fmt.Errorf("unknown rule %q; known rules: %s", args[0], strings.Join(ruleNames(), ", "))
			}
			after := "After leakfix fix:"
			if r.Doc.NoFix {
				after = "leakfix reports this without a fix. Instead:"
			}
			fmt.Fprintf(stdout, "%s: %s\n\n%s\n\nBefore:\n\n%s\n\n%s\n\n%s\n",
				r.Name, r.Doc.Title, r.Doc.Text, indent(r.Doc.Before), after, indent(r.Doc.After))
			return nil
		},
	}
}

func ruleNames() []string {
	var names []string
	for _, r := range rules.All {
		names = append(names, r.Name)
	}
	return names
}

func indent(code string) string {
	lines := strings.Split(code, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n")
}
