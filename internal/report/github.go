package report

import (
	"fmt"
	"io"
	"strings"
)

// GitHub writes a GitHub Actions workflow command per finding, which the
// runner shows as an annotation on the line in the pull request:
//
//	::warning file=a/b.go,line=9,col=2,endLine=13,endColumn=6,title=leakfix (unstoppable-loop)::message
func GitHub(w io.Writer, in *Input) error {
	for _, f := range in.Findings {
		msg := f.Message
		if f.Unfixed != "" {
			msg += " (not fixed: " + f.Unfixed + ")"
		} else if f.Fixable {
			msg += " (leakfix fix rewrites it)"
		}
		props := fmt.Sprintf("file=%s,line=%d,col=%d", escapeProperty(in.rel(f.Pos.Filename)), f.Pos.Line, f.Pos.Column)
		if f.End.Line > 0 {
			props += fmt.Sprintf(",endLine=%d,endColumn=%d", f.End.Line, f.End.Column)
		}
		props += ",title=" + escapeProperty("leakfix ("+f.Rule+")")
		if _, err := fmt.Fprintf(w, "::warning %s::%s\n", props, escapeData(msg)); err != nil {
			return err
		}
	}
	return nil
}

// escapeData escapes a workflow command's message as the runner expects
// (actions/toolkit's escapeData).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value
// (actions/toolkit's escapeProperty).
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
