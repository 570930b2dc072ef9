package golangci

import (
	"strings"
	"testing"

	"github.com/golangci/plugin-module-register/register"

	"github.com/leakfix/leakfix/analyzer"
)

// TestPlugin loads the plugin the way golangci-lint does: by name from the
// registry, with settings decoded from its configuration.
func TestPlugin(t *testing.T) {
	newPlugin, err := register.GetPlugin("leakfix")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlugin(map[string]any{"rules": []string{"unstoppable-loop"}, "tests": true})
	if err != nil {
		t.Fatal(err)
	}
	as, err := p.BuildAnalyzers()
	if err != nil || len(as) != 1 || as[0] != analyzer.Analyzer {
		t.Fatalf("BuildAnalyzers = %v, %v", as, err)
	}
	if p.GetLoadMode() != register.LoadModeTypesInfo {
		t.Errorf("load mode %q", p.GetLoadMode())
	}
	if got := analyzer.Analyzer.Flags.Lookup("tests").Value.String(); got != "true" {
		t.Errorf("tests flag %s after settings asked for true", got)
	}
	if got := analyzer.Analyzer.Flags.Lookup("compact").Value.String(); got != "true" {
		t.Errorf("compact flag %s: golangci-lint needs one issue per finding", got)
	}
	if _, err := newPlugin(map[string]any{"rulez": []string{"x"}}); err == nil || !strings.Contains(err.Error(), "rulez") {
		t.Errorf("unknown setting: %v", err)
	}
}
