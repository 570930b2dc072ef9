package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnusedIgnore checks when an ignore comment that matches nothing is
// reported: in a package the rules type-check and in one the syntactic
// pass rules out, but not where it matches on another platform of
// --platforms, and not when the rule it names did not run.
func TestUnusedIgnore(t *testing.T) {
	dir := writeModule(t, map[string]string{
		// On linux, loop ticks forever; on windows it returns at once.
		"p/p.go": `package p

func Start() {
	//leakfix:ignore unstoppable-loop the process exits to stop it
	go loop()
}
`,
		"p/loop_linux.go": `package p

import "time"

func loop() {
	for range time.Tick(time.Second) {
	}
}
`,
		"p/loop_windows.go": `package p

func loop() {}
`,
		// No rule could report on this package: no goroutine, no time.
		"q/q.go": `package q

//leakfix:ignore nothing here to excuse
var X = 1
`,
	})
	for _, tt := range []struct {
		name string
		opts Options
		want []string // unused ignore comments, as file:line
	}{
		{"linux", Options{Platforms: []string{"linux/amd64"}}, []string{"q/q.go:3"}},
		{"windows", Options{Platforms: []string{"windows/amd64"}}, []string{"p/p.go:4", "q/q.go:3"}},
		{"both", Options{Platforms: []string{"windows/amd64", "linux/amd64"}}, []string{"q/q.go:3"}},
		{"other rule only", Options{Platforms: []string{"windows/amd64"}, Rules: []string{"global-hook"}}, nil},
		{"fix", Options{Platforms: []string{"windows/amd64"}, Mode: ModeDiff}, []string{"p/p.go:4", "q/q.go:3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = dir
			res, err := Run(context.Background(), nil, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			var got []string
			for _, f := range res.Findings {
				if f.Rule == "invalid-ignore" && strings.Contains(f.Message, "matches no") {
					got = append(got, fmt.Sprintf("%s:%d", filepath.ToSlash(Rel(dir, f.Pos.Filename)), f.Pos.Line))
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("unused ignores %v, want %v\nfindings: %+v", got, tt.want, res.Findings)
			}
		})
	}
}
