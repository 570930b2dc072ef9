package cli

import (
	"io"

	"github.com/spf13/cobra"
)

func newCheckCmd(stdout, stderr io.Writer, runF func(*Options) error) *cobra.Command {
	o := &Options{Stdout: stdout, Stderr: stderr}
	cmd := &cobra.Command{
		Use:   "check [flags] [packages]",
		Short: "Report background work that cannot be stopped",
		Long: `Check reports goroutines whose timed loops can never be stopped, one per line as
path/file.go:line:col: rule: message. Packages default to ./... and take the
patterns go list takes.

Exit status: 0 nothing found, 1 findings, 2 error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Patterns = args
			if runF != nil {
				return runF(o)
			}
			return runCheck(cmd, o)
		},
	}
	addFlags(cmd, o)
	return cmd
}

func runCheck(cmd *cobra.Command, o *Options) error {
	res, dir, err := run(cmd, o)
	if err != nil {
		return err
	}
	for _, f := range res.Findings {
		printFinding(o.Stdout, dir, f)
	}
	return status(res, len(res.Findings) > 0)
}
