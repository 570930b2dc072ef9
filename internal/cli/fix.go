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

With --report, a migration report is written as Markdown (a .md file) or JSON
(a .json file): per package, what was fixed, what was not and why, and what to
wire up next: each Shutdown (or extended Close) and the places that start the
work, so that the call can be added to the program's shutdown path.

An interrupt (Ctrl-C) before the files are replaced leaves every file as it was;
once replacing has begun it is finished, so each file is either old or new.

Exit status: 0 everything found was fixed, 1 some findings were not fixed, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Patterns = args
			o.Engine.Mode = engine.ModeFix
			if runF != nil {
				return runF(o)
			}
			return runFix(cmd, o)
		},
	}
	addFlags(cmd, o)
	cmd.Flags().StringVar(&o.Report, "report", "", "write a migration report to `file` (.md or .json)")
	pre := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if o.Report != "" {
			if _, err := reportFormat(o.Report); err != nil {
				return err
			}
		}
		return pre(c, args)
	}
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
	summarizeWiring(buildMigrationReport(dir, res).Packages).text(o.Stderr)
	if o.Report != "" {
		if err := writeReport(o.Report, dir, res); err != nil {
			fmt.Fprintf(o.Stderr, "leakfix: %v\n", err)
			return statusError{exitError}
		}
	}
	return status(res, fixed < len(res.Findings))
}

// notAnalysed says how many files build constraints kept out of the run.
func notAnalysed(w io.Writer, res *engine.Result) {
	if res.NotAnalysed > 0 {
		fmt.Fprintf(w, "leakfix: %s excluded by build constraints not analysed (see --platforms)\n",
			plural(res.NotAnalysed, "file", "files"))
	}
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
	notAnalysed(w, res)
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
