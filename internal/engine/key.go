package engine

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/leakfix/leakfix/internal/cache"
	"github.com/leakfix/leakfix/internal/load"
	"github.com/leakfix/leakfix/rules"
)

// A package's result depends on its files and on the types its imports
// declare, which the fast load type-checks from their source files (their
// GoFiles, nothing else: no export data, no C headers), with the go
// version of their module, the type sizes of the platform (from the go
// command's environment) and the go/types of this leakfix build. So its
// cache key hashes its own files and the keys of its imports, down the whole
// import graph: a change anywhere below a package gives it a new key.
// Packages in the module cache never change and are named by module
// version instead of being read; other dependencies by their files' sizes and
// modification times.

// keyer computes cache keys for one run.
type keyer struct {
	global   []byte                                  // what every result of this run depends on
	own      map[*packages.Package][sha256.Size]byte // what each package itself contributes (ownHash)
	keys     map[*packages.Package]cache.Key         // the keys computed so far, each once however many import it
	contents map[*packages.Package][][]byte          // the roots' files, read while hashing
}

// newKeyer hashes the files of roots and of everything they import, reading
// them in parallel. It keeps the roots' contents for the syntactic pass.
func newKeyer(roots []*packages.Package, global []byte) *keyer {
	k := &keyer{
		global:   global,
		own:      map[*packages.Package][sha256.Size]byte{},
		keys:     map[*packages.Package]cache.Key{},
		contents: map[*packages.Package][][]byte{},
	}
	isRoot := map[*packages.Package]bool{}
	for _, p := range roots {
		isRoot[p] = true
	}
	var all []*packages.Package
	packages.Visit(roots, nil, func(p *packages.Package) { all = append(all, p) })
	own := make([][sha256.Size]byte, len(all))
	contents := make([][][]byte, len(all))
	// The workers write only their own slots; the maps are filled after.
	parallel(len(all), func(i int) {
		own[i], contents[i] = ownHash(all[i], isRoot[all[i]])
	})
	for i, p := range all {
		k.own[p] = own[i]
		if isRoot[p] {
			k.contents[p] = contents[i]
		}
	}
	return k
}

// ownHash hashes what p itself contributes to its key. For a root it returns
// the files' contents too.
func ownHash(p *packages.Package, root bool) ([sha256.Size]byte, [][]byte) {
	// The ID, not only the path: "p [p.test]" holds p's files and more,
	// and has results of its own. The module's go line decides what
	// type-checks (range over an int needs go 1.22) and what some rules
	// report (unstopped-ticker below 1.23).
	h := sha256.New()
	cache.Field(h, "id", p.ID)
	cache.Field(h, "name", p.Name)
	cache.Field(h, "path", p.PkgPath)
	if m := p.Module; m != nil {
		cache.Field(h, "go", m.GoVersion)
	}
	var contents [][]byte
	switch m := load.Immutable(p); {
	case m != nil && !root:
		cache.Field(h, "module", m.Path+"@"+m.Version)
		for _, name := range p.GoFiles {
			cache.Field(h, "file", name)
		}
	case !root:
		// A dependency's files are not read otherwise: their size and
		// modification time stand for their contents, as in the listing
		// cache, unless they changed too recently to tell.
		for _, name := range p.GoFiles {
			cache.Field(h, "file", name)
			fi, err := os.Stat(name)
			if err == nil && fi.ModTime().Before(time.Now().Add(-load.StableAfter)) {
				cache.Field(h, "stat", fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano()))
				continue
			}
			// An unreadable file hashes as its error: once it can be
			// read, the key changes.
			data, err := os.ReadFile(name)
			if err != nil {
				data = []byte("unreadable: " + err.Error())
			}
			sum := sha256.Sum256(data)
			h.Write(sum[:])
		}
	default:
		// A root's files are hashed by content: the syntactic pass parses
		// these same bytes, so the read costs nothing more.
		for _, name := range p.GoFiles {
			data, err := os.ReadFile(name)
			if err != nil {
				// The syntactic pass and the typed load report the problem.
				data = []byte("unreadable: " + err.Error())
			}
			cache.Field(h, "file", name)
			sum := sha256.Sum256(data)
			h.Write(sum[:])
			contents = append(contents, data)
		}
	}
	// The same files may list with errors on one run and without on the
	// next (a module not yet downloaded): the errors are part of the key.
	for _, e := range p.Errors {
		cache.Field(h, "error", e.Error())
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, contents
}

// key returns the cache key of p.
func (k *keyer) key(p *packages.Package) cache.Key {
	if key, ok := k.keys[p]; ok {
		return key
	}
	k.keys[p] = cache.Key{} // import cycles are errors; this ends the walk on one
	h := sha256.New()
	h.Write(k.global)
	own := k.own[p]
	h.Write(own[:])
	// In sorted order: Imports is a map, and the key must not depend on the
	// order of its iteration.
	paths := make([]string, 0, len(p.Imports))
	for path := range p.Imports {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		cache.Field(h, "import", path)
		dep := k.key(p.Imports[path])
		h.Write(dep[:])
	}
	var key cache.Key
	h.Sum(key[:0])
	k.keys[p] = key
	return key
}

// globalKey hashes what every result of a pass depends on besides the code:
// this build of leakfix, the rules, the unit's directory, and the settings
// that change which files are built or how they are type-checked: the go
// command and every GO and CGO_ variable of the pass's environment (which
// carry its platform and, with --untrusted, the restrictions it runs
// under), and the build flags.
func globalKey(opts Options, enabled []*rules.Rule, dir string, env []string) ([]byte, error) {
	h := sha256.New()
	cache.Field(h, "format", cacheFormat)
	self, err := executable()
	if err != nil {
		return nil, err
	}
	cache.Field(h, "leakfix", self)
	// The Go that built leakfix: its go/types decides the results too, and
	// a module version does not name it.
	cache.Field(h, "runtime", runtime.Version())
	// The rules that ran: a result cached by a run of one rule would lack
	// the findings of the others.
	for _, r := range enabled {
		cache.Field(h, "rule", r.Name)
	}
	// The unit's directory: the go command resolves imports from there
	// (its module, a workspace).
	cache.Field(h, "dir", dir)
	cache.Field(h, "tests", fmt.Sprint(opts.Tests))
	for _, f := range opts.BuildFlags {
		cache.Field(h, "flag", f)
	}
	if err := load.GoEnvKey(h, env); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// executable identifies the running leakfix, so that results are reused
// only by the same build: its module version, when it was built from a
// tagged module or a clean checkout (the version then names the commit),
// or else the hash of the binary, which a rebuild with other code changes.
// Neither depends on where or when the binary was built, so a CI job that
// builds leakfix afresh on every run still finds the results a run of the
// same version cached.
func executable() (string, error) {
	self.once.Do(func() { self.id, self.err = identify() })
	return self.id, self.err
}

// self is executable's answer, computed once: hashing the binary reads it
// whole.
var self struct {
	once sync.Once
	id   string
	err  error
}

// identify returns the module version of this build when it names the code
// exactly, or else the hash of the binary: a "(devel)" build, or one from a
// checkout with uncommitted changes (+dirty), may hold any code.
func identify() (string, error) {
	if info, ok := debug.ReadBuildInfo(); ok {
		// A clean checkout's pseudo-version (v0.0.0-20261201123456-
		// abcdef012345) names its commit, and a tag its release: both
		// name the code.
		v := info.Main.Version
		if v != "" && v != "(devel)" && !strings.HasSuffix(v, "+dirty") {
			return info.Main.Path + "@" + v + " " + info.Main.Sum, nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return binaryID(exe)
}

// binaryID identifies a binary by its content.
func binaryID(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("binary %x", h.Sum(nil)), nil
}
