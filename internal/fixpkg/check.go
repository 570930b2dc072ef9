package fixpkg

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/types"

	"github.com/leakfix/leakfix/internal/load"
)

// Check type-checks p with the changed files replaced by their new content,
// recording into info (FullInfo when nil), and returns the new package. With
// vet, and when something changed, it also fails when go vet's checks that
// a fix could upset (vetChecks) report something on the new files that
// they did not report before: a fix that adds a copied mutex or a lost
// cancel is no fix.
func Check(p *Package, changed map[string][]byte, info *types.Info, vet bool) (*types.Package, error) {
	files, err := replaceFiles(p, changed)
	if err != nil {
		return nil, err
	}
	// A caller that goes on to read the new package's types passes its
	// own info; otherwise it is filled in full, as a nil map of
	// types.Info would be silently left unrecorded.
	if info == nil {
		info = FullInfo()
	}
	checked, err := typeCheck(p, files, info)
	if err != nil {
		// The checker's position is in the files as fixed: in one the fix
		// changed, a line the user's file may not have, or not there.
		var terr types.Error
		if errors.As(err, &terr) && changed[terr.Fset.Position(terr.Pos).Filename] != nil {
			return nil, fmt.Errorf("%w (a line of the file as fixed)", err)
		}
		return nil, err
	}
	// vet compares with the package as it was, which takes p.Info; an
	// importer checked against fixed dependencies, whose own code did
	// not change, is not vetted by its caller. Nothing changed is
	// nothing a fix could have added.
	if !vet || len(changed) == 0 {
		return checked, nil
	}
	if err := vetAdds(p, files, checked, info); err != nil {
		return nil, err
	}
	return checked, nil
}

// FullInfo returns a types.Info that records everything the rules, the
// rewriter and go vet's checks read.
func FullInfo() *types.Info {
	// Every map is made: go/types records only into the maps it is
	// given, so one left out would show up later as a rule, a rewrite or
	// an analyzer quietly seeing nothing, not as an error.
	return &types.Info{
		Types:        map[ast.Expr]types.TypeAndValue{},
		Defs:         map[*ast.Ident]types.Object{},
		Uses:         map[*ast.Ident]types.Object{},
		Implicits:    map[ast.Node]types.Object{},
		Selections:   map[*ast.SelectorExpr]*types.Selection{},
		Scopes:       map[ast.Node]*types.Scope{},
		Instances:    map[*ast.Ident]types.Instance{},
		FileVersions: map[*ast.File]string{},
	}
}

// rebuild returns p as it is with the changed files: parsed, and
// type-checked with full information, so that the rules can run on it.
func rebuild(p *Package, changed map[string][]byte) (*Package, error) {
	files, err := replaceFiles(p, changed)
	if err != nil {
		return nil, err
	}
	info := FullInfo()
	tp, err := typeCheck(p, files, info)
	if err != nil {
		return nil, err
	}
	// Everything else (Importer, GoFiles, GoVersion, Sizes) is p's, so
	// that the rules and the wiring see the fixed package as the run
	// sees p.
	np := *p
	np.Syntax, np.Types, np.Info = files, tp, info
	return &np, nil
}

// replaceFiles returns p's syntax with the changed files parsed anew.
func replaceFiles(p *Package, changed map[string][]byte) ([]*ast.File, error) {
	var files []*ast.File
	for _, f := range p.Syntax {
		name := p.Fset.File(f.Pos()).Name()
		if content, ok := changed[name]; ok {
			// Into p.Fset, so that the unchanged files' positions stay valid
			// beside the new ones; with comments, since the wiring rewrites
			// these very files and must keep theirs.
			nf, err := parser.ParseFile(p.Fset, name, content, parser.SkipObjectResolution|parser.ParseComments)
			if err != nil {
				// Worded to follow "the fix was dropped: ".
				return nil, fmt.Errorf("it would not parse: %w", err)
			}
			files = append(files, nf)
			continue
		}
		files = append(files, f)
	}
	return files, nil
}

// typeCheck checks files as p's, resolving imports with p.Importer.
func typeCheck(p *Package, files []*ast.File, info *types.Info) (*types.Package, error) {
	conf := types.Config{Importer: p.Importer, Sizes: p.Sizes}
	// The module's go line decides what the fixed code may use (range
	// over an integer, for one), as it will for the compiler.
	if p.GoVersion != "" {
		conf.GoVersion = "go" + p.GoVersion
	}
	// Files that import "C" are checked as they are, as the fast load
	// checks them (internal/load).
	conf.FakeImportC = true
	fakeC := load.FakeCgo(p.Fset, files)
	var first error
	conf.Error = func(err error) {
		// What a file that imports "C" takes from C has no type here;
		// the complaints that come of that are not the fix's. They are
		// why a fix never edits such a file: this check could not
		// tell.
		if terr, ok := err.(types.Error); ok && fakeC(terr) {
			return
		}
		// With conf.Error set the checker goes on past an error; the
		// first one is the reason given, and stands for the rest.
		if first == nil {
			first = err
		}
	}
	// Check's own error is the first error again, cgo's included;
	// first holds the first that counts.
	checked, _ := conf.Check(p.Path, p.Fset, files, info)
	if first != nil {
		return nil, fmt.Errorf("it would not compile: %w", first)
	}
	return checked, nil
}

// vetAdds runs vetChecks on p before and after the change and reports the
// first diagnostic the change adds.
func vetAdds(p *Package, files []*ast.File, checked *types.Package, info *types.Info) error {
	// The package before the change is vetted too, and only what the
	// change adds counts: a package vet already complains about can still
	// be fixed, as long as the fix adds no complaint of its own.
	before, err := vet(p.Fset, p.Syntax, p.Types, p.Info)
	if err != nil {
		return err
	}
	after, err := vet(p.Fset, files, checked, info)
	if err != nil {
		return err
	}
	if added := newVetFindings(before, after); len(added) > 0 {
		return fmt.Errorf("go vet would report %s", added[0])
	}
	return nil
}
