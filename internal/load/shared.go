package load

import (
	"fmt"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
)

// This file shares, across the Checkers of one process, the declarations of
// the standard library checked from source: a run that loads several units
// or platforms, or loads a unit more than once (to fix, to verify the fix
// against the tests), checks time, sync, context and what they import once,
// not once a load.

// SharedFset is the file set of the Checkers that share the standard
// library's types: the shared types have their positions in it, so every
// package checked against them must have its positions there too.
var SharedFset = token.NewFileSet()

// stdTypes holds the shared results by sharedKey.
var stdTypes = struct {
	sync.Mutex
	m map[string]*sharedResult
}{m: map[string]*sharedResult{}}

// A sharedResult is what checking a standard-library package for its API
// gave. done is closed once the fields are set; a Checker that finds the
// result still being made by another waits for it, so that the process
// holds one set of types per key, not one per Checker that got there at
// the same time.
type sharedResult struct {
	done   chan struct{}
	ok     bool // the check ended and set the fields below
	types  *types.Package
	errors []packages.Error
	bad    bool
}

// sharedKey returns the key under which p's declarations are shared, or ""
// when they are not: p is not a package of the standard library (its
// directory is not below c.Std), is wanted in full, has a file in the
// overlay, or imports a package not yet checked.
//
// The key names everything the types depend on: the package, the files
// the go command chose for the platform and build tags (GOROOT's files do
// not change), the type sizes, and the very types of its imports. Two
// Checkers that checked an import each for itself have two *types.Package
// for it, and a package checked against one cannot serve the other: the
// same time.Duration would be two types. The address of an import's types
// in a key cannot come to name another package: the shared types import
// it (types.Package.Imports), which keeps it alive while the key is held.
func (c *Checker) sharedKey(p *packages.Package, need Need, deps map[string]*result) string {
	if c.Std == "" || c.Fset != SharedFset || need != API || !below(c.Std, p.Dir) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%T%v\x00", p.ID, c.Sizes, c.Sizes)
	if p.Module != nil {
		b.WriteString(p.Module.GoVersion)
	}
	for _, name := range p.GoFiles {
		if _, ok := c.Overlay[name]; ok || !below(c.Std, name) {
			return ""
		}
		b.WriteString("\x00" + name)
	}
	paths := make([]string, 0, len(p.Imports))
	for path := range p.Imports {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		d := deps[path]
		if d == nil || d.pkg.Types == nil {
			return ""
		}
		fmt.Fprintf(&b, "\x00%s=%p", path, d.pkg.Types)
	}
	return b.String()
}

// RelBelow returns path relative to root, and whether path lies in root or
// below it.
func RelBelow(root, path string) (string, bool) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// below reports whether path lies in dir or below it.
func below(dir, path string) bool {
	_, ok := RelBelow(dir, path)
	return ok
}

// shared returns the result under key, waiting while another Checker makes
// it. With ok false there is none, and the caller is now the one to make it:
// it must call put with what it gave, or with nil if the check did not end
// (a panic), so that the Checkers waiting do not wait for ever.
func shared(key string) (r *sharedResult, ok bool) {
	for {
		stdTypes.Lock()
		r = stdTypes.m[key]
		if r == nil {
			stdTypes.m[key] = &sharedResult{done: make(chan struct{})}
			stdTypes.Unlock()
			return nil, false
		}
		stdTypes.Unlock()
		<-r.done
		if r.ok {
			return r, true
		}
		// Its maker did not end, and put took the entry away: ask again,
		// and make it if no other Checker has begun to.
	}
}

// put sets the result under key, which shared let the caller make, to what
// t's check gave; t nil says the check did not end, and the next Checker
// to ask makes it again.
func put(key string, t *packages.Package, bad bool) {
	stdTypes.Lock()
	r := stdTypes.m[key]
	if t == nil {
		delete(stdTypes.m, key)
	} else {
		r.types, r.errors, r.bad, r.ok = t.Types, slices.Clone(t.Errors), bad, true
	}
	stdTypes.Unlock()
	close(r.done)
}
