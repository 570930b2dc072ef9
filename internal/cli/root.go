// Package cli is leakfix's command line. Each command parses its flags into
// an options struct and hands it to a run function, which tests can replace.
package cli

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/config"
	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/newcode"
	"github.com/leakfix/leakfix/internal/report"
	"github.com/leakfix/leakfix/internal/version"
)

// Exit statuses.
const (
	exitOK       = 0 // nothing found, nothing to change
	exitFindings = 1 // findings reported, or a diff is not empty
	exitError    = 2 // bad flags, or input that could not be loaded or written
)

// exitError carries an exit status through cobra.
type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs leakfix with args and returns the process exit status.
//
// An interrupt (Ctrl-C) or SIGTERM cancels the run instead of killing the
// process, so that files being replaced are replaced whole: see fix.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdout, stderr)
}

// MainContext is Main with a context whose end interrupts the run.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr, nil)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var se statusError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "leakfix: interrupted; no file was changed")
		return exitError
	default:
		fmt.Fprintf(stderr, "leakfix: %v\n", err)
		return exitError
	}
}

// Runners replaces the function a command runs, for tests of flag parsing.
// A nil field keeps the real one.
type Runners struct {
	Check, Fix, Diff func(*Options) error
}

// NewRoot returns the leakfix command with all its subcommands.
func NewRoot(stdout, stderr io.Writer, runners *Runners) *cobra.Command {
	if runners == nil {
		runners = &Runners{}
	}
	root := &cobra.Command{
		Use:   "leakfix",
		Short: "Find background work in Go code that nothing can stop, and fix it",
		Long: `leakfix finds goroutines that loop on tickers, time.Tick, time.After or time.Sleep
with no way to stop them, and rewrites them so that the type owning them can shut
them down: the stop and done signals live in fields and a Shutdown method (or the
type's existing Close or Stop) ends the work and waits for it.

Exit status: 0 nothing found, 1 findings (or a non-empty diff), 2 error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.SetVersionTemplate(versionLine())
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(
		newCheckCmd(stdout, stderr, runners.Check),
		newFixCmd(stdout, stderr, runners.Fix),
		newDiffCmd(stdout, stderr, runners.Diff),
		newRulesCmd(stdout),
		newExplainCmd(stdout),
		newCacheCmd(stdout),
		newVersionCmd(stdout),
	)
	return root
}

// Options are the flags shared by check, fix and diff.
type Options struct {
	Patterns []string
	Engine   engine.Options
	Format   string // check and diff: one of report.Formats
	// NewFromRev and NewFromPatch limit the run to findings on lines that
	// the change since a revision, or a patch, added or modified.
	NewFromRev       string
	NewFromPatch     string
	NewFromMergeBase string // the same as NewFromRev, from the merge base of the revision and HEAD
	// Config is the configuration file; "" means the nearest .leakfix.yaml
	// at or above the working directory.
	Config string
	Stdout io.Writer
	Stderr io.Writer
	Report string // fix only: where to write the migration report

	CPUProfile string // write a CPU profile of the run here
	MemProfile string // write a heap profile at the end of the run here
}

// addFlags binds the shared flags to o.
func addFlags(cmd *cobra.Command, o *Options) {
	f := cmd.Flags()
	f.BoolVar(&o.Engine.Tests, "tests", false, "also analyse _test.go files")
	f.StringSliceVar(&o.Engine.Rules, "rules", nil, "comma-separated rules to run (default all; see leakfix rules)")
	f.StringVarP(&o.Engine.Dir, "dir", "C", "", "run as if started in `dir`")
	f.StringSliceVar(&o.Engine.Platforms, "platforms", nil,
		"comma-separated `GOOS/GOARCH` pairs to analyse in turn, so that files excluded by build constraints on one are analysed on another (e.g. linux/amd64,darwin/arm64,windows/amd64)")
	f.BoolVar(&o.Engine.Untrusted, "untrusted", false,
		"load an untrusted checkout safely: only the installed Go runs (GOTOOLCHAIN=local), nothing is downloaded (GOPROXY=off), go.mod is not changed (-mod=readonly) and no C compiler runs (CGO_ENABLED=0)")
	var tags string
	f.StringVar(&tags, "tags", "", "comma-separated build tags")
	f.StringVar(&o.NewFromRev, "new-from-rev", "", "only findings on lines changed since git revision `rev` (git diff rev, plus untracked files)")
	f.StringVar(&o.NewFromPatch, "new-from-patch", "", "only findings on lines the unified diff in `file` adds or modifies")
	f.StringVar(&o.NewFromMergeBase, "new-from-merge-base", "", "only findings on lines changed since the merge base of `rev` and HEAD")
	cmd.MarkFlagsMutuallyExclusive("new-from-rev", "new-from-patch", "new-from-merge-base")
	f.StringVar(&o.Config, "config", "", "configuration `file` (default: the nearest .leakfix.yaml at or above the working directory)")
	noCache := f.Bool("no-cache", false, "neither read nor write the result cache (default "+cacheDirHelp+")")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to `file`")
	f.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile at the end of the run to `file`")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if tags != "" {
			o.Engine.BuildFlags = append(o.Engine.BuildFlags, "-tags="+tags)
		}
		if !*noCache {
			o.Engine.Cache = cache.Dir()
			if o.Engine.Cache != "" {
				// A cache that cannot be opened (a read-only home in CI)
				// only makes the run slower.
				if _, err := cache.Open(o.Engine.Cache); err != nil {
					fmt.Fprintf(o.Stderr, "leakfix: running without the result cache: %v\n", err)
					o.Engine.Cache = ""
				}
			}
		}
		return nil
	}
}

// cacheDirHelp says where the result cache lives, for --help.
const cacheDirHelp = "$" + cache.Env + ", or leakfix in the user cache directory; " + cache.Env + "=off turns it off"

// applyConfig reads the configuration file, if there is one: its rules
// apply unless --rules is given, and its excluded paths are not reported.
func applyConfig(o *Options, dir string) error {
	path := o.Config
	if path == "" {
		var err error
		if path, err = config.Find(dir); err != nil || path == "" {
			return err
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return errors.New(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")) // paths as findings give them
	}
	if len(o.Engine.Rules) == 0 {
		o.Engine.Rules = cfg.Rules
	}
	if len(cfg.Exclude) > 0 {
		keep := o.Engine.Keep
		o.Engine.Keep = func(rule string, start, end token.Position) bool {
			return !cfg.Excluded(start.Filename) && (keep == nil || keep(rule, start, end))
		}
	}
	return nil
}

// onlyNew limits the engine to findings on changed lines, when asked.
func onlyNew(ctx context.Context, o *Options, dir string) error {
	var (
		lines *newcode.Lines
		err   error
	)
	switch {
	case o.NewFromRev != "":
		lines, err = newcode.FromRev(ctx, dir, o.NewFromRev)
	case o.NewFromPatch != "":
		lines, err = newcode.FromPatch(ctx, dir, o.NewFromPatch)
	case o.NewFromMergeBase != "":
		lines, err = newcode.FromMergeBase(ctx, dir, o.NewFromMergeBase)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	real := map[string]string{} // git names files by their real path
	o.Engine.Keep = func(_ string, start, end token.Position) bool {
		path, ok := real[start.Filename]
		if !ok {
			path = start.Filename
			if p, err := filepath.EvalSymlinks(path); err == nil {
				path = p
			}
			real[start.Filename] = path
		}
		return lines.Touches(path, start.Line, end.Line)
	}
	return nil
}

// run loads and analyses the packages, prints load errors, and returns the
// result with the directory paths are relative to.
func run(cmd *cobra.Command, o *Options) (*engine.Result, string, error) {
	dir, err := filepath.Abs(o.Engine.Dir)
	if err != nil {
		return nil, "", err
	}
	if err := onlyNew(cmd.Context(), o, dir); err != nil {
		return nil, "", err
	}
	if err := applyConfig(o, dir); err != nil {
		return nil, "", err
	}
	stop, err := startProfiles(o)
	if err != nil {
		return nil, "", err
	}
	opts := o.Engine
	opts.TuneGC = os.Getenv("GOGC") == ""
	p := newProgress(o.Stderr)
	if p != nil {
		opts.Progress = p.show
	}
	res, err := engine.Run(cmd.Context(), o.Patterns, opts)
	p.clear()
	if perr := stop(); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return nil, "", err
	}
	for _, e := range res.Errors {
		fmt.Fprintf(o.Stderr, "leakfix: %s\n", report.RelError(dir, e))
	}
	return res, dir, nil
}

// addFormatFlag binds --format, which check and diff take.
func addFormatFlag(cmd *cobra.Command, o *Options, what string) {
	cmd.Flags().StringVarP(&o.Format, "format", "f", "text", what+"; one of "+strings.Join(report.Formats, ", "))
}

// checkFormat rejects an unknown --format and, for the formats that carry
// fixes, asks the engine for each finding's edits: a check then computes
// the fixes as diff does, and still writes nothing.
func checkFormat(o *Options) error {
	if !report.Known(o.Format) {
		return fmt.Errorf("unknown format %q; known formats: %s", o.Format, strings.Join(report.Formats, ", "))
	}
	if o.Format != "text" {
		o.Engine.Edits = true
		if o.Engine.Mode == engine.ModeCheck {
			o.Engine.Mode = engine.ModeDiff
		}
	}
	return nil
}

// printFinding prints one finding as path:line:col: rule: message, adding
// why no fix was made when there is a reason.
func printFinding(w io.Writer, dir string, f engine.Finding) {
	io.WriteString(w, report.Line(dir, f))
}

// status turns a result into the exit status: errors win over findings.
func status(res *engine.Result, findings bool) error {
	switch {
	case len(res.Errors) > 0:
		return statusError{exitError}
	case findings:
		return statusError{exitFindings}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
