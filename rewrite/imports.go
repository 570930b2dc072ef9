package rewrite

import (
	"go/ast"
	"go/token"
	"go/types"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/dst"
)

// addImports adds the imports that new code in f needs to f's first import
// declaration, each into the group of its kind and in order. The restorer
// would add them itself, but it then sorts the whole declaration into one
// standard-library group and one group for the rest, undoing the grouping
// the file's authors chose (std, third party, own module); an import that is
// already present leaves the declaration as it was. It returns the paths the
// new code needs that f did not import.
func addImports(f *dst.File, self string) []string {
	have := map[string]bool{}
	var decl *dst.GenDecl
	for _, d := range f.Decls {
		gd, ok := d.(*dst.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		for _, s := range gd.Specs {
			have[importPath(s)] = true
		}
		// The restorer skips a block that holds only import "C"; so do we.
		// cgo reads the comment right above import "C" as its preamble, and
		// only when the import stands alone: an import added to its block
		// would cut the preamble off and break the build.
		if decl == nil && !(len(gd.Specs) == 1 && importPath(gd.Specs[0]) == "C") {
			decl = gd
		}
	}
	var need []string
	// Every qualified identifier of the file, old ones included: an old one
	// is imported already, so only the new code's paths are left.
	dst.Inspect(f, func(n dst.Node) bool {
		if id, ok := n.(*dst.Ident); ok && id.Path != "" && id.Path != self && !have[id.Path] {
			have[id.Path] = true
			need = append(need, id.Path)
		}
		return true
	})
	slices.Sort(need)
	if decl == nil {
		return need // the restorer writes a new declaration, with nothing to disturb
	}
	for _, path := range need {
		insertImport(decl, path)
	}
	return need
}

// insertImport inserts an import of path into decl: into the first group of
// standard-library imports when path is one, else into the group sharing
// the longest path prefix with it; in sorted position when that group is
// sorted, else at its end. With no such group the import starts a new one
// (standard library first, others last).
func insertImport(decl *dst.GenDecl, path string) {
	spec := &dst.ImportSpec{Path: &dst.BasicLit{Kind: token.STRING, Value: strconv.Quote(path)}}
	spec.Decs.Before, spec.Decs.After = dst.NewLine, dst.NewLine
	specs := decl.Specs
	// groups[i] is the index of the first spec of group i.
	var groups []int
	for i, s := range specs {
		if i == 0 || s.Decorations().Before == dst.EmptyLine {
			// Groups are what the file's authors separated with blank lines
			// (std, third party, own module).
			groups = append(groups, i)
		}
	}
	end := func(g int) int {
		if g+1 < len(groups) {
			return groups[g+1]
		}
		return len(specs)
	}
	target := -1
	// A standard-library path goes into the first group that starts with
	// one; others into the group whose paths share the most leading
	// elements with it, or else the last group of others.
	if IsStd(path) {
		for g, start := range groups {
			if IsStd(importPath(specs[start])) {
				target = g
				break
			}
		}
	} else {
		best := 0
		for g, start := range groups {
			for _, s := range specs[start:end(g)] {
				if p := importPath(s); !IsStd(p) && sharedPrefix(p, path) > best {
					target, best = g, sharedPrefix(p, path)
				}
			}
			if best == 0 && !IsStd(importPath(specs[start])) {
				target = g // no shared prefix yet: the last group of others
			}
		}
	}
	// A lone import "x" becomes a block to hold a second one, each spec on
	// its own line.
	if len(specs) > 0 {
		decl.Lparen, decl.Rparen = true, true
		for _, s := range specs {
			if s.Decorations().Before == dst.None {
				s.Decorations().Before = dst.NewLine
			}
			if s.Decorations().After == dst.None {
				s.Decorations().After = dst.NewLine
			}
		}
	}
	var at int
	switch {
	case target >= 0:
		start, stop := groups[target], end(target)
		at = stop
		sorted := slices.IsSortedFunc(specs[start:stop], func(a, b dst.Spec) int {
			return strings.Compare(importPath(a), importPath(b))
		})
		// Sorted position only in a sorted group: one the authors ordered by
		// hand keeps their order, and the new import goes at its end.
		if sorted {
			for i := start; i < stop; i++ {
				if importPath(specs[i]) > path {
					at = i
					break
				}
			}
		}
		if at == start {
			// The new first spec of the group takes over the blank line above it.
			spec.Decs.Before, specs[start].Decorations().Before = specs[start].Decorations().Before, dst.NewLine
		}
	// No standard-library group yet: a new one first, as goimports orders
	// them.
	case IsStd(path) && len(specs) > 0:
		at = 0
		specs[0].Decorations().Before = dst.EmptyLine
	// No group for it: a new one last.
	default:
		at = len(specs)
		if len(specs) > 0 {
			spec.Decs.Before = dst.EmptyLine
		}
	}
	decl.Specs = slices.Insert(specs, at, dst.Spec(spec))
}

// importPath returns the unquoted path of an import spec.
func importPath(s dst.Spec) string {
	p, err := strconv.Unquote(s.(*dst.ImportSpec).Path.Value)
	if err != nil {
		return s.(*dst.ImportSpec).Path.Value
	}
	return p
}

// IsStd reports whether path looks like a standard-library import: no dot
// in its first element, the rule goimports uses.
func IsStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// sharedPrefix returns how many leading path elements a and b share.
func sharedPrefix(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	n := 0
	for n < len(as) && n < len(bs) && as[n] == bs[n] {
		n++
	}
	return n
}

// unshadowed returns the aliases, by import path, under which df (the
// decorated af) must import the packages its new code refers to, where the
// name the file would use is not that package at some place new code uses
// it: NewPoller(context context.Context) cannot call context.WithCancel.
// Such a package is imported as stdcontext (a name the file does not use
// anywhere), renaming an import the file already has and its uses with it,
// so that each package keeps one name in the file. Where no name is
// shadowed the map is empty and the file's imports stay as they are.
func (rw *rewriter) unshadowed(af *ast.File, df *dst.File) map[string]string {
	fileScope := rw.pkg.Info.Scopes[af]
	if fileScope == nil {
		return nil
	}
	// The name each path has in the file: "." for a dot import, none for a
	// blank one.
	current := map[string]string{}
	for _, spec := range af.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue
		}
		switch {
		case spec.Name == nil:
			// Without an alias the file uses the name the package declares, which
			// need not be the path's last element.
			if pn, ok := rw.pkg.Info.Implicits[spec].(*types.PkgName); ok {
				current[path] = pn.Name()
			}
		case spec.Name.Name != "_":
			current[path] = spec.Name.Name
		}
	}
	nameOf := func(path string) string {
		if name, ok := current[path]; ok {
			return name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	shadowed := map[string]bool{}
	var stack []dst.Node
	dst.Inspect(df, func(n dst.Node) bool {
		// dst.Inspect calls with nil after a node's children: the stack then
		// holds the path from the file down to the current node.
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		id, ok := n.(*dst.Ident)
		if !ok || id.Path == "" || id.Path == rw.pkg.Path || !slices.Contains(MayImport, id.Path) || shadowed[id.Path] {
			return true
		}
		if _, old := rw.dec.Ast.Nodes[id]; old {
			return true // the code compiled with it
		}
		name := nameOf(id.Path)
		if name == "" {
			return true // a dot import: the restorer spells no name
		}
		// The innermost node of the old code around the new one: its
		// scope, up to its end, holds every name that may shadow. New
		// declarations of the file see only the file's names. (New nodes
		// have no position to look up; a name declared after the new code
		// is seen too, which costs only an alias.)
		scope, pos := fileScope, token.NoPos
		for i := len(stack) - 2; i >= 0; i-- {
			if a, ok := rw.dec.Ast.Nodes[stack[i]]; ok && a.Pos().IsValid() {
				if _, file := a.(*ast.File); !file {
					pos = a.End() - 1
					if s := fileScope.Innermost(pos); s != nil {
						scope = s
					}
				}
				break
			}
		}
		_, obj := scope.LookupParent(name, pos)
		if pn, ok := obj.(*types.PkgName); obj != nil && !(ok && pn.Imported().Path() == id.Path) {
			shadowed[id.Path] = true
		}
		return true
	})
	if len(shadowed) == 0 {
		return nil
	}
	used := map[string]bool{}
	ast.Inspect(af, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	aliases := map[string]string{}
	for _, path := range slices.Sorted(maps.Keys(shadowed)) {
		// The alias must be free in the file and the package, and no predeclared
		// name, or it would itself shadow or be shadowed.
		base := "std" + path[strings.LastIndex(path, "/")+1:]
		alias := base
		for i := 2; used[alias] || rw.pkg.Types.Scope().Lookup(alias) != nil || types.Universe.Lookup(alias) != nil; i++ {
			alias = base + strconv.Itoa(i)
		}
		used[alias] = true
		aliases[path] = alias
	}
	return aliases
}
