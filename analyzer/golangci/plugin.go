// Package golangci registers leakfix as a golangci-lint v2 module plugin.
// Build a custom golangci-lint that includes it with golangci-lint custom
// and this .custom-gcl.yml:
//
//	version: v2.15.0
//	plugins:
//	  - module: github.com/leakfix/leakfix
//	    import: github.com/leakfix/leakfix/analyzer/golangci
//	    path: ../leakfix # a checkout; version: vX.Y.Z once released
//
// then enable it in .golangci.yml:
//
//	linters:
//	  enable: [leakfix]
//	  settings:
//	    custom:
//	      leakfix:
//	        type: module
//	        settings:
//	          rules: [unstoppable-loop]
//	          tests: false
package golangci

import (
	"strconv"
	"strings"

	"github.com/golangci/plugin-module-register/register"
	"golang.org/x/tools/go/analysis"

	"github.com/leakfix/leakfix/analyzer"
)

func init() {
	register.Plugin("leakfix", New)
}

// Settings are the plugin's settings in .golangci.yml.
type Settings struct {
	Rules []string `json:"rules"` // the rules to run; default all
	Tests bool     `json:"tests"` // also report in _test.go files
}

// New returns the plugin configured by settings, as golangci-lint calls it.
func New(settings any) (register.LinterPlugin, error) {
	s, err := register.DecodeSettings[Settings](settings)
	if err != nil {
		return nil, err
	}
	if err := analyzer.Analyzer.Flags.Set("rules", strings.Join(s.Rules, ",")); err != nil {
		return nil, err
	}
	if err := analyzer.Analyzer.Flags.Set("tests", strconv.FormatBool(s.Tests)); err != nil {
		return nil, err
	}
	// golangci-lint makes an issue of every related location, which
	// nolint and --fix do not reach, and keeps one issue per line.
	if err := analyzer.Analyzer.Flags.Set("compact", "true"); err != nil {
		return nil, err
	}
	return plugin{}, nil
}

type plugin struct{}

func (plugin) BuildAnalyzers() ([]*analysis.Analyzer, error) {
	return []*analysis.Analyzer{analyzer.Analyzer}, nil
}

// GetLoadMode asks for types: the rules never match by spelling.
func (plugin) GetLoadMode() string { return register.LoadModeTypesInfo }
