// Package version says which leakfix is running, for leakfix version, the
// reports that name their tool (SARIF, JSON) and the result cache's keys.
package version

import (
	"runtime/debug"
	"strings"
)

// Module is leakfix's module path.
const Module = "github.com/leakfix/leakfix"

// HelpURI is where a rule's documentation lives; the rule's name is the
// anchor of its section. The reports and the go/analysis Analyzer link it.
const HelpURI = "https://" + Module + "/blob/main/README.md#rules"

// Fallback is the version reported when the build does not say: a binary
// built from a checkout without version control information (go build
// -buildvcs=false, or a source archive). It names the last release, with a
// -devel suffix between releases; RELEASING.md says when it changes.
const Fallback = "v0.1.0-devel"

// String returns leakfix's version: the module version the go command
// stamped into the binary (a tag, or a pseudo-version for a commit), also
// when leakfix is a dependency of another program (a custom golangci-lint),
// and Fallback when there is none.
func String() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Fallback
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) string {
	m := &bi.Main
	if m.Path != Module {
		m = nil
		for _, d := range bi.Deps {
			if d.Path == Module {
				m = d
				if d.Replace != nil {
					m = d.Replace
				}
				break
			}
		}
	}
	if m == nil || m.Version == "" || m.Version == "(devel)" || strings.HasPrefix(m.Version, "v0.0.0-00010101000000-") {
		return Fallback
	}
	return m.Version
}
