// Package report writes leakfix's findings in the formats review tools read:
// plain text, a documented JSON schema, SARIF 2.1.0, reviewdog's rdjsonl and
// GitHub Actions workflow commands. One file per format.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakfix/leakfix/internal/engine"
	"github.com/leakfix/leakfix/internal/ignore"
	"github.com/leakfix/leakfix/internal/version"
	"github.com/leakfix/leakfix/rules"
)

// Formats lists the formats Write knows, the default first.
var Formats = []string{"text", "json", "sarif", "rdjsonl", "github"}

// HelpURI is where a rule's documentation lives (version.HelpURI).
const HelpURI = version.HelpURI

// Input is what a report is written from.
type Input struct {
	// Dir is the directory paths are written relative to (absolute).
	Dir      string
	Findings []engine.Finding
	// Errors are problems with the input; json and sarif carry them,
	// the other formats leave them to standard error.
	Errors []error
	// ReadFile reads a source file, for formats that need its text (SARIF
	// counts columns in UTF-16 code units); nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Write writes in as format to w.
func Write(w io.Writer, format string, in *Input) error {
	switch format {
	case "", "text":
		return Text(w, in)
	case "json":
		return JSON(w, in)
	case "sarif":
		return SARIF(w, in)
	case "rdjsonl":
		return RDJSONL(w, in)
	case "github":
		return GitHub(w, in)
	}
	return fmt.Errorf("unknown format %q; known formats: %s", format, strings.Join(Formats, ", "))
}

// Known reports whether format is one Write knows.
func Known(format string) bool {
	for _, f := range Formats {
		if f == format {
			return true
		}
	}
	return false
}

// rel returns path relative to in.Dir, with forward slashes.
func (in *Input) rel(path string) string {
	return strings.ReplaceAll(engine.Rel(in.Dir, path), string(os.PathSeparator), "/")
}

// sources reads each source file once.
type sources struct {
	read  func(string) ([]byte, error)
	files map[string][]byte
}

func (in *Input) sources() *sources {
	read := in.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	return &sources{read: read, files: map[string][]byte{}}
}

// line returns line n (1-based) of path without its newline, or false.
func (s *sources) line(path string, n int) ([]byte, bool) {
	src, ok := s.files[path]
	if !ok {
		src, _ = s.read(path)
		s.files[path] = src
	}
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return nil, false
		}
		src = src[j+1:]
	}
	if n < 1 || len(src) == 0 {
		return nil, false
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return src, true
}

// ruleDoc returns the rule called name, or a stand-in for findings that
// leakfix itself reports (such as a bad suppression comment).
func ruleDoc(name string) *rules.Rule {
	if r := rules.ByName(name); r != nil {
		return r
	}
	if name == ignore.InvalidIgnore.Name {
		return ignore.InvalidIgnore
	}
	return &rules.Rule{Name: name, Doc: rules.Doc{Title: name}}
}

// part labels edit k of a fix of n edits, in formats that show one edit
// at a time.
func part(k, n int) string {
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(" (fix, part %d of %d)", k, n)
}

// RelError formats an input error with its path relative to dir.
func RelError(dir string, err error) string {
	msg := err.Error()
	var pe *engine.PosError
	if errors.As(err, &pe) && pe.Path != "" {
		rel := *pe
		rel.Path = engine.Rel(dir, pe.Path)
		msg = rel.Error()
	}
	// Messages from the go command name files by absolute path too.
	return strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
}
