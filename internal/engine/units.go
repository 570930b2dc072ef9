package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/leakfix/leakfix/internal/load"
)

// A unit is one invocation of the go command: the directory it runs in
// and the patterns it is given. A repository with several modules and no
// go.work needs one unit per module, because the go command only sees the
// module it is started in.
//
// A unit's patterns are relative to its own directory, not to the user's:
// the user's ./nested/x, in the module nested, is passed as ./x from there.
// origins leads back, so that a pattern that matched nothing is reported in
// the user's words.
type unit struct {
	dir      string
	patterns []string
	noWork   bool                // run with GOWORK=off: a module the workspace does not use
	origins  map[string][]string // pattern → the patterns the user gave that led to it
	// files are the .go files named as arguments (absolute): their
	// packages are loaded, and only findings in them are reported.
	files map[string]bool
}

// env returns base as the unit's go command needs it.
func (u unit) env(base []string) []string {
	if u.noWork {
		return setEnv(base, "GOWORK", "off")
	}
	return base
}

// plan splits patterns into units. A relative pattern ending in /...
// reaches every module below its directory: those of the go.work
// workspace in one unit, the others one unit each. Other patterns go to
// the module holding dir. Problems with the patterns or with a go.mod or
// go.work file are returned, and the rest is planned without them.
func plan(dir string, patterns []string, env []string) ([]unit, []error) {
	// gopath matters only for a directory outside every module, where auto
	// means GOPATH mode too.
	p := &planner{dir: dir, index: map[string]int{}, gopath: load.Getenv(env, "GO111MODULE") == "off" || load.Getenv(env, "GO111MODULE") == "auto"}
	// The workspace is found once, from dir, as the go command finds it;
	// every unit that is not run with GOWORK=off runs in it.
	ws, err := workspace(dir, env)
	if err != nil {
		// A go.work the go command cannot read fails every pattern:
		// nothing is planned.
		p.errs = append(p.errs, err)
		return nil, p.errs
	}
	p.ws = ws
	for _, pat := range patterns {
		p.cur = pat
		p.pattern(pat)
	}
	return p.units, p.errs
}

// A planner turns the user's patterns into units, one pattern at a time.
type planner struct {
	dir   string
	ws    *work
	units []unit
	index map[string]int // unit key → index in units
	errs  []error
	cur   string // the user's pattern being planned
	last  string // the key of the unit add added to last
	// gopath is set when the go command runs in GOPATH mode
	// (GO111MODULE=off, or auto outside a module), where directories need
	// no module.
	gopath bool
}

// work is a go.work workspace.
type work struct {
	dir  string          // the directory holding go.work
	uses map[string]bool // the modules it uses, as absolute directories
}

// pattern plans one of the user's patterns: a file, an import path pattern,
// or a directory pattern, which may reach several modules.
func (p *planner) pattern(pat string) {
	if strings.HasSuffix(pat, ".go") {
		// The go command takes arguments ending in .go for files, with or
		// without ./ (go vet cache/cache.go); leakfix loads each file's
		// package, so that the file type-checks with the rest of it, and
		// reports on the file.
		abs := pat
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(p.dir, pat)
		}
		if info, err := os.Stat(abs); err != nil || info.IsDir() {
			p.errs = append(p.errs, &PosError{Path: pat, Msg: "no such file"})
			return
		}
		dir := filepath.Dir(abs)
		p.directory(relPattern(p.dir, dir), dir, false)
		// directory does not say which unit it added the directory to,
		// which may be the workspace's, a module's own, or one with
		// GOWORK=off; add remembers it in p.last.
		if i, ok := p.index[p.last]; ok {
			if p.units[i].files == nil {
				p.units[i].files = map[string]bool{}
			}
			p.units[i].files[filepath.Clean(abs)] = true
		}
		return
	}
	// An import path pattern is resolved by the workspace, or else by the
	// module holding dir, from its root: it then shares a unit, and a go
	// command, with that module's directory patterns.
	if !isRelative(pat) {
		if p.ws != nil {
			p.add(p.dir, pat, false)
			return
		}
		root := modRoot(p.dir)
		if root == "" {
			root = p.dir
		}
		p.add(root, pat, false)
		return
	}
	// ./... and /abs/dir/... walk the tree; ./dir names one directory.
	recursive := pat == "..." || strings.HasSuffix(pat, "/...")
	base := strings.TrimSuffix(strings.TrimSuffix(pat, "..."), "/")
	if base == "" {
		base = "."
	}
	abs := base
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.dir, base)
	}
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		p.errs = append(p.errs, &PosError{Path: pat, Msg: "no such directory"})
		return
	}
	p.directory(pat, abs, recursive)
}

// directory plans the existing directory abs, which the relative pattern
// pat names, and the directories below it when recursive.
func (p *planner) directory(pat, abs string, recursive bool) {
	suffix := ""
	if recursive {
		suffix = "/..."
	}
	// containing is the module abs lies in; nested are the modules below
	// it, which the go command's ./... leaves out of containing's packages
	// and which therefore need units of their own.
	containing := modRoot(abs)
	var nested []string
	if recursive {
		for _, m := range modulesUnder(abs) {
			if m != containing {
				nested = append(nested, m)
			}
		}
	}
	switch {
	case containing != "":
		p.module(containing, abs, suffix)
	case len(nested) == 0 && p.ws == nil && !p.gopath:
		// go list would say "directory prefix . does not contain main
		// module", which does not say what to do.
		where := "here"
		if rel := relPattern(p.dir, abs); rel != "." {
			where = "in " + strings.TrimPrefix(rel, "./")
		}
		p.errs = append(p.errs, &PosError{Path: p.cur, Msg: "not in a Go module: there is no go.mod " + where +
			" or above; run go mod init MODULE-PATH at the top of the code, or name a module's directory with -C"})
	case len(nested) == 0:
		p.add(p.dir, pat, false) // GOPATH mode, or an error the go command explains
	}
	// With nested modules and none holding abs, only they are planned: the
	// directories outside them belong to no module. A repository whose top
	// has no go.mod and no go.work, but holds services/a/go.mod and
	// services/b/go.mod, is checked with ./... as two units.
	for _, m := range nested {
		p.module(m, m, "/...")
	}
}

// module adds the pattern for the directory at (plus suffix) of the module
// rooted at root, after checking its go.mod.
func (p *planner) module(root, at, suffix string) {
	gomod := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		p.errs = append(p.errs, &PosError{Path: gomod, Msg: load.ReadError(err)})
		return
	}
	// A go.mod that does not parse is reported at its line, and leaves out
	// its own module only: in a workspace's unit, the go command would fail
	// every module for it.
	if _, err := modfile.Parse(gomod, data, nil); err != nil {
		p.errs = append(p.errs, modError(err))
		return
	}
	// A module the workspace uses is loaded through the workspace, from
	// dir: one go command for all of them, which sees the workspace's
	// replacements and versions as go build in dir would.
	if p.ws != nil && p.ws.uses[root] {
		p.add(p.dir, relPattern(p.dir, at)+suffix, false)
		return
	}
	// A module the workspace does not use lies outside it, and so may the
	// module holding the workspace's own directory (work/ of the root
	// module, beside work/go.work): the go command loads such a module
	// only with GOWORK=off, from its own root.
	p.add(root, relPattern(root, at)+suffix, p.ws != nil)
}

// add appends pattern to the unit for dir, creating it on first use.
func (p *planner) add(dir, pattern string, noWork bool) {
	// The same directory with and without GOWORK=off is two invocations.
	key := fmt.Sprint(dir, noWork)
	p.last = key
	i, ok := p.index[key]
	if !ok {
		i = len(p.units)
		p.index[key] = i
		p.units = append(p.units, unit{dir: dir, noWork: noWork, origins: map[string][]string{}})
	}
	// Two of the user's patterns may plan the same one (./... and
	// ./sub/... when sub is a module): it is passed once, and remembers
	// both, so that either is told whether it matched.
	u := &p.units[i]
	if _, ok := u.origins[pattern]; !ok {
		u.patterns = append(u.patterns, pattern)
	}
	u.origins[pattern] = append(u.origins[pattern], p.cur)
}

// workspace returns the go.work workspace dir belongs to, or nil. Like
// the go command it honours GOWORK, and otherwise looks for go.work in dir
// and the directories above it.
func workspace(dir string, env []string) (*work, error) {
	// GOWORK=off disables workspaces, GOWORK=/path/go.work names one, and
	// an empty or unset GOWORK asks for the search.
	path := load.Getenv(env, "GOWORK")
	switch {
	case path == "off":
		return nil, nil
	case path == "":
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
				path = filepath.Join(d, "go.work")
				break
			}
			if filepath.Dir(d) == d {
				return nil, nil
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &PosError{Path: path, Msg: load.ReadError(err)}
	}
	wf, err := modfile.ParseWork(path, data, nil)
	if err != nil {
		return nil, modError(err)
	}
	// use lines are relative to go.work's directory; cleaned, they compare
	// with the module roots modRoot and modulesUnder return.
	w := &work{dir: filepath.Dir(path), uses: map[string]bool{}}
	for _, u := range wf.Use {
		d := u.Path
		if !filepath.IsAbs(d) {
			d = filepath.Join(w.dir, d)
		}
		w.uses[filepath.Clean(d)] = true
	}
	return w, nil
}

// modError turns a go.mod or go.work parse error into positioned errors.
func modError(err error) error {
	// modfile reports "path:line: msg" per problem, one a line.
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	// The first problem is reported at its line and the others counted:
	// "go.mod:4: unknown directive: frobnicate (and 1 more error)".
	pos, msg, ok := load.SplitPos(lines[0])
	if !ok {
		return &PosError{Msg: err.Error()}
	}
	switch n := len(lines) - 1; {
	case n == 1:
		msg += " (and 1 more error)"
	case n > 1:
		msg += fmt.Sprintf(" (and %d more errors)", n)
	}
	return load.At(pos, msg)
}

// modRoot returns the directory of the go.mod file governing dir, or "".
func modRoot(dir string) string {
	// A go.mod that is not a regular file (a directory of that name) does
	// not make a module.
	for d := dir; ; d = filepath.Dir(d) {
		if info, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && info.Mode().IsRegular() {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// modulesUnder returns the module roots at or below dir, skipping the
// directories the go command's ./... skips.
func modulesUnder(dir string) []string {
	var roots []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		// dir itself is walked whatever its name: the user named it. Below
		// it, a go.mod under testdata/ belongs to test input, and one
		// under vendor/ to a copy of a dependency.
		if path != dir {
			name := d.Name()
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" {
				return filepath.SkipDir
			}
		}
		if info, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && info.Mode().IsRegular() {
			roots = append(roots, path)
		}
		return nil
	})
	return roots
}

// isRelative reports whether a pattern names directories rather than
// import paths, as the go command decides.
func isRelative(pat string) bool {
	return pat == "." || pat == ".." || strings.HasPrefix(pat, "./") || strings.HasPrefix(pat, "../") ||
		filepath.IsAbs(pat) || runtime.GOOS == "windows" && (strings.HasPrefix(pat, `.\`) || strings.HasPrefix(pat, `..\`))
}

// relPattern returns the pattern naming directory at from directory dir.
func relPattern(dir, at string) string {
	rel, err := filepath.Rel(dir, at)
	if err != nil {
		return at
	}
	rel = filepath.ToSlash(rel)
	if rel == "." || strings.HasPrefix(rel, "../") || rel == ".." {
		return rel
	}
	return "./" + rel // without ./, the go command would read an import path
}

// A platform is a GOOS/GOARCH pair; the zero value is the go command's default.
type platform struct{ goos, goarch string }

func (p platform) String() string {
	if p.goos == "" {
		return ""
	}
	return p.goos + "/" + p.goarch
}

// parsePlatforms parses Options.Platforms, keeping the first of duplicates;
// none gives the one default platform, so that Run always makes a pass.
func parsePlatforms(list []string) ([]platform, error) {
	if len(list) == 0 {
		return []platform{{}}, nil
	}
	var out []platform
	seen := map[platform]bool{}
	for _, s := range list {
		// linux/arm/v7 is refused: the variant is GOARM's, which the pair
		// does not set.
		goos, goarch, ok := strings.Cut(strings.TrimSpace(s), "/")
		if !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
			return nil, fmt.Errorf("platform %q: want GOOS/GOARCH, e.g. linux/amd64", s)
		}
		if p := (platform{goos, goarch}); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// withPlatform returns env set up to build for p; the default platform
// leaves env as it is.
func withPlatform(env []string, p platform) []string {
	if p.goos == "" {
		return env
	}
	return setEnv(setEnv(env, "GOOS", p.goos), "GOARCH", p.goarch)
}

// setEnv returns env with key set to value, replacing earlier settings.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}
