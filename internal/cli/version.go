package cli

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/version"
)

// versionLine is what leakfix version and leakfix --version print.
func versionLine() string {
	return fmt.Sprintf("leakfix %s (%s %s/%s)\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print leakfix's version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			io.WriteString(stdout, versionLine())
		},
	}
}
