package rules

import (
	"go/ast"
	"strings"
	"unicode"
)

// This file names what a fix generates, from the loop's starter and the
// first thing its body calls.

// baseName names the loop after the work it does: the method it runs
// (cleanupLoop gives "cleanup"), or the first call into this package inside
// the loop (s.cleanupInactiveSessions() gives "cleanup").
func (f *loopFinder) baseName(l *Loop) string {
	if l.Method != nil {
		// cleanupLoop and cleanuploop give cleanup; a method called loop
		// stays whole, and genericNames sends it to the calls below.
		name := l.Method.Name.Name
		for _, affix := range []string{"Loop", "loop"} {
			if n := strings.TrimSuffix(name, affix); n != "" && n != name {
				name = n
			}
		}
		// A prefix goes only before a capital: runCleanup gives Cleanup,
		// while runner and starter stay whole.
		for _, affix := range []string{"run", "start"} {
			if n := strings.TrimPrefix(name, affix); n != "" && n != name && unicode.IsUpper(rune(n[0])) {
				name = n
			}
		}
		// CleanupExpired gives cleanup: the first word names the work, and
		// the result starts unexported names (stopCleanup, cleanupDone).
		if name = lowerFirst(firstWord(name)); !genericNames[name] {
			return name
		}
	}
	// A loop made with goto is its own body: l.Stmt is then the block of
	// statements from the label to the goto.
	var body ast.Node = l.Stmt // the loop's body, not its header: the work, not the wait
	switch loop := l.Stmt.(type) {
	case *ast.ForStmt:
		body = loop.Body
	case *ast.RangeStmt:
		body = loop.Body
	}
	if name := f.firstCall(body); name != "" {
		return name
	}
	// Neither the method nor the calls say what the work is.
	return "loop"
}

// firstCall returns the first word of the first function of this package
// that n calls, skipping generic names, or "".
func (f *loopFinder) firstCall(n ast.Node) string {
	// Inspect meets calls in source order, an outer call before the calls
	// in its arguments: s.record(s.sample()) gives record.
	name := ""
	ast.Inspect(n, func(n ast.Node) bool {
		// A generic name found so far is overwritten by the next call.
		if name != "" && !genericNames[name] {
			return false
		}
		if call, ok := n.(*ast.CallExpr); ok {
			// Calls into other packages, such as log.Printf or
			// time.Now, would name the means rather than the work.
			if fn := calleeOf(f.pass.Info, call.Fun); fn != nil && fn.Pkg() == f.pass.Pkg {
				name = lowerFirst(firstWord(fn.Name()))
			}
		}
		return true
	})
	if genericNames[name] {
		return ""
	}
	return name
}

// genericNames say that a loop runs, not what it does; a loop method with
// such a name is named after the work it calls instead.
var genericNames = map[string]bool{"run": true, "loop": true, "start": true, "work": true, "worker": true, "background": true, "do": true, "go": true}

// firstWord returns the first word of a camelCase or snake_case name.
// cleanupInactive gives cleanup, flush_all flush and v2Sync v2. A capital
// after a capital does not split, so an initialism keeps the word after
// it: HTTPPoll stays whole, and lowerFirst makes it httpPoll.
func firstWord(name string) string {
	name = strings.TrimLeft(name, "_")
	for i, r := range name {
		if i > 0 && (unicode.IsUpper(r) || r == '_') {
			prev := rune(name[i-1])
			if r == '_' || unicode.IsLower(prev) || unicode.IsDigit(prev) {
				return name[:i]
			}
		}
	}
	return name
}

// lowerFirst lowers the leading capital, or the whole leading initialism,
// so that the name can start an unexported identifier.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	// An initialism stays together: "HTTPPoll" gives "httpPoll" via firstWord's "HTTPPoll".
	r := []rune(s)
	for i := 0; i < len(r) && unicode.IsUpper(r[i]); i++ {
		// The last capital before a lower-case letter starts the next
		// word (the P of Poll), and stays.
		if i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// FuncName names a function as messages and Go documentation do:
// NewServer, or (*Server).Start.
func FuncName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	// A generic receiver is named without its type parameters, as in
	// (*List).Push for func (l *List[T]) Push.
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	// A receiver type written otherwise, such as in parentheses, is shown
	// as ?: the name is for messages, and must not fail.
	name := "?"
	if id, ok := t.(*ast.Ident); ok {
		name = id.Name
	}
	if star != "" {
		return "(*" + name + ")." + fn.Name.Name
	}
	return name + "." + fn.Name.Name
}
