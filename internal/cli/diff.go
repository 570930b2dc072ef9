package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/report"
)

func newDiffCmd(stdout, stderr io.Writer, runF func(*Options) error) *cobra.Command {
	o := &Options{Stdout: stdout, Stderr: stderr}
	cmd := &cobra.Command{
		Use:   "diff [flags] [packages]",
		Short: "Print the unified diff that fix would apply",
		Long: `Diff prints, as a unified diff that git apply and patch accept, the changes fix
would make. Nothing is written.

With --format other than text, diff writes the findings with their fixes
in that format instead (see leakfix check --help); the exit status still
says whether there is anything to change.

Exit status: 0 no changes, 1 the diff is not empty, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Patterns = args
			o.Engine.Mode = engine.ModeDiff
			if err := checkFormat(o); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runDiff(cmd, o)
		},
	}
	addFlags(cmd, o)
	addFormatFlag(cmd, o, "output format (text: a unified diff)")
	return cmd
}

func runDiff(cmd *cobra.Command, o *Options) error {
	res, dir, err := run(cmd, o)
	if err != nil {
		return err
	}
	if o.Format != "text" {
		if err := report.Write(o.Stdout, o.Format, &report.Input{Dir: dir, Findings: res.Findings, Errors: res.Errors}); err != nil {
			return err
		}
		return status(res, len(res.Changes) > 0)
	}
	for _, c := range res.Changes {
		fmt.Fprint(o.Stdout, engine.Diff(engine.Rel(dir, c.Path), c.Old, c.New))
	}
	for _, f := range res.Findings {
		if !f.Fixed {
			printFinding(o.Stderr, dir, f)
		}
	}
	return status(res, len(res.Changes) > 0)
}
