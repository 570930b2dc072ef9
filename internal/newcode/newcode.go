// Package newcode tells which lines a change added or modified, from the
// output of git diff or a patch file, so that a pull-request bot reports
// only what the pull request introduced.
package newcode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Lines are the lines a change added or modified, by absolute file path.
type Lines struct {
	lines map[string]map[int]bool
	whole map[string]bool // files that are new in their entirety (untracked)
}

// Touches reports whether the change added or modified a line of path
// from line from to line to, inclusive.
func (l *Lines) Touches(path string, from, to int) bool {
	if l.whole[path] {
		return true
	}
	set := l.lines[path]
	for n := from; n <= to; n++ {
		if set[n] {
			return true
		}
	}
	return false
}

// Parse reads a unified diff, as git diff and diff -u write it, and
// returns the lines of the new side that it adds. A modified line is a
// removed line followed by an added one, so it counts too; removed lines
// and context do not. File names lose their first path element (a/ and b/,
// like patch -p1) and are taken relative to root.
//
// Input that holds no diff at all is an error, not an empty change: a bot
// that wrote the wrong file, or nothing, must not be told that nothing is
// new. An empty input is ErrEmpty; text without a single diff header
// ("diff --git", "---", "+++" or "@@") is an error too.
func Parse(r io.Reader, root string) (*Lines, error) {
	l := &Lines{lines: map[string]map[int]bool{}, whole: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	var (
		file      string // "" while in a deleted file or between files
		next      int    // the new-side number of the next line
		remaining int    // new-side lines left in the hunk
		old       int    // old-side lines left in the hunk
		lineNo    int
		diff      bool // a diff header was seen
		text      bool // a line that is not blank was seen
	)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		text = text || strings.TrimSpace(line) != ""
		if remaining > 0 || old > 0 {
			switch {
			case strings.HasPrefix(line, "+"):
				if file != "" {
					l.add(file, next)
				}
				next++
				remaining--
			case strings.HasPrefix(line, "-"):
				old--
			case strings.HasPrefix(line, " "), line == "":
				next++
				remaining--
				old--
			case strings.HasPrefix(line, `\`): // \ No newline at end of file
			default:
				return nil, fmt.Errorf("line %d: hunk ends early: %q", lineNo, line)
			}
			continue
		}
		switch {
		case strings.HasPrefix(line, "diff --git "), strings.HasPrefix(line, "--- "):
			diff = true
		case strings.HasPrefix(line, "+++ "):
			diff = true
			name, err := fileName(line[len("+++ "):])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			file = ""
			if name != "/dev/null" {
				file = filepath.Join(root, filepath.FromSlash(stripFirst(name)))
			}
		case strings.HasPrefix(line, "@@ "):
			diff = true
			var err error
			if next, remaining, old, err = hunk(line); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case !text:
		return nil, ErrEmpty
	case !diff:
		return nil, fmt.Errorf("line 1: not a unified diff (no \"diff --git\", \"---\", \"+++\" or \"@@\" line)")
	}
	return l, nil
}

// ErrEmpty is Parse's error for an input with no diff in it.
var ErrEmpty = errors.New("the patch is empty; for a change that may be empty, use --new-from-rev or --new-from-merge-base, which ask git")

func (l *Lines) add(file string, n int) {
	if l.lines[file] == nil {
		l.lines[file] = map[int]bool{}
	}
	l.lines[file][n] = true
}

// fileName returns the name in a ---/+++ line: unquoted as git quotes
// unusual names, and without the timestamp diff -u appends after a tab.
func fileName(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		end := strings.LastIndex(s, `"`)
		name, err := strconv.Unquote(s[:end+1])
		if err != nil {
			return "", fmt.Errorf("bad file name %s: %w", s, err)
		}
		return name, nil
	}
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	return s, nil
}

func stripFirst(name string) string {
	if _, rest, ok := strings.Cut(name, "/"); ok {
		return rest
	}
	return name
}

// hunk parses "@@ -a,b +c,d @@" into the first new-side line and the
// number of new- and old-side lines.
func hunk(line string) (start, newCount, oldCount int, err error) {
	fields := strings.Fields(line)
	if len(fields) < 3 || !strings.HasPrefix(fields[1], "-") || !strings.HasPrefix(fields[2], "+") {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q", line)
	}
	_, oldCount, err = rangeOf(fields[1][1:])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q: %w", line, err)
	}
	start, newCount, err = rangeOf(fields[2][1:])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q: %w", line, err)
	}
	return start, newCount, oldCount, nil
}

// rangeOf parses "a,b" or "a" (which means "a,1").
func rangeOf(s string) (int, int, error) {
	first, count, ok := strings.Cut(s, ",")
	a, err := strconv.Atoi(first)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return a, 1, nil
	}
	n, err := strconv.Atoi(count)
	return a, n, err
}

// FromPatch reads the patch file at path. Its file names are taken
// relative to the top of the git work tree holding dir or, outside git,
// to dir, as git diff writes them.
func FromPatch(ctx context.Context, dir, path string) (*Lines, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		root = []byte(dir)
	}
	l, err := Parse(f, strings.TrimSpace(string(root)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// FromRev returns the lines that differ between revision rev and the
// work tree holding dir (git diff rev), counting files git does not track
// yet (and does not ignore) as new in their entirety.
func FromRev(ctx context.Context, dir, rev string) (*Lines, error) {
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	top := strings.TrimSpace(string(root))
	out, err := git(ctx, dir, "diff", "--no-ext-diff", "--no-color", "--src-prefix=a/", "--dst-prefix=b/", "-U0", rev, "--")
	if err != nil {
		return nil, err
	}
	l := &Lines{lines: map[string]map[int]bool{}, whole: map[string]bool{}}
	if len(out) > 0 { // git says the change is empty
		if l, err = Parse(bytes.NewReader(out), top); err != nil {
			return nil, fmt.Errorf("git diff %s: %w", rev, err)
		}
	}
	untracked, err := git(ctx, top, "ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Split(string(untracked), "\x00") {
		if name != "" {
			l.whole[filepath.Join(top, filepath.FromSlash(name))] = true
		}
	}
	return l, nil
}

// FromMergeBase is FromRev from the merge base of rev and HEAD (git
// merge-base rev HEAD): what a branch changed since it left rev, not what
// rev changed since.
func FromMergeBase(ctx context.Context, dir, rev string) (*Lines, error) {
	base, err := git(ctx, dir, "merge-base", rev, "HEAD")
	if err != nil {
		return nil, err
	}
	return FromRev(ctx, dir, strings.TrimSpace(string(base)))
}

func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
