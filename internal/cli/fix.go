package cli

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/engine"
)

func newFixCmd(stdout, stderr io.Writer, runF func(*Options) error) *cobra.Command {
	o := &Options{Stdout: stdout, Stderr: stderr}
	cmd := &cobra.Command{
		Use:   "fix [flags] [packages]",
		Short: "Rewrite files so that background work can be stopped",
		Long: `Fix rewrites the packages in place. Every fix is type-checked before anything is
written, and the go vet checks a fix could upset (copylocks, lostcancel) are run;
a fix that would not compile or vet is dropped and reported. Files are replaced
atomically, and a file that changed since it was read is left alone.

Findings that could not be fixed are printed with the reason, followed by a
summary on standard error.

Exit status: 0 everything found was fixed, 1 some findings were not fixed, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Patterns = args
			o.Engine.Write = true
			if runF != nil {
				return runF(o)
			}
			return runFix(cmd, o)
		},
	}
	addFlags(cmd, o)
	return cmd
}

func runFix(cmd *cobra.Command, o *Options) error {
	res, dir, err := run(cmd, o)
	if err != nil {
		return err
	}
	fixed, reasons := 0, map[string]int{}
	for _, f := range res.Findings {
		if f.Fixed {
			fixed++
			continue
		}
		printFinding(o.Stdout, dir, f)
		reasons[f.Unfixed]++
	}
	summarize(o.Stderr, res, fixed, reasons)
	return status(res, fixed < len(res.Findings))
}

// summarize prints what a fix run changed and what it could not, by reason.
func summarize(w io.Writer, res *engine.Result, fixed int, reasons map[string]int) {
	notFixed := len(res.Findings) - fixed
	fmt.Fprintf(w, "leakfix: %s in %s, %s fixed, %d not fixed",
		plural(len(res.Findings), "finding", "findings"), plural(res.Packages, "package", "packages"), plural(len(res.Changes), "file", "files"), notFixed)
	if res.Generated > 0 {
		fmt.Fprintf(w, ", %s skipped", plural(res.Generated, "generated file", "generated files"))
	}
	fmt.Fprintln(w)
	var whys []string
	for why := range reasons {
		whys = append(whys, why)
	}
	sort.Slice(whys, func(i, j int) bool {
		return reasons[whys[i]] > reasons[whys[j]] || reasons[whys[i]] == reasons[whys[j]] && whys[i] < whys[j]
	})
	for _, why := range whys {
		fmt.Fprintf(w, "  %4d  %s\n", reasons[why], why)
	}
}
