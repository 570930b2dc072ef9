package fixpkg

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/leakfix/leakfix/rewrite"
	"github.com/leakfix/leakfix/rules"
)

// A WireNote says what wiring did about one call of a fixed starter: where
// the new cleanup is now called ("wired into (*Server).Close"), or why it
// is not.
type WireNote struct {
	Wired, Why string
}

// A siteKey names a place in a file as the fix left it, before wiring.
type siteKey struct {
	file string
	off  int
}

// A CallKey names a reference to a starter in a way a fix does not change:
// its file, the function declaring it, the starter, and its rank among
// that function's references to the starter. (Offsets would not do: a
// fix may reformat the line.)
type CallKey struct {
	File, Func, Starter string
	Rank                int
}

// EachRef calls visit for every identifier of file that refers to a
// function for which want is true, with its key and the nodes above it.
func EachRef(file *ast.File, name string, info *types.Info, want func(*types.Func) bool, visit func(id *ast.Ident, fn *types.Func, key CallKey, stack []ast.Node)) {
	ranks := map[[2]string]int{}
	for _, decl := range file.Decls {
		enclosing := "package initialization"
		if fd, ok := decl.(*ast.FuncDecl); ok {
			enclosing = rules.FuncName(fd)
		}
		walkStack(decl, func(n ast.Node, stack []ast.Node) {
			id, ok := n.(*ast.Ident)
			if !ok {
				return
			}
			fn, ok := info.Uses[id].(*types.Func)
			if !ok || !want(fn) {
				return
			}
			k := [2]string{enclosing, fn.Origin().FullName()}
			key := CallKey{File: name, Func: enclosing, Starter: k[1], Rank: ranks[k]}
			ranks[k]++
			visit(id, fn, key, stack)
		})
	}
}

// callOf returns the call whose function id names, when the nodes above id
// end in one.
func callOf(id *ast.Ident, stack []ast.Node) (*ast.CallExpr, []ast.Node) {
	for i := len(stack) - 2; i >= 0; i-- {
		switch n := stack[i].(type) {
		case *ast.SelectorExpr, *ast.IndexExpr, *ast.IndexListExpr, *ast.ParenExpr:
			continue
		case *ast.CallExpr:
			if calleeIdent(n) == id {
				return n, stack[:i+1]
			}
		}
		break
	}
	return nil, nil
}

// A claim gives the edit that inserts at off to the finding whose cleanup
// the inserted code calls. off is in the file as the fix left it (before;
// nil when the fix did not change it), until fixAll maps it to the file as
// it was.
type claim struct {
	path   string
	off    int
	before []byte
	f      *rules.Finding
}

// A wireTarget is a cleanup a fix made, and the constructor whose values it
// stops.
type wireTarget struct {
	typ     *types.Named
	method  *types.Func
	added   bool
	starter *types.Func
	first   *rules.Finding // the finding the wiring's edits belong to
}

// wireUp calls each new cleanup where the fixed package shows the value's
// life ends (DESIGN promise 10): from the cleanup of the owner whose field
// holds it, or when the function that made it returns. Only what it can
// prove safe is wired; for every call of a fixed constructor it says what
// it did or why not. The wired files are verified like a fix, and a wiring
// that does not verify is left out.
func wireUp(p *Package, fc *files, files map[string][]byte, found []*rules.Finding, done map[*rules.Finding]rewrite.Done) (map[string][]byte, map[CallKey]WireNote, []claim) {
	np, err := rebuild(p, files)
	if err != nil {
		return files, nil, nil
	}
	targets := map[*types.Func]*wireTarget{}
	for _, f := range found {
		d, ok := done[f]
		if !ok || d.Type == "" || d.Method == "" || f.Fix == nil {
			continue
		}
		st := f.Fix.Base().Starter
		if st == nil || st.Recv != nil {
			continue // started by a method: who made the value is not in sight
		}
		fn, _ := np.Types.Scope().Lookup(st.Name.Name).(*types.Func)
		tn, _ := np.Types.Scope().Lookup(d.Type).(*types.TypeName)
		if fn == nil || tn == nil {
			continue
		}
		named, _ := types.Unalias(tn.Type()).(*types.Named)
		if named == nil || targets[fn] != nil {
			continue
		}
		m, _, _ := types.LookupFieldOrMethod(types.NewPointer(named), true, np.Types, d.Method)
		method, _ := m.(*types.Func)
		if method == nil {
			continue
		}
		targets[fn] = &wireTarget{typ: named, method: method, added: d.Added, starter: fn, first: f}
	}
	if len(targets) == 0 {
		return files, nil, nil
	}

	w := newWirer(np)
	notes := map[CallKey]WireNote{}
	type planned struct {
		w   rewrite.Wiring
		key CallKey
		at  siteKey // where the inserted code goes
		// before is the content of at's file as the fix left it.
		before []byte
		f      *rules.Finding
		wired  string
	}
	var plans []planned
	isTarget := func(fn *types.Func) bool { return targets[fn.Origin()] != nil }
	for _, file := range np.Syntax {
		name := np.Fset.File(file.Pos()).Name()
		EachRef(file, name, np.Info, isTarget, func(id *ast.Ident, fn *types.Func, key CallKey, stack []ast.Node) {
			t := targets[fn.Origin()]
			c, stack := callOf(id, stack)
			if c == nil {
				notes[key] = WireNote{Why: "used as a function value"}
				return
			}
			wiring, wired, why := w.plan(t, c, slices.Clone(stack), strings.HasSuffix(name, "_test.go"))
			if why != "" || wiring == nil {
				notes[key] = WireNote{Wired: wired, Why: why}
				return
			}
			at := w.insertion(*wiring)
			atFile := np.Fset.File(at).Name()
			if !fc.reported(atFile) {
				notes[key] = WireNote{Why: "the wiring would edit " + filepath.Base(atFile) + ", which leakfix does not rewrite"}
				return
			}
			plans = append(plans, planned{w: *wiring, key: key, f: t.first, wired: wired,
				at: siteKey{atFile, lineAfter(np.Fset, at)}, before: files[atFile]})
		})
	}
	if len(plans) == 0 {
		return files, notes, nil
	}
	rp := np.rewrite()
	apply := func(ps []planned) (map[string][]byte, error) {
		var ws []rewrite.Wiring
		for _, pl := range ps {
			ws = append(ws, pl.w)
		}
		out, err := rewrite.Wire(rp, ws)
		if err != nil {
			return nil, err
		}
		merged := map[string][]byte{}
		for k, c := range files {
			merged[k] = c
		}
		for k, c := range out {
			merged[k] = c
		}
		if _, err := Check(p, merged, nil, true); err != nil {
			return nil, err
		}
		return merged, nil
	}
	merged, err := apply(plans)
	if err != nil {
		// Keep the wirings that verify on their own.
		var good []planned
		for _, pl := range plans {
			if _, err := apply([]planned{pl}); err != nil {
				notes[pl.key] = WireNote{Why: "the wiring did not verify: " + err.Error()}
			} else {
				good = append(good, pl)
			}
		}
		plans, merged = good, nil
		if len(good) > 0 {
			if merged, err = apply(good); err != nil {
				for _, pl := range good {
					notes[pl.key] = WireNote{Why: "the wiring did not verify: " + err.Error()}
				}
				plans, merged = nil, nil
			}
		}
	}
	if merged == nil {
		return files, notes, nil
	}
	var claims []claim
	for _, pl := range plans {
		notes[pl.key] = WireNote{Wired: pl.wired}
		claims = append(claims, claim{path: pl.at.file, off: pl.at.off, before: pl.before, f: pl.f})
	}
	return merged, notes, claims
}

// lineAfter returns the offset of the start of the line after the one
// holding pos: where a line-level edit inserting after pos begins.
func lineAfter(fset *token.FileSet, pos token.Pos) int {
	tf := fset.File(pos)
	if line := tf.Line(pos); line < tf.LineCount() {
		return tf.Offset(tf.LineStart(line + 1))
	}
	return tf.Size()
}

// OldOffset maps an offset in now back to old, where now is old with some
// edits applied. An offset inside inserted text maps to where it was
// inserted. The edits are computed line by line: a fix inserts and replaces
// whole lines, and a finer diff would align fragments of unrelated lines.
func OldOffset(old, now []byte, off int) int {
	delta := 0 // how much longer now is than old before the current edit
	for _, e := range udiff.Lines(string(old), string(now)) {
		start := e.Start + delta
		if off < start {
			break
		}
		if off < start+len(e.New) {
			return e.Start
		}
		delta += len(e.New) - (e.End - e.Start)
	}
	return off - delta
}

// calleeIdent returns the identifier naming a call's function: New,
// cache.New, or a generic New[K].
func calleeIdent(c *ast.CallExpr) *ast.Ident {
	fun := ast.Unparen(c.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	switch f := fun.(type) {
	case *ast.Ident:
		return f
	case *ast.SelectorExpr:
		return f.Sel
	}
	return nil
}

// walkStack calls visit for every node under root, with the nodes from
// root down to it.
func walkStack(root ast.Node, visit func(n ast.Node, stack []ast.Node)) {
	var stack []ast.Node
	ast.Inspect(root, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		visit(n, stack)
		return true
	})
}

// insertion returns where the code a wiring adds goes: the line after the
// opening brace of the outer cleanup, or after the statement that makes the
// value.
func (w *wirer) insertion(wr rewrite.Wiring) token.Pos {
	if wr.Field != "" {
		return wr.Into.(*ast.FuncDecl).Body.Lbrace
	}
	return wr.After.End() - 1
}
