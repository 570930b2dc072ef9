package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/cache"
)

func newCacheCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or clean the result cache",
		Long: `leakfix keeps each package's results in a cache, so that a run on unchanged code
reads them back instead of analysing again. It lives in $` + cache.Env + `, or leakfix in
the user cache directory; ` + cache.Env + `=off, or --no-cache on a command, turns it off.
Entries are keyed by everything a result depends on, so a stale one is never used,
and entries no run has used for five days are removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	open := func() (*cache.Cache, error) {
		dir := cache.Dir()
		if dir == "" {
			return nil, nil
		}
		return cache.Open(dir)
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Print where the cache is and how much it holds",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := open()
			if err != nil || c == nil {
				if err == nil {
					fmt.Fprintf(stdout, "the result cache is off (%s=off)\n", cache.Env)
				}
				return err
			}
			n, size, err := c.Usage()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: %d entries, %.1f MB\n", c.Dir(), n, float64(size)/(1<<20))
			return nil
		},
	}, &cobra.Command{
		Use:   "clean",
		Short: "Remove every entry of the cache",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := open()
			if err != nil || c == nil {
				return err
			}
			n, err := c.Clean()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %d entries from %s\n", n, c.Dir())
			return nil
		},
	})
	return cmd
}
