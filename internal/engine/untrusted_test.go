package engine

import (
	"path/filepath"
	"testing"

	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/internal/load"
)

func TestUntrustedEnv(t *testing.T) {
	dir := t.TempDir()
	golden.WriteFile(t, filepath.Join(dir, "go.mod"), "module example.com/m\n")
	base := []string{"HOME=/home/u", "GOFLAGS=-toolexec=/tmp/evil", "GOPROXY=https://proxy.golang.org", "CGO_ENABLED=1"}
	env := UntrustedEnv(base, dir)
	want := map[string]string{
		"HOME":        "/home/u",
		"GOTOOLCHAIN": "local",
		"GOPROXY":     "off",
		"GOFLAGS":     "-mod=readonly -buildvcs=false",
		"CGO_ENABLED": "0",
	}
	for k, v := range want {
		if got := load.Getenv(env, k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if base[1] != "GOFLAGS=-toolexec=/tmp/evil" {
		t.Error("UntrustedEnv changed its argument")
	}

	// A vendored module needs neither the module cache nor the network.
	golden.WriteFile(t, filepath.Join(dir, "vendor/modules.txt"), "")
	if got := load.Getenv(UntrustedEnv(base, filepath.Join(dir)), "GOFLAGS"); got != "-mod=vendor -buildvcs=false" {
		t.Errorf("GOFLAGS=%q with vendor/modules.txt", got)
	}
}
