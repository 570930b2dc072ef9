package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/leakfix/leakfix/internal/engine"
)

// progress keeps one status line up to date on a terminal.
type progress struct {
	w     io.Writer
	shown bool
}

// newProgress returns a progress line on w, or nil when w is not a
// terminal: logs and pipes get no progress noise.
func newProgress(w io.Writer) *progress {
	if !isTerminal(w) {
		return nil
	}
	return &progress{w: w}
}

// isTerminal reports whether w is a terminal (a character device); tests
// replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func (p *progress) show(s engine.Progress) {
	on := ""
	if s.Platform != "" {
		on = " (" + s.Platform + ")"
	}
	var what string
	switch s.Stage {
	case engine.StageListing:
		what = "listing packages"
	case engine.StageChecking:
		what = fmt.Sprintf("parsing and type-checking: %d of %d packages", s.Done, s.Total)
	default:
		what = fmt.Sprintf("%d packages loaded, %d analysed", s.Loaded, s.Analysed)
	}
	// \r returns to the start of the line and \x1b[K clears what was left.
	fmt.Fprintf(p.w, "\rleakfix: %s%s\x1b[K", what, on)
	p.shown = true
}

// clear removes the line so that what follows starts on a clean one.
func (p *progress) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
