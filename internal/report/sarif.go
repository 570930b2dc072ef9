package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"go/token"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/internal/version"
	"github.com/leakfix/leakfix/rules"
)

// The SARIF 2.1.0 objects leakfix writes: the subset of the standard it
// needs, with the spec's property names.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool               sarifTool                   `json:"tool"`
		OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds"`
		Results            []sarifResult               `json:"results"`
		Invocations        []sarifInvocation           `json:"invocations"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string       `json:"id"`
		ShortDescription     sarifMessage `json:"shortDescription"`
		FullDescription      sarifMessage `json:"fullDescription"`
		Help                 sarifMessage `json:"help"`
		HelpURI              string       `json:"helpUri"`
		DefaultConfiguration struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	sarifMessage struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifMessage      `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Fixes               []sarifFix        `json:"fixes,omitempty"`
	}
	sarifLocation struct {
		ID               *int          `json:"id,omitempty"`
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
		Message          *sarifMessage `json:"message,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
		Region           *sarifRegion     `json:"region,omitempty"` // nil for a whole file
	}
	sarifArtifactLoc struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"` // 0 when only the line is known
		EndLine     int `json:"endLine,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
	sarifFix struct {
		Description     sarifMessage          `json:"description"`
		ArtifactChanges []sarifArtifactChange `json:"artifactChanges"`
	}
	sarifArtifactChange struct {
		ArtifactLocation sarifArtifactLoc   `json:"artifactLocation"`
		Replacements     []sarifReplacement `json:"replacements"`
	}
	sarifReplacement struct {
		DeletedRegion   sarifRegion   `json:"deletedRegion"`
		InsertedContent *sarifContent `json:"insertedContent,omitempty"`
	}
	sarifContent struct {
		Text string `json:"text"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifMessage    `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
)

// srcRoot is the base every artifact URI is relative to: the directory
// leakfix ran in, which for a CI upload is the repository's checkout.
const srcRoot = "%SRCROOT%"

// SARIF writes a SARIF 2.1.0 log with one run: every rule that has a
// finding, with its documentation as help text; every finding as a result
// with its location, related locations, a fingerprint that survives line
// shifts, and its fix as artifact changes; input errors as notifications.
// Columns are counted in UTF-16 code units, SARIF's default.
func SARIF(w io.Writer, in *Input) error {
	src := in.sources()
	driver := sarifDriver{Name: "leakfix", Version: version.String(), InformationURI: "https://github.com/leakfix/leakfix", Rules: []sarifRule{}}
	ruleIndex := map[string]int{}
	for _, f := range in.Findings {
		if _, ok := ruleIndex[f.Rule]; !ok {
			ruleIndex[f.Rule] = len(driver.Rules)
			driver.Rules = append(driver.Rules, sarifRuleOf(ruleDoc(f.Rule)))
		}
	}
	run := sarifRun{
		Tool:               sarifTool{Driver: driver},
		OriginalURIBaseIDs: map[string]sarifArtifactLoc{srcRoot: {URI: dirURI(in.Dir)}},
		Results:            []sarifResult{},
		Invocations:        []sarifInvocation{{ExecutionSuccessful: len(in.Errors) == 0}},
	}
	for _, e := range in.Errors {
		n := sarifNotification{Level: "error", Message: sarifMessage{Text: RelError(in.Dir, e)}}
		if loc, ok := in.errorLocation(src, e); ok {
			n.Locations = []sarifLocation{loc}
		}
		run.Invocations[0].ToolExecutionNotifications = append(run.Invocations[0].ToolExecutionNotifications, n)
	}
	seen := map[string]int{}
	for _, f := range in.Findings {
		msg := f.Message
		if f.Unfixed != "" {
			msg += " (not fixed: " + f.Unfixed + ")"
		}
		r := sarifResult{
			RuleID:    f.Rule,
			RuleIndex: ruleIndex[f.Rule],
			Level:     "warning",
			Message:   sarifMessage{Text: msg},
			Locations: []sarifLocation{{PhysicalLocation: in.sarifPhysical(src, f.Pos, f.End)}},
		}
		for i, rel := range f.Related {
			id := i + 1
			r.RelatedLocations = append(r.RelatedLocations, sarifLocation{
				ID:               &id,
				PhysicalLocation: in.sarifPhysical(src, rel.Pos, token.Position{}),
				Message:          &sarifMessage{Text: rel.Message},
			})
		}
		// The fingerprint leaves out line numbers so that a finding keeps
		// its identity when code above it moves; the occurrence count tells
		// apart findings that are otherwise the same.
		key := f.Rule + "\x00" + in.rel(f.Pos.Filename) + "\x00" + f.Message
		sum := sha256.Sum256([]byte(key + "\x00" + strconv.Itoa(seen[key])))
		seen[key]++
		r.PartialFingerprints = map[string]string{"leakfixFindingHash/v1": hex.EncodeToString(sum[:16])}
		if len(f.Edits) > 0 {
			r.Fixes = []sarifFix{in.sarifFixOf(f)}
		}
		run.Results = append(run.Results, r)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

func sarifRuleOf(r *rules.Rule) sarifRule {
	d := r.Doc
	text := d.Text
	md := d.Text
	if d.Before != "" {
		text += "\n\nBefore:\n\n" + d.Before + "\n\nAfter leakfix fix:\n\n" + d.After
		md += "\n\nBefore:\n\n```go\n" + d.Before + "\n```\n\nAfter `leakfix fix`:\n\n```go\n" + d.After + "\n```"
	}
	sr := sarifRule{
		ID:               r.Name,
		ShortDescription: sarifMessage{Text: d.Title},
		FullDescription:  sarifMessage{Text: d.Text},
		Help:             sarifMessage{Text: text, Markdown: md},
		HelpURI:          HelpURI,
	}
	sr.DefaultConfiguration.Level = "warning"
	return sr
}

// sarifFixOf turns a finding's edits into one fix, grouped by file in the
// order the edits come.
func (in *Input) sarifFixOf(f engine.Finding) sarifFix {
	fix := sarifFix{Description: sarifMessage{Text: "Make the work stoppable: " + f.Message}}
	byFile := map[string]int{}
	for _, e := range f.Edits {
		i, ok := byFile[e.Path]
		if !ok {
			i = len(fix.ArtifactChanges)
			byFile[e.Path] = i
			fix.ArtifactChanges = append(fix.ArtifactChanges, sarifArtifactChange{ArtifactLocation: in.artifact(e.Path)})
		}
		// Edits are whole lines, so column 1 is the same in every unit.
		rep := sarifReplacement{DeletedRegion: sarifRegion{StartLine: e.Start.Line, StartColumn: 1, EndLine: e.End.Line, EndColumn: 1}}
		if e.New != "" {
			rep.InsertedContent = &sarifContent{Text: e.New}
		}
		fix.ArtifactChanges[i].Replacements = append(fix.ArtifactChanges[i].Replacements, rep)
	}
	return fix
}

func (in *Input) artifact(path string) sarifArtifactLoc {
	return sarifArtifactLoc{URI: (&url.URL{Path: in.rel(path)}).EscapedPath(), URIBaseID: srcRoot}
}

// sarifPhysical locates start to end, or start alone when end is zero.
func (in *Input) sarifPhysical(src *sources, start, end token.Position) sarifPhysical {
	p := sarifPhysical{
		ArtifactLocation: in.artifact(start.Filename),
		Region:           &sarifRegion{StartLine: start.Line, StartColumn: utf16Column(src, start)},
	}
	if end.Line > 0 {
		p.Region.EndLine, p.Region.EndColumn = end.Line, utf16Column(src, end)
	}
	return p
}

// errorLocation locates an input error in a file below the directory
// leakfix ran in, so that a code scanning view shows it on its line; an
// error in a directory, a package or a pattern, or outside that
// directory, has no location, and its message alone says where.
func (in *Input) errorLocation(src *sources, err error) (sarifLocation, bool) {
	var pe *engine.PosError
	if !errors.As(err, &pe) || pe.Path == "" || !filepath.IsAbs(pe.Path) {
		return sarifLocation{}, false
	}
	if _, ok := load.RelBelow(in.Dir, pe.Path); !ok {
		return sarifLocation{}, false
	}
	if fi, err := os.Stat(pe.Path); err != nil || fi.IsDir() {
		return sarifLocation{}, false
	}
	p := sarifPhysical{ArtifactLocation: in.artifact(pe.Path)}
	if pe.Line > 0 {
		start := token.Position{Filename: pe.Path, Line: pe.Line, Column: max(pe.Col, 1)}
		p.Region = &sarifRegion{StartLine: pe.Line}
		if pe.Col > 0 {
			p.Region.StartColumn = utf16Column(src, start)
		}
	}
	return sarifLocation{PhysicalLocation: p}, true
}

// utf16Column converts a position's byte column to UTF-16 code units.
func utf16Column(src *sources, p token.Position) int {
	line, ok := src.line(p.Filename, p.Line)
	if !ok || p.Column-1 > len(line) {
		return p.Column
	}
	n := 0
	for b := line[:p.Column-1]; len(b) > 0; {
		r, size := utf8.DecodeRune(b)
		n += len(utf16.Encode([]rune{r}))
		b = b[size:]
	}
	return n + 1
}

// dirURI returns dir as a file URI ending in a slash, as SARIF requires of
// a base.
func dirURI(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
