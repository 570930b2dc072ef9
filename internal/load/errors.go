package load

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/tools/go/packages"
)

// PosError is a problem at a place in the input: a line and column of a
// file, a file, a directory, a package or a pattern. Reports print the
// place relative to where leakfix ran, and SARIF gives it as the
// notification's location.
type PosError struct {
	Path string // the file, directory, package or pattern; "" for none
	// Line and Col are 1-based, in the file Path; 0 when not known (Col
	// alone may be).
	Line, Col int
	Msg       string
}

// At returns the error msg at pos, a position as the go command and
// go/packages write it: "path:line:col", "path:line", a path alone, or ""
// or "-" for none.
func At(pos, msg string) *PosError {
	e := &PosError{Msg: msg}
	if pos == "-" {
		return e
	}
	// From the end, so that a colon within the path (a Windows drive, C:\)
	// stays part of it.
	e.Path = pos
	var nums []int
	for len(nums) < 2 {
		i := strings.LastIndexByte(e.Path, ':')
		n, err := strconv.Atoi(e.Path[i+1:])
		if i <= 0 || err != nil || n < 0 {
			break
		}
		nums, e.Path = append(nums, n), e.Path[:i]
	}
	switch len(nums) {
	case 1:
		e.Line = nums[0]
	case 2:
		e.Line, e.Col = nums[1], nums[0]
	}
	return e
}

// Pos returns where the error is, as "path:line:col", "path:line" or
// the path alone; "" when it is nowhere in particular.
func (e *PosError) Pos() string {
	switch {
	case e.Path == "" || e.Line == 0:
		return e.Path
	case e.Col == 0:
		return e.Path + ":" + strconv.Itoa(e.Line)
	}
	return e.Path + ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col)
}

func (e *PosError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Pos() + ": " + e.Msg
}

// DriverError turns a failure of the go command as a whole (a go.mod it
// rejects, a toolchain it will not run) into the go command's own words.
func DriverError(dir string, patterns []string, err error) error {
	// go/packages words the go command's failure "err: exit status 1:
	// stderr: TEXT"; TEXT is the go command's own.
	msg := err.Error()
	if _, stderr, ok := strings.Cut(msg, "stderr: "); ok {
		msg = stderr
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(msg), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "go: ")
		if l != "" {
			lines = append(lines, l)
		}
	}
	// The go command says what it was doing ("errors parsing go.mod:") and
	// then where: lead with the position when there is one. So
	//
	//	go: errors parsing go.mod:
	//	/m/go.mod:3: unknown directive: frobnicate
	//
	// becomes "/m/go.mod:3: unknown directive: frobnicate": the header the
	// position replaces is dropped, and any other line follows in
	// parentheses.
	for i, l := range lines {
		if pos, m, ok := SplitPos(l); ok {
			if !filepath.IsAbs(pos) {
				pos = filepath.Join(dir, pos)
			}
			rest := append(append([]string{}, lines[:i]...), lines[i+1:]...)
			if len(rest) > 0 && strings.HasSuffix(rest[0], ":") {
				rest = rest[1:]
			}
			if len(rest) > 0 {
				m += " (" + strings.Join(rest, "; ") + ")"
			}
			return At(pos, m)
		}
	}
	if len(lines) == 0 {
		lines = []string{err.Error()}
	}
	return &PosError{Path: dir, Msg: fmt.Sprintf("cannot load %s: %s", strings.Join(patterns, " "), strings.Join(lines, "; "))}
}

// PkgErrors returns the problems of a package as positioned errors, in
// terms the user can act on.
func PkgErrors(dir string, pkg *packages.Package) []error {
	// go list builds the packages it lists when asked for their export
	// data (a typed load without NeedDeps is) or cgo's output, and then
	// reports the compiler's errors as one list error. The parser's and
	// go/types' errors say the same of the same lines, and are kept rather
	// than both.
	compiled := false // go/types already reported what the compiler found
	for _, e := range pkg.Errors {
		if e.Kind == packages.ParseError || e.Kind == packages.TypeError {
			compiled = true
		}
	}
	var out []error
	for _, e := range pkg.Errors {
		msg, pos := e.Msg, e.Pos
		if e.Kind == packages.ListError && strings.HasPrefix(msg, "# ") {
			// The compiler's output when go list built the package: one
			// "file:line:col: msg" a line after a "# pkg" header.
			if compiled {
				continue
			}
			for _, line := range strings.Split(msg, "\n")[1:] {
				if p, m, ok := SplitPos(strings.TrimSpace(line)); ok {
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					out = append(out, At(p, m))
				}
			}
			continue
		}
		if e.Kind == packages.TypeError {
			msg = importError(pkg, msg)
		}
		if pos == "" || pos == "-" { // "-" is go/packages' position for none
			path, msg := errorPosition(pkg, msg)
			out = append(out, &PosError{Path: path, Msg: msg})
			continue
		}
		if !filepath.IsAbs(pos) {
			pos = filepath.Join(dir, pos) // go list's positions are relative to where it ran
		}
		out = append(out, At(pos, msg))
	}
	return out
}

var couldNotImport = regexp.MustCompile(`^could not import (\S+) \(`)

// importError replaces go/types' "could not import p (invalid package
// name)" by the reason go list gave for p, such as a missing module.
//
// go/types knows only that the import gave no package; what to do about it
// ("no required module provides package p; to add it: go get p") is in
// the listed dependency's own error, over several lines, which are joined.
func importError(pkg *packages.Package, msg string) string {
	m := couldNotImport.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	dep := pkg.Imports[m[1]]
	if dep == nil || len(dep.Errors) == 0 {
		return msg
	}
	var lines []string
	for _, l := range strings.Split(dep.Errors[0].Msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return "cannot import " + m[1] + ": " + strings.Join(lines, " ")
}

var openError = regexp.MustCompile(`^open (.+): ([^:]+)$`)

// errorPosition finds a position for an error go list gave without one.
func errorPosition(pkg *packages.Package, msg string) (string, string) {
	// "open /m/a.go: permission denied": the file is the position, and the
	// message need not repeat it.
	if m := openError.FindStringSubmatch(msg); m != nil {
		return m[1], "cannot read: " + m[2]
	}
	if pkg.Dir != "" {
		// go list ends some messages with the directory ("no Go files in
		// DIR"), which the position now names.
		if m, ok := strings.CutSuffix(msg, " in "+pkg.Dir); ok {
			return pkg.Dir, m
		}
		return pkg.Dir, msg
	}
	return pkg.ID, msg
}

// SplitPos splits "path:line[:col]: msg". The path ends at the first colon
// followed by a line number and ": ", so that a colon within the path (a
// Windows drive, C:\) is taken for part of it.
func SplitPos(s string) (pos, msg string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != ':' || i == 0 {
			continue
		}
		rest := s[i+1:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 0 {
			continue
		}
		// A column after the line is optional: "a.go:3: msg" and
		// "a.go:3:9: msg" both split after the last number.
		end := i + 1 + j
		if k := strings.IndexByte(s[end:], ':'); k == 0 && end+1 < len(s) && s[end+1] >= '0' && s[end+1] <= '9' {
			end++
			for end < len(s) && s[end] >= '0' && s[end] <= '9' {
				end++
			}
		}
		if strings.HasPrefix(s[end:], ": ") {
			if _, err := strconv.Atoi(rest[:j]); err == nil {
				return s[:end], s[end+2:], true
			}
		}
	}
	return "", "", false
}

// ReadError words a failure to read a file without repeating its path.
func ReadError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot " + pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
