package report

import (
	"fmt"
	"io"

	"github.com/leakfix/leakfix/internal/engine"
)

// Text writes one finding a line, as path:line:col: rule: message, adding
// why no fix was made when there is a reason.
func Text(w io.Writer, in *Input) error {
	for _, f := range in.Findings {
		if _, err := io.WriteString(w, Line(in.Dir, f)); err != nil {
			return err
		}
	}
	return nil
}

// Line formats one finding as Text does, with its newline.
func Line(dir string, f engine.Finding) string {
	msg := f.Message
	if f.Unfixed != "" {
		msg += " (not fixed: " + f.Unfixed + ")"
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s\n", engine.Rel(dir, f.Pos.Filename), f.Pos.Line, f.Pos.Column, f.Rule, msg)
}
