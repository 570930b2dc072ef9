package report

import (
	"encoding/json"
	"go/token"
	"io"

	"github.com/leakfix/leakfix/internal/version"
)

// JSONVersion is the version of the JSON schema; it changes only when a
// field is removed or changes meaning.
const JSONVersion = 1

// jsonReport is the document JSON writes; README.md documents each field.
type jsonReport struct {
	Version  int           `json:"version"`
	Tool     jsonTool      `json:"tool"`
	Findings []jsonFinding `json:"findings"`
	Errors   []string      `json:"errors"`
}

type jsonTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type jsonFinding struct {
	Rule     string        `json:"rule"`
	Message  string        `json:"message"`
	Package  string        `json:"package"`
	Position jsonPos       `json:"position"`
	End      jsonPos       `json:"end"`
	Related  []jsonRelated `json:"related"`
	Fixable  bool          `json:"fixable"`
	Unfixed  string        `json:"unfixed,omitempty"`
	Fix      []jsonEdit    `json:"fix"`
}

type jsonPos struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Offset int    `json:"offset"`
}

type jsonRelated struct {
	Position jsonPos `json:"position"`
	Message  string  `json:"message"`
}

type jsonEdit struct {
	Start jsonPos `json:"start"`
	End   jsonPos `json:"end"`
	New   string  `json:"new"`
}

// JSON writes one document holding every finding, with its fix as text
// edits, and every input error.
func JSON(w io.Writer, in *Input) error {
	out := jsonReport{Version: JSONVersion, Tool: jsonTool{Name: "leakfix", Version: version.String()}, Findings: []jsonFinding{}, Errors: []string{}}
	for _, f := range in.Findings {
		jf := jsonFinding{
			Rule:     f.Rule,
			Message:  f.Message,
			Package:  f.Package,
			Position: in.jsonPos(f.Pos),
			End:      in.jsonPos(f.End),
			Related:  []jsonRelated{},
			Fixable:  f.Fixable,
			Unfixed:  f.Unfixed,
			Fix:      []jsonEdit{},
		}
		for _, r := range f.Related {
			jf.Related = append(jf.Related, jsonRelated{Position: in.jsonPos(r.Pos), Message: r.Message})
		}
		for _, e := range f.Edits {
			jf.Fix = append(jf.Fix, jsonEdit{Start: in.jsonPos(e.Start), End: in.jsonPos(e.End), New: e.New})
		}
		out.Findings = append(out.Findings, jf)
	}
	for _, e := range in.Errors {
		out.Errors = append(out.Errors, RelError(in.Dir, e))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (in *Input) jsonPos(p token.Position) jsonPos {
	return jsonPos{File: in.rel(p.Filename), Line: p.Line, Column: p.Column, Offset: p.Offset}
}
