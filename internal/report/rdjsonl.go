package report

import (
	"encoding/json"
	"go/token"
	"io"
	"strings"

	"github.com/leakfix/leakfix/internal/engine"
)

// reviewdog's Diagnostic (proto/rdf/reviewdog.proto), as its JSON mapping
// spells it.
type (
	rdDiagnostic struct {
		Message          string      `json:"message"`
		Location         rdLocation  `json:"location"`
		Severity         string      `json:"severity"`
		Source           rdSource    `json:"source"`
		Code             rdCode      `json:"code"`
		Suggestions      []rdSuggest `json:"suggestions,omitempty"`
		RelatedLocations []rdRelated `json:"related_locations,omitempty"`
	}
	rdLocation struct {
		Path  string  `json:"path"`
		Range rdRange `json:"range"`
	}
	rdRange struct {
		Start rdPos  `json:"start"`
		End   *rdPos `json:"end,omitempty"`
	}
	rdPos struct {
		Line   int `json:"line"`
		Column int `json:"column,omitempty"`
	}
	rdSource struct {
		Name string `json:"name"`
	}
	rdCode struct {
		Value string `json:"value"`
		URL   string `json:"url"`
	}
	rdSuggest struct {
		Range rdRange `json:"range"`
		Text  string  `json:"text"`
	}
	rdRelated struct {
		Message  string     `json:"message"`
		Location rdLocation `json:"location"`
	}
)

// RDJSONL writes reviewdog's rdjsonl: one Diagnostic a line.
//
// A finding without a fix is one diagnostic at the go statement. A fixed
// finding is one diagnostic per edited range, located on the lines it
// replaces and suggesting their new text, because a pull-request
// suggestion replaces exactly the lines its comment is on: a fix that adds a
// field, changes a constructor and adds a method becomes three suggestions,
// each shown on its own line. Applying them all gives what leakfix fix
// writes.
func RDJSONL(w io.Writer, in *Input) error {
	src := in.sources()
	enc := json.NewEncoder(w)
	for _, f := range in.Findings {
		base := rdDiagnostic{
			Severity: "WARNING",
			Source:   rdSource{Name: "leakfix"},
			Code:     rdCode{Value: f.Rule, URL: HelpURI},
		}
		for _, r := range f.Related {
			base.RelatedLocations = append(base.RelatedLocations, rdRelated{Message: r.Message, Location: in.rdPoint(r.Pos)})
		}
		if len(f.Edits) == 0 {
			d := base
			d.Message = f.Message
			if f.Unfixed != "" {
				d.Message += " (not fixed: " + f.Unfixed + ")"
			}
			d.Location = rdLocation{Path: in.rel(f.Pos.Filename), Range: rdRange{
				Start: rdPos{Line: f.Pos.Line, Column: f.Pos.Column},
				End:   &rdPos{Line: f.End.Line, Column: f.End.Column},
			}}
			if err := enc.Encode(d); err != nil {
				return err
			}
			continue
		}
		for k, e := range f.Edits {
			d := base
			d.Message = f.Message + part(k+1, len(f.Edits))
			if e.Path != f.Pos.Filename || f.Pos.Line < e.Start.Line || f.Pos.Line >= max(e.End.Line, e.Start.Line+1) {
				d.RelatedLocations = append([]rdRelated{{Message: "reported here", Location: in.rdPoint(f.Pos)}}, d.RelatedLocations...)
			}
			s := suggestion(src, e)
			d.Location = rdLocation{Path: in.rel(e.Path), Range: s.Range}
			d.Suggestions = []rdSuggest{s}
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (in *Input) rdPoint(p token.Position) rdLocation {
	return rdLocation{Path: in.rel(p.Filename), Range: rdRange{Start: rdPos{Line: p.Line, Column: p.Column}}}
}

// suggestion turns a whole-line edit into a reviewdog suggestion. Where it
// can, it is line-based (a range of lines without columns, and their new
// text without the last newline), the form GitHub shows best. Two edits
// have no line-based form: an insertion, which becomes a zero-width range
// at column 1 (or, past the last line, a rewrite of the last line), and a
// replacement by blank lines only, whose text a line-based suggestion
// cannot hold, which ends at the last replaced line's end instead.
func suggestion(src *sources, e engine.Edit) rdSuggest {
	text := strings.TrimSuffix(e.New, "\n")
	switch {
	case e.Start.Line == e.End.Line: // an insertion
		if _, ok := src.line(e.Path, e.Start.Line); ok {
			return rdSuggest{Range: rdRange{Start: rdPos{Line: e.Start.Line, Column: 1}, End: &rdPos{Line: e.Start.Line, Column: 1}}, Text: e.New}
		}
		last := e.Start.Line - 1
		line, _ := src.line(e.Path, last)
		return rdSuggest{Range: rdRange{Start: rdPos{Line: last}, End: &rdPos{Line: last}}, Text: string(line) + "\n" + text}
	case text == "" && e.New != "":
		last := e.End.Line - 1
		line, _ := src.line(e.Path, last)
		return rdSuggest{Range: rdRange{Start: rdPos{Line: e.Start.Line, Column: 1}, End: &rdPos{Line: last, Column: len(line) + 1}}, Text: text}
	}
	return rdSuggest{Range: rdRange{Start: rdPos{Line: e.Start.Line}, End: &rdPos{Line: e.End.Line - 1}}, Text: text}
}
