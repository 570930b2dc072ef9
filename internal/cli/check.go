package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/report"
)

func newCheckCmd(stdout, stderr io.Writer, runF func(*Options) error) *cobra.Command {
	o := &Options{Stdout: stdout, Stderr: stderr}
	cmd := &cobra.Command{
		Use:   "check [flags] [packages]",
		Short: "Report background work that cannot be stopped",
		Long: `Check reports goroutines whose timed loops can never be stopped, one per line as
path/file.go:line:col: rule: message. Packages default to ./... and take the
patterns go list takes.

--format picks another output: json (the schema in README.md), sarif
(SARIF 2.1.0), rdjsonl (reviewdog, with a suggestion per edited range) or
github (workflow-command annotations). json, sarif and rdjsonl carry each
finding's fix; github says whether leakfix fix rewrites it.

Exit status: 0 nothing found, 1 findings, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Patterns = args
			if err := checkFormat(o); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runCheck(cmd, o)
		},
	}
	addFlags(cmd, o)
	addFormatFlag(cmd, o, "output format")
	return cmd
}

func runCheck(cmd *cobra.Command, o *Options) error {
	res, dir, err := run(cmd, o)
	if err != nil {
		return err
	}
	if err := report.Write(o.Stdout, o.Format, &report.Input{Dir: dir, Findings: res.Findings, Errors: res.Errors}); err != nil {
		return err
	}
	// A person at a terminal is told what was looked at, as fix tells;
	// scripts and logs read the findings alone.
	if isTerminal(o.Stderr) {
		fmt.Fprintf(o.Stderr, "leakfix: %s in %s", plural(len(res.Findings), "finding", "findings"), plural(res.Packages, "package", "packages"))
		if res.Cached > 0 {
			fmt.Fprintf(o.Stderr, " (%d from the cache)", res.Cached)
		}
		if res.Generated > 0 {
			fmt.Fprintf(o.Stderr, ", %s skipped", plural(res.Generated, "generated file", "generated files"))
		}
		fmt.Fprintln(o.Stderr)
		notAnalysed(o.Stderr, res)
	}
	return status(res, len(res.Findings) > 0)
}
