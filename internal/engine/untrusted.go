package engine

import (
	"os"
	"path/filepath"
)

// UntrustedEnv returns base set up for loading a checkout leakfix must not
// trust, such as a pull request's, from dir.
//
// leakfix never runs the code it analyses: it runs the go command (go list,
// through go/packages), which reads go.mod, go.work and the source; types
// come from source, but a package that does not type-check is loaded by
// go/packages, which compiles its dependencies and, for packages that use
// cgo, runs the C compiler. A checkout can steer that: a toolchain line in
// go.mod makes the go command download and run another Go, a missing
// dependency makes it download modules, and cgo directives reach the C
// compiler. This environment closes each door:
//
//	GOTOOLCHAIN=local   only the installed Go runs, whatever go.mod asks for
//	GOPROXY=off         nothing is downloaded; the module cache must be warm
//	GOFLAGS=-mod=readonly -buildvcs=false
//	                    go.mod is never rewritten, and no version control
//	                    command runs (-mod=vendor when vendor/modules.txt exists)
//	CGO_ENABLED=0       no C compiler runs; files that import "C" are
//	                    excluded, and counted as not analysed
//
// GOFLAGS replaces any GOFLAGS in base, so that flags such as -toolexec set
// for other work do not apply.
func UntrustedEnv(base []string, dir string) []string {
	mod := "-mod=readonly"
	if root := modRoot(dir); root != "" {
		if _, err := os.Stat(filepath.Join(root, "vendor", "modules.txt")); err == nil {
			mod = "-mod=vendor"
		}
	}
	env := setEnv(base, "GOTOOLCHAIN", "local")
	env = setEnv(env, "GOPROXY", "off")
	env = setEnv(env, "GOFLAGS", mod+" -buildvcs=false")
	env = setEnv(env, "CGO_ENABLED", "0")
	return env
}
