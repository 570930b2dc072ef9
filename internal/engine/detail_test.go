package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestRelated checks that findings without a fix plan carry the places
// their rule gives: a hook's installing function and the other variables
// it replaces, and the channel of a registration no loop reads.
func TestRelated(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"p/p.go": `package p

import (
	"log"
	"net/http"
	"os"
	"os/signal"
)

type Client struct{ sig chan os.Signal }

func NewClient() *Client {
	log.SetOutput(os.Stderr)
	http.DefaultClient = &http.Client{}
	http.DefaultTransport = &http.Transport{}
	c := &Client{sig: make(chan os.Signal, 1)}
	signal.Notify(c.sig, os.Interrupt)
	return c
}
`,
	})
	res, err := Run(context.Background(), nil, Options{Dir: dir, Mode: ModeDiff, Edits: true, Rules: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	var got []string
	for _, f := range res.Findings {
		var places []string
		for _, r := range f.Related {
			places = append(places, fmt.Sprintf("%d: %s", r.Pos.Line, r.Message))
		}
		got = append(got, fmt.Sprintf("%s:%d %s [%s]", filepath.Base(f.Pos.Filename), f.Pos.Line, f.Rule, strings.Join(places, "; ")))
	}
	want := []string{
		"p.go:13 global-hook [12: NewClient runs once per instance, installing the hook each time]",
		"p.go:14 global-hook [12: NewClient runs once per instance, installing the hook each time; 15: it replaces http.DefaultTransport here]",
		"p.go:17 unstopped-signal [10: sig is declared here; no goroutine loop leakfix can stop reads it]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
