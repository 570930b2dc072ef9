package rules

import (
	"go/ast"
	"go/token"
	"go/types"
	"maps"
	"strings"
)

// This file finds the locks a function holds where the work starts,
// through helper methods and channel semaphores, so that a fix never waits
// for the work while holding a lock the work needs.

// heldLock returns the lock (as written: "c.mu") that is held at target:
// locked by an earlier statement of an enclosing statement list of body and
// not unlocked before target, nor by a deferred call. A sync.WaitGroup
// counts as held between its Add and its Done: returning in between skips
// the Done, and whoever waits for the group waits for ever; wg reports that
// kind. It returns "" if nothing is held.
func (f *loopFinder) heldLock(body *ast.BlockStmt, target ast.Node) (held string, wg bool) {
	kind := map[string]bool{} // held → is a WaitGroup
	// visit walks the statement lists on the way down to target. Each list
	// counts the takes and releases of its own statements before the one
	// that holds target; a lock still taken there is held at target,
	// whatever that statement does inside. So mu.Lock(); for { mu.Unlock();
	// <-t.C; mu.Lock() } counts as waiting with mu held: the check errs
	// toward refusing. A lock taken in a nested block (if x { mu.Lock() })
	// is not counted in the list after it.
	var visit func(list []ast.Stmt) bool
	visit = func(list []ast.Stmt) bool {
		count := map[string]int{}
		for _, s := range list {
			if s.Pos() <= target.Pos() && target.End() <= s.End() {
				// Of several held locks the first by name is reported, so
				// that the reason does not change with map order.
				for lock, n := range count {
					if n > 0 && (held == "" || lock < held) {
						held = lock
					}
				}
				if held != "" || s == target {
					return true
				}
				for _, child := range stmtLists(s) {
					if visit(child) {
						return true
					}
				}
				// target is inside s: what follows s runs after it.
				return true
			}
			// Locks are told apart by their spelling (c.mu), as exprString
			// prints it.
			switch s := s.(type) {
			case *ast.ExprStmt:
				if x, op, isWG := f.lockOp(s.X, 0); op != 0 {
					count[x] += op
					kind[x] = isWG
				}
			case *ast.SendStmt:
				// A send on a channel used as a semaphore takes a slot that
				// a later receive gives back.
				if x, ok := exprString(s.Chan); ok {
					count[x]++
				}
			case *ast.DeferStmt:
				// defer mu.Unlock() runs on the return the fix adds too, so
				// the lock is never left held there: a count far below any
				// number of Lock calls in the list says so. A deferred
				// literal (defer func() { mu.Unlock() }()) is not read.
				if x, op, _ := f.lockOp(s.Call, 0); op < 0 {
					count[x] -= 1 << 20 // released on any return
				}
			}
		}
		return false
	}
	visit(body.List)
	return held, kind[held]
}

// lockCall returns the receiver of x.Lock()/x.RLock(), or of a
// sync.WaitGroup's x.Add(n) (op 1), or of x.Unlock()/x.RUnlock() or a
// WaitGroup's x.Done() (op -1), as written, or op 0. wg reports a
// WaitGroup.
func lockCall(info *types.Info, e ast.Expr) (x string, op int, wg bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return "", 0, false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", 0, false
	}
	t := derefType(info.TypeOf(sel.X))
	// Lock and Unlock are read by name, on any type: a sync.Mutex, a
	// struct embedding one (s.Lock()), or a lock of the project's own all
	// leave the work holding something if it returns in between. Add and
	// Done are common names, so only a WaitGroup's count.
	isWG := isNamed(t, "sync", "WaitGroup")
	switch {
	case len(call.Args) == 0 && (sel.Sel.Name == "Lock" || sel.Sel.Name == "RLock"):
		op = 1
	case len(call.Args) == 0 && (sel.Sel.Name == "Unlock" || sel.Sel.Name == "RUnlock"):
		op = -1
	case isWG && len(call.Args) == 1 && sel.Sel.Name == "Add":
		op = 1
	case isWG && len(call.Args) == 0 && sel.Sel.Name == "Done":
		op = -1
	default:
		return "", 0, false
	}
	x, ok = exprString(sel.X)
	if !ok {
		return "", 0, false
	}
	return x, op, isWG
}

// typeOfLock returns the underlying type of the lock heldLock named, found
// by its spelling among the selector expressions of body and of the
// package's methods; nil when none matches.
func (f *loopFinder) typeOfLock(body *ast.BlockStmt, held string) types.Type {
	if held == "" {
		return nil
	}
	// The search covers every file of the package, not only body, and the
	// first selector spelled as held decides. A lock held by a plain name
	// (sem <- struct{}{} on a local channel) is no selector, and gets nil.
	var t types.Type
	for _, file := range f.pass.AllFiles {
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && t == nil {
				if x, ok := exprString(sel); ok && x == held {
					if tt := f.pass.Info.TypeOf(sel); tt != nil {
						t = tt.Underlying()
					}
				}
			}
			return t == nil
		})
	}
	return t
}

// lockOp is lockCall seen through the package's own functions: a call of
// a method whose body takes (or releases) a lock or a semaphore slot held
// in a field of its receiver, and does not give it back, counts as taking
// (or releasing) it in the caller: p.lockState() locks p.mu. It also reads
// a receive statement (<-c.slots) as giving back a semaphore slot.
func (f *loopFinder) lockOp(e ast.Expr, depth int) (x string, op int, wg bool) {
	// A receive statement gives back the slot a send on the same channel
	// took, as heldLock counts sends.
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.ARROW {
		if x, ok := exprString(u.X); ok {
			return x, -1, false
		}
		return "", 0, false
	}
	if x, op, wg := lockCall(f.pass.Info, e); op != 0 {
		return x, op, wg
	}
	// Helpers are followed a few calls deep (p.lockState calling
	// p.lockAll calling p.mu.Lock); depth also ends a helper that calls
	// itself.
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || depth > 2 {
		return "", 0, false
	}
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return "", 0, false
	}
	// Only a method with a named receiver: the helper's lock must be
	// spelled through its receiver (s.mu) to be renamed for the caller.
	callee := calleeFunc(f.pass.Info, call)
	decl := f.methods[callee]
	if callee == nil || decl == nil || decl.Body == nil || decl.Recv == nil || len(decl.Recv.List[0].Names) != 1 {
		return "", 0, false
	}
	recv := decl.Recv.List[0].Names[0].Name
	owner, ok := exprString(sel.X)
	if !ok {
		return "", 0, false
	}
	// net holds, by lock as the helper spells it (s.mu), what the helper's
	// top-level statements leave taken (1) or released (-1) on return.
	net := map[string]int{}
	isWG := map[string]bool{}
	// Top-level statements only: a lock taken under a condition is not
	// the helper's on every call.
	for _, s := range decl.Body.List {
		switch s := s.(type) {
		case *ast.ExprStmt:
			if x, op, wg := f.lockOp(s.X, depth+1); op != 0 {
				net[x] += op
				isWG[x] = wg
			}
		case *ast.SendStmt:
			if x, ok := exprString(s.Chan); ok {
				net[x]++
			}
		case *ast.DeferStmt:
			if x, op, _ := f.lockOp(s.Call, depth+1); op < 0 {
				net[x]++ // released on return: no net effect
			}
		}
	}
	// Only a lock in a field of the helper's receiver is one the caller
	// can name: s.mu in the helper is p.mu at p.lockState().
	// A helper that both takes and gives back (Lock, then Unlock) leaves
	// nothing to the caller; only a net single take or release counts.
	for lock, n := range net {
		field, ok := strings.CutPrefix(lock, recv+".")
		if !ok || n == 0 || (n != 1 && n != -1) {
			continue
		}
		return owner + "." + field, n, isWG[lock]
	}
	return "", 0, false
}

// locksTaken returns the mutex fields that the code under n locks, directly
// or through the package's functions. A cleanup that waits for the work
// must not be called under one of them: the work would block on the lock
// while the caller holding it blocks on the work.
//
// A field counts when any of those functions acts on it (touches): a
// function that only unlocks s.mu counts as taking it, which errs toward
// refusing the fix.
func (f *loopFinder) locksTaken(n ast.Node) map[*types.Var]bool {
	start := newMethodFacts()
	f.bodyFacts(n, start)
	out := map[*types.Var]bool{}
	add := func(mf *methodFacts) {
		for v := range mf.touches {
			if IsLock(v.Type()) {
				out[v] = true
			}
		}
	}
	add(start)
	// Every function reachable from n, each once; unlike reaches, no path
	// is kept, since the reason names the caller and the lock, not the way
	// the goroutine gets to the lock.
	seen := map[*types.Func]bool{}
	queue := sortedFuncs(start.calls)
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		if seen[fn] {
			continue
		}
		seen[fn] = true
		mf := f.methodFacts(fn)
		add(mf)
		queue = append(queue, sortedFuncs(mf.calls)...)
	}
	return out
}

// IsLock reports whether t is a sync.Mutex or sync.RWMutex, by its
// package and name, through an alias but not through a pointer. The rules
// ask it of the locks a fix must not wait while holding; the rewriter asks
// it of an owner's fields, since a struct holding one is already flagged
// by vet when copied.
func IsLock(t types.Type) bool {
	return isNamed(t, "sync", "Mutex") || isNamed(t, "sync", "RWMutex")
}

// callerHolding returns a call of cleanup, in the package, made while the
// caller holds one of locks (locked earlier in an enclosing statement list
// and not yet unlocked; a deferred unlock still holds it): the caller and
// the lock, spelled as written. It returns "", "" if there is none.
func (f *loopFinder) callerHolding(cleanup *types.Func, locks map[*types.Var]bool) (string, string) {
	if len(locks) == 0 {
		return "", ""
	}
	// In source order, so that the caller the reason names is the same on
	// every run. The cleanup's own body is skipped: a call of cleanup there
	// would be recursion, not a caller.
	for obj, decl := range f.methodsInOrder() {
		if decl.Body == nil || obj == cleanup {
			continue
		}
		var caller, lock string
		// visit walks one statement list with held, the locks taken before
		// it; a nested list gets a copy, so that what it locks and unlocks
		// does not change what is held after it in the enclosing list.
		var visit func(list []ast.Stmt, held map[*types.Var]string)
		visit = func(list []ast.Stmt, held map[*types.Var]string) {
			held = maps.Clone(held)
			for _, st := range list {
				if caller != "" {
					return
				}
				// s.mu.Lock() as a statement of this list; a defer
				// s.mu.Unlock() is no statement of this kind, so the lock
				// stays held for the rest of the list, as it is until the
				// function returns.
				if es, ok := st.(*ast.ExprStmt); ok {
					if call, ok := es.X.(*ast.CallExpr); ok {
						if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && len(call.Args) == 0 {
							if v, ok := f.objectOf(sel.X).(*types.Var); ok && IsLock(v.Type()) {
								switch sel.Sel.Name {
								case "Lock", "RLock":
									held[v], _ = exprString(sel.X)
								case "Unlock", "RUnlock":
									delete(held, v)
								}
							}
						}
					}
				}
				// A call of cleanup anywhere in st, with what is held at st.
				// A function literal's call runs at a time the literal
				// decides, not with these locks held.
				ast.Inspect(st, func(n ast.Node) bool {
					if _, ok := n.(*ast.FuncLit); ok || caller != "" {
						return false
					}
					if call, ok := n.(*ast.CallExpr); ok && calleeFunc(f.pass.Info, call) == cleanup {
						for v, spelled := range held {
							if locks[v] {
								caller, lock = FuncName(decl), spelled
							}
						}
					}
					return true
				})
				// Then the lists inside st, which may lock before they call
				// (if retry { s.mu.Lock(); s.Close() }).
				for _, child := range stmtLists(st) {
					visit(child, held)
				}
			}
		}
		visit(decl.Body.List, map[*types.Var]string{})
		if caller != "" {
			return caller, lock
		}
	}
	return "", ""
}
