package load

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/cache"
)

// Listing the packages (go list) is most of what a run on unchanged code
// costs, so the listing is cached too. What go list answers depends on the
// go command and its environment, the patterns, and the directories it reads:
// which files they hold, and what those files say (build constraints,
// imports, go.mod). A listing is reused only when all of these are as they
// were: the environment and the go binary are in its key, and the entry
// records every directory go list could have read, with the name, size and
// modification time of everything in it: the package directories and, for
// patterns that walk a tree (./..., std, cmd), the whole tree. Of their
// parents up to the root, where the go command looks for go.mod and go.work,
// it records those files.
//
// A listing with errors is not cached, nor one with a file modified in the
// last few seconds, whose next change might keep its size and time.

// listCacheFormat changes whenever the meaning or layout of an entry does.
const listCacheFormat = "leakfix listing 1"

// A listEntry is a cached listing.
type listEntry struct {
	Dirs        []string // directories whose contents the listing depends on
	Parents     []string // directories whose module files it depends on
	Fingerprint []byte   // of both when the listing was made
	Packages    []listedMeta
	Roots       []string // IDs, in order
}

// listedMeta is the part of a listed package the engine reads.
type listedMeta struct {
	ID, Name, PkgPath, ForTest string
	Dir                        string
	GoFiles, OtherFiles        []string
	IgnoredFiles               []string
	Imports                    map[string]string // import path → ID
	Module                     *packages.Module
}

// ListCached lists the packages matched by patterns as List does, from the
// cache c (which may be nil) when
// nothing the listing depends on has changed; cached reports whether it
// did. When it starts the go command, it calls listing first.
//
// listing lets the caller run beside go list what it needs of the go
// command only when go list runs too (the engine's fast load asks go env for the type
// sizes): a listing read from the cache need not start one.
func ListCached(cfg *Config, c *cache.Cache, patterns []string, listing func()) (roots []*packages.Package, cached bool, err error) {
	// An overlay is not in the key: files it changes would list from the
	// cache as they are on disk.
	if cfg.Overlay != nil {
		listing()
		roots, err = List(cfg, patterns...)
		return roots, false, err
	}
	dir := cfg.Dir
	// A pattern whose inputs are not known cannot be checked for changes,
	// so its listing is neither looked up nor cached.
	walks, ok := walkRoots(dir, patterns)
	if c == nil || !ok {
		listing()
		roots, err = List(cfg, patterns...)
		return roots, false, err
	}
	key, err := listKey(cfg, patterns)
	if err != nil {
		listing()
		roots, err = List(cfg, patterns...)
		return roots, false, err
	}
	// An entry that does not decode, or whose directories changed, is
	// replaced by the listing made now.
	if data, ok := c.Get(key); ok {
		var e listEntry
		if json.Unmarshal(data, &e) == nil {
			// Whether a file is fresh matters only to a new entry: an
			// entry was made once its files had settled, and any change
			// since shows in the fingerprint.
			if fp, _, err := fingerprint(e.Dirs, e.Parents, time.Now()); err == nil && string(fp) == string(e.Fingerprint) {
				return e.restore(), true, nil
			}
		}
	}
	listing()
	// Taken before go list starts: a file written while it runs may or may
	// not be what it read, and must count as fresh.
	start := time.Now()
	roots, err = List(cfg, patterns...)
	if err != nil {
		return nil, false, err
	}
	if e, ok := newListEntry(roots, dir, walks, start); ok {
		if data, err := json.Marshal(e); err == nil {
			c.Put(key, data) // best effort
		}
	}
	return roots, false, nil
}

// walkRoots returns the trees go list walks for patterns ("std" and "cmd"
// for those trees of GOROOT/src), or false when a pattern is of a kind whose
// inputs are not known here (all, files named on the command line, import
// path patterns with ...).
func walkRoots(dir string, patterns []string) ([]string, bool) {
	var walks []string
	for _, p := range patterns {
		switch {
		case p == "std" || p == "cmd":
			walks = append(walks, p)
		case p == "all" || strings.HasSuffix(p, ".go"):
			return nil, false
		case strings.Contains(p, "..."):
			// ./... and ../x/... walk a directory tree newListEntry can
			// walk too; example.com/m/... walks whatever the module
			// graph resolves the path to, which is not known here.
			base, _, _ := strings.Cut(p, "...")
			if !(strings.HasPrefix(base, "./") || strings.HasPrefix(base, "../") || base == "." || filepath.IsAbs(base)) {
				return nil, false
			}
			walks = append(walks, filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(base, "/"))))
		}
		// A pattern without ... names packages whose directories the
		// entry records anyway (newListEntry).
	}
	return walks, true
}

// listKey hashes what a listing depends on besides the directories: the go
// command, its environment, and the request.
func listKey(cfg *Config, patterns []string) (cache.Key, error) {
	h := sha256.New()
	cache.Field(h, "format", listCacheFormat)
	if err := GoEnvKey(h, cfg.Env); err != nil {
		return cache.Key{}, err
	}
	cache.Field(h, "dir", cfg.Dir)
	cache.Field(h, "tests", fmt.Sprint(cfg.Tests))
	for _, f := range cfg.BuildFlags {
		cache.Field(h, "flag", f)
	}
	for _, p := range patterns {
		cache.Field(h, "pattern", p)
	}
	var key cache.Key
	h.Sum(key[:0])
	return key, nil
}

// GoEnvKey hashes the go command env runs (its path, size and time) and
// what of env it reads: every GO and CGO_ variable, HOME, PATH and
// XDG_CONFIG_HOME, and the file go env -w writes.
func GoEnvKey(h hash.Hash, env []string) error {
	goBin, err := lookPath("go", Getenv(env, "PATH"))
	if err != nil {
		return err
	}
	fi, err := os.Stat(goBin)
	if err != nil {
		return err
	}
	// A go binary upgraded in place keeps its path but not its size and
	// modification time.
	cache.Field(h, "go", fmt.Sprintf("%s %d %d", goBin, fi.Size(), fi.ModTime().UnixNano()))
	// Sorted: the order of the environment does not change what go list
	// answers, and must not change the key.
	vars := append([]string(nil), env...)
	sort.Strings(vars)
	for _, kv := range vars {
		name, _, _ := strings.Cut(kv, "=")
		// GOOS, GOFLAGS, GOWORK, GOTOOLCHAIN, CGO_ENABLED and the like
		// change what is listed; HOME also the default GOPATH, and so
		// where the module cache's packages are listed from.
		if strings.HasPrefix(name, "GO") || strings.HasPrefix(name, "CGO_") || name == "HOME" || name == "PATH" || name == "XDG_CONFIG_HOME" {
			cache.Field(h, "env", kv)
		}
	}
	cfg := Getenv(env, "XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(Getenv(env, "HOME"), ".config")
	}
	data, _ := os.ReadFile(filepath.Join(cfg, "go", "env")) // go env -w writes here
	cache.Field(h, "goenv", string(data))
	return nil
}

// lookPath returns the executable named file in the directories of path,
// as exec.LookPath does with this process's PATH: GoEnvKey looks in the
// pass's environment, which names the go command the pass runs.
func lookPath(file, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		name := filepath.Join(d, file)
		if fi, err := os.Stat(name); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return name, nil
		}
	}
	return "", exec.ErrNotFound
}

// newListEntry records roots and what they depend on; false when the
// listing should not be cached. start is when go list started: a file
// modified since (or just before) may not be what it read.
func newListEntry(roots []*packages.Package, dir string, walks []string, start time.Time) (*listEntry, bool) {
	e := &listEntry{}
	dirs := map[string]bool{}    // read in full
	parents := map[string]bool{} // their module files only
	// addWithParents records d in full and its parents' module files. It
	// stops at a parent already recorded, whose own parents then are too.
	addWithParents := func(d string) {
		dirs[d] = true
		for d != filepath.Dir(d) && !parents[filepath.Dir(d)] {
			d = filepath.Dir(d)
			parents[d] = true
		}
	}
	// The directory go list ran in decides the module and the workspace,
	// even when it holds no package.
	addWithParents(dir)
	seen := map[*packages.Package]bool{}
	// goroot is GOROOT/src, which std and cmd walk, told by the directory
	// of unsafe, which every listing of std or cmd reaches (runtime imports
	// it); "" when the listing does not reach it.
	goroot := ""
	var visit func(p *packages.Package) bool
	// visit records p after what it imports, and fails the whole entry on
	// a package with errors anywhere in the graph: such a listing may
	// answer otherwise next time (a module downloaded meanwhile).
	visit = func(p *packages.Package) bool {
		if seen[p] {
			return true
		}
		seen[p] = true
		if len(p.Errors) > 0 {
			return false // a listing with errors is not cached
		}
		m := listedMeta{
			ID: p.ID, Name: p.Name, PkgPath: p.PkgPath, ForTest: p.ForTest, Dir: p.Dir,
			GoFiles: p.GoFiles, OtherFiles: p.OtherFiles, IgnoredFiles: p.IgnoredFiles,
			Imports: map[string]string{}, Module: p.Module,
		}
		for path, imp := range p.Imports {
			m.Imports[path] = imp.ID
			if !visit(imp) {
				return false
			}
		}
		e.Packages = append(e.Packages, m)
		// The directory of the package's files is read in full (a new file,
		// or a changed build constraint, changes what go list answers); a
		// module version in the module cache never changes.
		files := append(append(append([]string(nil), p.GoFiles...), p.OtherFiles...), p.IgnoredFiles...)
		if len(files) > 0 && Immutable(p) == nil {
			pdir := filepath.Dir(files[0])
			addWithParents(pdir)
			if p.Module == nil && p.PkgPath == "unsafe" {
				goroot = filepath.Dir(pdir) // GOROOT/src
			}
		}
		return true
	}
	for _, p := range roots {
		if !visit(p) {
			return nil, false
		}
		e.Roots = append(e.Roots, p.ID)
	}
	for _, w := range walks {
		skip := ""
		switch w {
		case "std", "cmd":
			if goroot == "" {
				return nil, false
			}
			if w == "std" {
				skip = filepath.Join(goroot, "cmd") // std is GOROOT/src without cmd
				w = goroot
			} else {
				w = filepath.Join(goroot, "cmd")
			}
		}
		// Every directory of the tree is recorded, with or without a
		// package: a new package shows as a new entry in one of them.
		err := filepath.WalkDir(w, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				// What the go command's walk skips; a vendor directory is
				// recorded too, which can only make the entry stricter.
				if name := d.Name(); path == skip || path != w && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
					return filepath.SkipDir
				}
				dirs[path] = true
			}
			return nil
		})
		if err != nil {
			return nil, false
		}
	}
	for d := range dirs {
		e.Dirs = append(e.Dirs, d)
	}
	for d := range parents {
		if !dirs[d] { // a directory read in full covers its module files
			e.Parents = append(e.Parents, d)
		}
	}
	sort.Strings(e.Dirs)
	sort.Strings(e.Parents)
	// Fingerprinted now, after go list: what it read is what the entry
	// says, unless a file changed meanwhile, which then is fresh.
	fp, fresh, err := fingerprint(e.Dirs, e.Parents, start)
	if err != nil || fresh {
		return nil, false
	}
	e.Fingerprint = fp
	return e, true
}

// StableAfter is how long before go list started a file must have last changed
// for the listing to be cached: one changed again within the file system's
// time granularity could keep its size and modification time.
const StableAfter = 2 * time.Second

// moduleFiles are what the go command looks for in the parents of the
// directories it reads.
var moduleFiles = []string{"go.mod", "go.sum", "go.work", "go.work.sum"}

// fingerprint hashes the name, kind, size and modification time of every
// entry of dirs and of the module files in parents. fresh reports one
// modified after since-StableAfter.
//
// Contents are not read: a file edited in place gets a new modification
// time, and that changes its directory's fingerprint. Any error other than
// a missing file fails the fingerprint, so that an entry is neither made
// nor trusted when its inputs cannot all be seen.
func fingerprint(dirs, parents []string, since time.Time) (fp []byte, fresh bool, err error) {
	h := sha256.New()
	for _, d := range parents {
		cache.Field(h, "parent", d)
		for _, name := range moduleFiles {
			fi, err := os.Stat(filepath.Join(d, name))
			switch {
			case os.IsNotExist(err):
				continue
			case err != nil:
				return nil, false, err
			}
			if fi.ModTime().After(since.Add(-StableAfter)) {
				fresh = true
			}
			cache.Field(h, "file", fmt.Sprintf("%s %v %d %d", name, fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		}
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			// A directory that is gone is recorded as such: should it come
			// back, the fingerprint changes.
			if os.IsNotExist(err) {
				cache.Field(h, "missing", d)
				continue
			}
			return nil, false, err
		}
		// Every entry, not only the .go files: a new subdirectory may be a
		// new package of a walked tree, a new go.mod a new module.
		cache.Field(h, "dir", d)
		for _, ent := range entries {
			fi, err := ent.Info()
			if err != nil {
				return nil, false, err
			}
			if fi.ModTime().After(since.Add(-StableAfter)) {
				fresh = true
			}
			cache.Field(h, "entry", fmt.Sprintf("%s %v %d %d", ent.Name(), fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		}
	}
	return h.Sum(nil), fresh, nil
}

// restore rebuilds the listed packages, with the import graph linking
// them as go/packages would: one *packages.Package per ID.
func (e *listEntry) restore() []*packages.Package {
	byID := map[string]*packages.Package{}
	for i := range e.Packages {
		m := &e.Packages[i]
		byID[m.ID] = &packages.Package{
			ID: m.ID, Name: m.Name, PkgPath: m.PkgPath, ForTest: m.ForTest, Dir: m.Dir,
			GoFiles: m.GoFiles, OtherFiles: m.OtherFiles, IgnoredFiles: m.IgnoredFiles,
			Module: m.Module, Imports: map[string]*packages.Package{},
		}
	}
	// Every ID the imports name is among the packages: newListEntry
	// records a package only with all it imports.
	for i := range e.Packages {
		m := &e.Packages[i]
		for path, id := range m.Imports {
			byID[m.ID].Imports[path] = byID[id]
		}
	}
	roots := make([]*packages.Package, len(e.Roots))
	for i, id := range e.Roots {
		roots[i] = byID[id]
	}
	return roots
}

// Getenv returns the last value of key in env, as the go command reads it.
func Getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if val, ok := strings.CutPrefix(kv, key+"="); ok {
			v = val
		}
	}
	return v
}

// Immutable returns the module p comes from when that module is a fixed
// version (the module cache), or nil.
func Immutable(p *packages.Package) *packages.Module {
	m := p.Module
	if m == nil || m.Main || m.Version == "" {
		return nil
	}
	// replace x => y v1.2.3 is as fixed as x itself, by y's version;
	// replace x => ../x is a directory anyone may edit.
	if m.Replace != nil {
		if m.Replace.Version == "" {
			return nil // replaced by a directory that may change
		}
		return m.Replace
	}
	return m
}
