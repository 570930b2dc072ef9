package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakfix/leakfix/internal/golden"
)

// TestUntrusted runs leakfix on checkouts that try to make the go command
// download or run something, with and without --untrusted.
func TestUntrusted(t *testing.T) {
	t.Run("toolchain", func(t *testing.T) {
		// Without --untrusted the go command would download go1.99.0 and run it.
		dir := t.TempDir()
		golden.WriteFile(t, filepath.Join(dir, "go.mod"), "module example.com/golden\n\ngo 1.99.0\n")
		golden.WriteFile(t, filepath.Join(dir, "a/a.go"), "package a\n")
		var stdout, stderr bytes.Buffer
		code := Main([]string{"check", "--untrusted", "-C", dir}, &stdout, &stderr)
		if code != exitError || !strings.Contains(stderr.String(), "go.mod requires go >= 1.99.0") || !strings.Contains(stderr.String(), "GOTOOLCHAIN=local") {
			t.Errorf("exit status %d, stderr %q", code, stderr.String())
		}
	})

	t.Run("download", func(t *testing.T) {
		dir := t.TempDir()
		golden.WriteFile(t, filepath.Join(dir, "go.mod"), "module example.com/golden\n\ngo 1.26\n\nrequire example.org/never/fetched v1.0.0\n")
		golden.WriteFile(t, filepath.Join(dir, "go.sum"), "example.org/never/fetched v1.0.0 h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"+
			"example.org/never/fetched v1.0.0/go.mod h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
		golden.WriteFile(t, filepath.Join(dir, "a/a.go"), "package a\n\nimport _ \"example.org/never/fetched\"\n")
		var stdout, stderr bytes.Buffer
		code := Main([]string{"check", "--untrusted", "-C", dir}, &stdout, &stderr)
		if code != exitError || !strings.Contains(stderr.String(), "GOPROXY=off") {
			t.Errorf("exit status %d, stderr %q", code, stderr.String())
		}
	})

	t.Run("C compiler", func(t *testing.T) {
		if out, err := exec.Command("go", "env", "CGO_ENABLED").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Skip("cgo is not enabled")
		}
		cc, err := exec.LookPath("gcc")
		if err != nil {
			t.Skip("no gcc")
		}
		for _, untrusted := range []bool{false, true} {
			t.Run(fmt.Sprint("untrusted=", untrusted), func(t *testing.T) {
				dir := t.TempDir()
				// CC records that it ran, then compiles as gcc would.
				marker := filepath.Join(dir, "cc-ran")
				wrapper := filepath.Join(dir, "cc")
				golden.WriteFile(t, wrapper, "#!/bin/sh\ntouch "+marker+"\nexec "+cc+" \"$@\"\n")
				if err := os.Chmod(wrapper, 0o755); err != nil {
					t.Fatal(err)
				}
				golden.WriteFile(t, filepath.Join(dir, "go.mod"), golden.DefaultGoMod)
				// A preamble never seen before, so the build cache cannot
				// spare the compiler.
				golden.WriteFile(t, filepath.Join(dir, "c/c.go"), fmt.Sprintf("package c\n\n// static int unique_%d(void) { return 1; }\nimport \"C\"\n\nvar X = C.unique_%[1]d()\n", time.Now().UnixNano()))
				golden.WriteFile(t, filepath.Join(dir, "leaky/l.go"), golden.Leaky("leaky"))
				t.Setenv("CC", wrapper)

				args := []string{"fix", "-C", dir}
				if untrusted {
					args = append(args, "--untrusted")
				}
				var stdout, stderr bytes.Buffer
				code := Main(args, &stdout, &stderr)
				_, err := os.Stat(marker)
				ran := err == nil
				// Types come from source, so cgo never runs, trusted or
				// not; --untrusted also turns it off for the go command.
				if ran {
					t.Error("the C compiler ran")
				}
				if code != exitOK {
					t.Errorf("exit status %d: %s", code, stderr.String())
				}
				want := "1 finding in 2 packages, 1 file fixed"
				if untrusted {
					want = "1 finding in 1 package, 1 file fixed, 0 not fixed\nleakfix: 1 file excluded by build constraints not analysed"
				}
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q, want %q", stderr.String(), want)
				}
			})
		}
	})
}
