package engine

import (
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/tools/go/packages"
)

// matches reports whether the package pkg is one that pattern names when
// resolved from dir. It lets a run say which of several patterns matched
// nothing, which the go command only prints as a warning.
func matches(dir, pattern string, pkg *packages.Package) bool {
	// The go command's meta-patterns are not matched by path here ("all"
	// is the main modules' packages and what they import, "tool" the
	// packages of the tool lines): every package the unit loaded counts as
	// matched, so they are reported only when it loaded none.
	switch pattern {
	case "all", "std", "cmd", "tool", "work":
		return true
	}
	if isRelative(pattern) {
		base := strings.TrimSuffix(strings.TrimSuffix(pattern, "..."), "/")
		if base == "" {
			base = "."
		}
		if !filepath.IsAbs(base) {
			base = filepath.Join(dir, base)
		}
		if pkg.Dir == "" {
			return false
		}
		if !strings.HasSuffix(pattern, "...") {
			return pkg.Dir == base
		}
		return pkg.Dir == base || strings.HasPrefix(pkg.Dir, base+string(filepath.Separator))
	}
	// A test variant or an external test package is matched by the path of
	// the package under test: the pattern named that one.
	path := pkg.PkgPath
	if pkg.ForTest != "" {
		path = pkg.ForTest
	}
	if !strings.Contains(pattern, "...") {
		return path == pattern || pkg.ID == pattern
	}
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\.\.\.`, `.*`)
	// As for the go command, net/... also matches net itself.
	if strings.HasSuffix(pattern, "/...") {
		re = strings.TrimSuffix(re, `/.*`) + `(/.*)?`
	}
	ok, _ := regexp.MatchString("^"+re+"$", path)
	return ok
}
