package load

import "golang.org/x/tools/go/packages"

// Reaching returns what says whether a package is one that in accepts or
// imports one, directly or through other packages. It remembers each
// package's answer; a package met again while its imports are still being
// visited (an import cycle, which only test variants can form) counts as
// reaching nothing.
//
// One Reaching serves every question about one set: verify.Affected asks it of
// each import it meets outside the loaded packages, and the memo keeps the
// walks linear in the size of the graph.
func Reaching(in func(*packages.Package) bool) func(*packages.Package) bool {
	memo := map[*packages.Package]bool{}
	var reaches func(p *packages.Package) bool
	reaches = func(p *packages.Package) bool {
		if r, ok := memo[p]; ok {
			return r
		}
		memo[p] = false
		r := in(p)
		for _, dep := range p.Imports {
			// Every import is visited, so that the answers of all are
			// remembered.
			if reaches(dep) {
				r = true
			}
		}
		memo[p] = r
		return r
	}
	return reaches
}

// VisitDeps calls f once for p and once for every package it imports,
// directly or not, each before what it imports. A test variant is a
// package of its own: p and "p [p.test]", both reached, are both visited
// (changedIn keeps one of their paths).
func VisitDeps(p *packages.Package, f func(*packages.Package)) {
	seen := map[*packages.Package]bool{}
	var visit func(q *packages.Package)
	visit = func(q *packages.Package) {
		if seen[q] {
			return
		}
		seen[q] = true
		f(q)
		for _, dep := range q.Imports {
			visit(dep)
		}
	}
	visit(p)
}
