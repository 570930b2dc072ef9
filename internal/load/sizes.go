package load

import (
	"bytes"
	"context"
	"fmt"
	"go/types"
	"os/exec"
	"path/filepath"
	"strings"
)

// Sizes returns the type sizes of the platform env builds for, and the
// source directory of the standard library the go command builds with
// (GOROOT/src). GOARCH is asked of the go command, not read from env: it
// may come from go env -w, or be the host's by default. gc's sizes depend
// on it alone.
func Sizes(ctx context.Context, dir string, env []string) (types.Sizes, string, error) {
	out, err := goCmd(ctx, dir, env, "env", "GOARCH", "GOROOT")
	if err != nil {
		return nil, "", err
	}
	arch, goroot, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	std := ""
	if goroot = strings.TrimSpace(goroot); goroot != "" {
		std = filepath.Join(goroot, "src")
	}
	return types.SizesFor("gc", strings.TrimSpace(arch)), std, nil
}

// goCmd runs the go command in dir with the environment env. It counts in
// goRuns as go/packages' runs do: an unchanged run with a cache must start
// none, and the tests check that.
func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	goRuns.Add(1)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// The go command says why on stderr; the exit status alone does not.
		return nil, fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
