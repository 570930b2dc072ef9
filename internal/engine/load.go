package engine

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/tools/go/packages"
)

// load loads the packages with full syntax and types. With Tests, a
// package's test variant replaces the package itself, since it holds the
// same files and more.
func load(ctx context.Context, dir string, patterns []string, opts Options) ([]*packages.Package, error) {
	cfg := &packages.Config{
		Context: ctx,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedTypesSizes |
			packages.NeedModule,
		Dir:        dir,
		Tests:      opts.Tests,
		BuildFlags: opts.BuildFlags,
		Env:        opts.Env,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", strings.Join(patterns, " "), err)
	}
	if !opts.Tests {
		return pkgs, nil
	}
	hasTestVariant := map[string]bool{}
	for _, p := range pkgs {
		if p.ForTest != "" && p.PkgPath == p.ForTest {
			hasTestVariant[p.PkgPath] = true
		}
	}
	var out []*packages.Package
	for _, p := range pkgs {
		switch {
		case strings.HasSuffix(p.ID, ".test"): // the generated test main
		case p.ForTest == "" && hasTestVariant[p.PkgPath]:
		default:
			out = append(out, p)
		}
	}
	return out, nil
}
