// Command srccheck is the floor leakfix's speed is measured against on an
// empty build cache: what any type-aware tool has to pay when nothing may be
// compiled. It lists the packages matched by its arguments and their
// dependencies (go list -deps -json, without -export or -compiled), parses
// every file, and type-checks them with go/types in parallel along the
// import graph: the matched packages with their function bodies, every
// dependency for its declarations only (IgnoreFuncBodies). It keeps nothing
// and reports only how many packages had errors.
//
//	srccheck [-tags list] [packages]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

type pkg struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	Imports    []string
	ImportMap  map[string]string
	DepOnly    bool
	Module     *struct{ GoVersion string }

	files   []*ast.File
	types   *types.Package
	waiting int
	users   []*pkg
	errors  int
}

func main() {
	tags := flag.String("tags", "", "comma-separated build tags")
	flag.Parse()
	args := []string{"list", "-e", "-deps", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,Imports,ImportMap,DepOnly,Module"}
	if *tags != "" {
		args = append(args, "-tags="+*tags)
	}
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	out, err := exec.Command("go", append(args, patterns...)...).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "srccheck: go list: %v\n", err)
		os.Exit(2)
	}
	byPath := map[string]*pkg{}
	var all []*pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		p := new(pkg)
		if err := dec.Decode(p); err != nil {
			fmt.Fprintf(os.Stderr, "srccheck: %v\n", err)
			os.Exit(2)
		}
		byPath[p.ImportPath] = p
		all = append(all, p)
	}
	arch, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "srccheck: go env: %v\n", err)
		os.Exit(2)
	}
	sizes := types.SizesFor("gc", strings.TrimSpace(string(arch)))
	fset := token.NewFileSet()

	// Parse everything, on every core.
	work := make(chan *pkg)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for p := range work {
				for _, name := range append(p.GoFiles, p.CgoFiles...) {
					f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
					if err != nil {
						p.errors++
					}
					if f != nil {
						p.files = append(p.files, f)
					}
				}
			}
		})
	}
	for _, p := range all {
		work <- p
	}
	close(work)
	wg.Wait()

	// Check each package once its imports are checked.
	var ready []*pkg
	for _, p := range all {
		for _, path := range p.Imports {
			if dep := byPath[path]; dep != nil && path != "C" && path != "unsafe" {
				p.waiting++
				dep.users = append(dep.users, p)
			}
		}
		if p.waiting == 0 {
			ready = append(ready, p)
		}
	}
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	busy := 0
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			mu.Lock()
			defer mu.Unlock()
			for {
				for len(ready) == 0 && busy > 0 {
					cond.Wait()
				}
				if len(ready) == 0 {
					cond.Broadcast()
					return
				}
				p := ready[len(ready)-1]
				ready = ready[:len(ready)-1]
				busy++
				mu.Unlock()
				check(p, byPath, fset, sizes)
				mu.Lock()
				busy--
				for _, u := range p.users {
					if u.waiting--; u.waiting == 0 {
						ready = append(ready, u)
					}
				}
				cond.Broadcast()
			}
		})
	}
	wg.Wait()
	roots, bad := 0, 0
	for _, p := range all {
		if !p.DepOnly {
			roots++
			if p.errors > 0 {
				bad++
			}
		}
	}
	fmt.Printf("%d packages (%d with their dependencies), %d with errors\n", roots, len(all), bad)
}

func check(p *pkg, byPath map[string]*pkg, fset *token.FileSet, sizes types.Sizes) {
	conf := &types.Config{
		Importer: importer(func(path string) (*types.Package, error) {
			if path == "unsafe" {
				return types.Unsafe, nil
			}
			if mapped, ok := p.ImportMap[path]; ok {
				path = mapped
			}
			if dep := byPath[path]; dep != nil && dep.types != nil {
				return dep.types, nil
			}
			return nil, fmt.Errorf("no package %s", path)
		}),
		IgnoreFuncBodies: p.DepOnly,
		FakeImportC:      true,
		Sizes:            sizes,
		Error: func(error) {
			if !p.DepOnly && len(p.CgoFiles) == 0 {
				p.errors++
			}
		},
	}
	if p.Module != nil && p.Module.GoVersion != "" {
		conf.GoVersion = "go" + p.Module.GoVersion
	}
	p.types, _ = conf.Check(p.ImportPath, fset, p.files, nil)
	p.files = nil
}

type importer func(path string) (*types.Package, error)

func (f importer) Import(path string) (*types.Package, error) { return f(path) }
