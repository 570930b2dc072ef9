package rules_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/leakfix/leakfix/internal/golden"
	"github.com/leakfix/leakfix/rules"
)

// The standard library, type-checked from source once for every case: the
// rules' tests need no go command and no build cache.
var (
	stdOnce sync.Once
	stdFset *token.FileSet
	std     types.ImporterFrom
)

func stdImporter() (*token.FileSet, types.ImporterFrom) {
	stdOnce.Do(func() {
		stdFset = token.NewFileSet()
		std = importer.ForCompiler(stdFset, "source", nil).(types.ImporterFrom)
	})
	return stdFset, std
}

// A goldenPkg is one package of a golden case's module.
type goldenPkg struct {
	path  string
	files []*ast.File
	names []string // file names, relative to the module root
	pkg   *types.Package
	info  *types.Info
	err   error
}

// caseImporter type-checks the case's own packages on demand and takes the
// rest from the standard library.
type caseImporter struct {
	fset *token.FileSet
	std  types.ImporterFrom
	pkgs map[string]*goldenPkg
}

func (im *caseImporter) Import(path string) (*types.Package, error) {
	return im.ImportFrom(path, "", 0)
}

func (im *caseImporter) ImportFrom(path, dir string, mode types.ImportMode) (*types.Package, error) {
	if p := im.pkgs[path]; p != nil {
		im.check(p)
		return p.pkg, p.err
	}
	return im.std.ImportFrom(path, dir, mode)
}

func (im *caseImporter) check(p *goldenPkg) {
	if p.pkg != nil || p.err != nil {
		return
	}
	p.info = &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{},
		Implicits: map[ast.Node]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}, Scopes: map[ast.Node]*types.Scope{},
		Instances: map[*ast.Ident]types.Instance{}, FileVersions: map[*ast.File]string{},
	}
	conf := types.Config{Importer: im}
	p.pkg, p.err = conf.Check(p.path, im.fset, p.files, p.info)
}

// A wantLine is one finding of a case's want/check report.
var wantLine = regexp.MustCompile(`^(\S+:\d+:\d+): ([a-z-]+): (.*)$`)

// TestGoldenFindings runs the rules on every golden case's input, with the
// types checked from source, and requires the findings its want/check
// report lists: the same places, rules and messages, and for a finding the
// rules already know cannot be fixed, the same reason. Where the report
// says "not fixed" and the rules offered a plan, the refusal came later
// (from the rewrite or its verification), which the engine's golden test
// covers. It is the rules' own test of every shape the golden cases hold,
// the negatives included (a case reports nothing on what it must not).
func TestGoldenFindings(t *testing.T) {
	fset, std := stdImporter()
	for _, c := range golden.Load(t, "../testdata/golden") {
		t.Run(c.Name, func(t *testing.T) {
			want, _ := c.File("want/check") // none: the case reports nothing
			if strings.Contains(string(c.Archive.Comment)+want, "leakfix:ignore") || hasIgnore(c) {
				t.Skip("ignore comments are the engine's (internal/engine's suppress tests)")
			}
			mod, goVersion := "example.com/golden", "1.26"
			if gm, ok := c.File("go.mod"); ok {
				f, err := modfile.ParseLax("go.mod", []byte(gm), nil)
				if err != nil {
					t.Fatal(err)
				}
				mod = f.Module.Mod.Path
				if f.Go != nil {
					goVersion = f.Go.Version
				}
			}
			im := &caseImporter{fset: fset, std: std, pkgs: map[string]*goldenPkg{}}
			for _, f := range c.Archive.Files {
				if !strings.HasSuffix(f.Name, ".go") || strings.HasPrefix(f.Name, "want/") || strings.HasSuffix(f.Name, "_test.go") {
					continue
				}
				dir := path.Dir(f.Name)
				ip := mod
				if dir != "." {
					ip = mod + "/" + dir
				}
				file, err := parser.ParseFile(fset, c.Name+"/"+f.Name, f.Data, parser.ParseComments|parser.SkipObjectResolution)
				if err != nil {
					t.Fatal(err)
				}
				p := im.pkgs[ip]
				if p == nil {
					p = &goldenPkg{path: ip}
					im.pkgs[ip] = p
				}
				p.files = append(p.files, file)
				p.names = append(p.names, f.Name)
			}
			for _, p := range im.pkgs {
				for _, file := range p.files {
					for _, imp := range file.Imports {
						ip := strings.Trim(imp.Path.Value, `"`)
						if im.pkgs[ip] == nil && strings.Contains(strings.Split(ip, "/")[0], ".") {
							t.Skipf("imports %s, which needs the module cache (the engine's golden test runs it)", ip)
						}
					}
				}
			}
			var got []string
			for _, ip := range slices.Sorted(maps.Keys(im.pkgs)) {
				p := im.pkgs[ip]
				im.check(p)
				if p.err != nil {
					t.Fatalf("type-checking %s: %v", ip, p.err)
				}
				pass := &rules.Pass{Fset: fset, Pkg: p.pkg, Info: p.info, AllFiles: p.files, GoVersion: goVersion}
				for _, f := range p.files {
					if !ast.IsGenerated(f) {
						pass.Files = append(pass.Files, f)
					}
				}
				for _, r := range rules.All {
					for _, fd := range r.Find(pass) {
						pos := fset.Position(fd.Pos)
						line := fmt.Sprintf("%s:%d:%d: %s: %s", strings.TrimPrefix(pos.Filename, c.Name+"/"), pos.Line, pos.Column, fd.Rule, fd.Message)
						if fd.Unfixable != "" {
							line += " (not fixed: " + fd.Unfixable + ")"
						}
						got = append(got, line)
					}
				}
			}
			var wants []string
			for _, l := range strings.Split(want, "\n") {
				if wantLine.MatchString(l) {
					wants = append(wants, l)
				}
			}
			slices.Sort(got)
			slices.Sort(wants)
			for _, w := range wants {
				if i := slices.Index(got, w); i >= 0 {
					got = slices.Delete(got, i, i+1)
					continue
				}
				// A refusal made after the plan: the rules offered one.
				base, _, later := strings.Cut(w, " (not fixed: ")
				if i := slices.Index(got, base); later && i >= 0 {
					got = slices.Delete(got, i, i+1)
					continue
				}
				t.Errorf("missing finding\n%s", w)
			}
			for _, g := range got {
				t.Errorf("unexpected finding\n%s", g)
			}
		})
	}
}

// hasIgnore reports whether a case's input holds a //leakfix:ignore comment.
func hasIgnore(c *golden.Case) bool {
	for _, f := range c.Archive.Files {
		if !strings.HasPrefix(f.Name, "want/") && strings.Contains(string(f.Data), "//leakfix:ignore") {
			return true
		}
	}
	return false
}
