package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.2.3"}}, "v1.2.3"},
		{"commit", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.0.0-20261201120000-abcdefabcdef+dirty"}}, "v0.0.0-20261201120000-abcdefabcdef+dirty"},
		{"checkout without vcs", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}}, Fallback},
		{"dependency", debug.BuildInfo{
			Main: debug.Module{Path: "example.com/gcl", Version: "(devel)"},
			Deps: []*debug.Module{{Path: "golang.org/x/tools", Version: "v0.52.0"}, {Path: Module, Version: "v1.4.0"}},
		}, "v1.4.0"},
		{"dependency replaced by a checkout", debug.BuildInfo{
			Main: debug.Module{Path: "example.com/gcl", Version: "(devel)"},
			Deps: []*debug.Module{{Path: Module, Version: "v0.0.0-00010101000000-000000000000", Replace: &debug.Module{Path: "../leakfix"}}},
		}, Fallback},
		{"not linked in", debug.BuildInfo{Main: debug.Module{Path: "example.com/other", Version: "v9.0.0"}}, Fallback},
	} {
		if got := fromBuildInfo(&c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
