package rewrite

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"

	"github.com/dave/dst"

	"github.com/leakfix/leakfix/rules"
)

// cleanupNames are the names a generated cleanup may take, in order: the
// first that is free on the owner is used. They are a subset of
// rules.CleanupNames, the names the rules take for an existing cleanup (and
// so extend rather than add): a generated Destroy would say more than it does.
var cleanupNames = []string{"Shutdown", "Stop", "Close"}

// state names the variables (fields or package variables) one loop keeps.
// A loop alone gets a state of its own; a group's loops share stop and mu
// and each has its own done (see group); the starts of one method share
// one state, since each value runs the method once.
type state struct {
	stop, done string
	mu         string // "" unless the owner is guarded
}

// A holder is where a group of loops keeps its state: the fields of a
// struct type, or package variables.
//
// One holder per owner type, so that all the work of a type shares one
// cleanup (promise 4), and one for the package. own fills recv and the
// fields from names on; Apply and the holders of embedding types read them
// afterwards.
type holder struct {
	typ   *types.Named // nil for the package
	items []rules.Fix  // the loops and timers it owns
	recv  string       // the cleanup method's receiver name; "" for the package

	// free reports whether a name is unused on the type or in the package.
	free func(string) bool

	// For the package: values in package variables whose cleanup the
	// package's cleanup calls (var b = newBridge()), and where to put the
	// cleanup when no loop of the package's own is fixed.
	values []value
	anchor *ast.FuncDecl

	names   []string // the fields or variables added to it
	cleanup string   // the cleanup's name, once chosen
	added   bool     // the cleanup was generated, not extended
	args    bool     // the cleanup takes arguments
}

// A value is a package variable holding an owner of fixed loops.
type value struct {
	name string
	h    *holder
}

// own gives a group of loops their state, starts each with a fresh context,
// and makes the owner's cleanup stop them. It returns why the owner cannot
// hold them, or "".
//
// A reason is for the user, and covers every fix h holds; an error means a
// plan this code cannot follow. The cleanup is decided first; then each
// item is started, collecting the state to declare and the block that
// stops it; then the state is declared and the cleanup written or
// extended.
func (rw *rewriter) own(h *holder) (string, error) {
	cleanup := rw.cleanupDecl(h)
	name := ""
	var promoted *ast.FuncDecl // the embedded cleanup the new one wraps
	via := ""
	// A type whose cleanup is promoted from an embedded field gets a method
	// of that name and signature: a Shutdown beside the promoted Close would
	// be a second cleanup (promise 4), and callers of Close would never stop
	// the new work. Promoted depends on the type alone, so the first item
	// speaks for all.
	if cleanup == nil && h.typ != nil && len(h.items) > 0 {
		if o := h.items[0].Base().Owner; o.Promoted != nil {
			promoted, via, name = o.Promoted, o.Via, o.Promoted.Name.Name
		}
	}
	if cleanup == nil && promoted == nil {
		// The first free name: an existing method or field of that name would
		// clash, and one of CleanupNames the type already has would have been
		// extended instead (cleanupDecl).
		for _, n := range cleanupNames {
			if h.free(n) {
				name = n
				break
			}
		}
		if name == "" {
			return fmt.Sprintf("%s are all taken, so no cleanup can be added", joinNames(cleanupNames)), nil
		}
	}
	// The new declarations go beside the function that starts the first
	// loop, where a reader of that function looks for them; a package
	// holder with only values has the first constructor of one instead.
	anchor := h.anchor
	if len(h.items) > 0 {
		anchor = h.items[0].Base().Starter
	}
	if h.typ != nil {
		// The receiver name the type's methods already use, so the new method
		// reads like its siblings; an extended cleanup's own, since the stops go
		// into its body. Without a name the stops could not refer to the fields.
		h.recv = rw.receiverName(h.typ)
		if cleanup != nil {
			names := cleanup.Recv.List[0].Names
			if len(names) == 0 || names[0].Name == "_" {
				return fmt.Sprintf("%s's receiver has no name", cleanup.Name.Name), nil
			}
			h.recv = names[0].Name
			if rw.nilTestedLater(cleanup) {
				return fmt.Sprintf("%s is safe on a nil *%s through a check of %s the stop cannot go below, and stopping the work before that check would make it panic there",
					cleanup.Name.Name, h.typ.Obj().Name(), h.recv), nil
			}
		}
	}

	// fresh names the holder's new fields or variables. A package variable
	// must also not be hidden by a local of a starter, which stores into it
	// by name; a field is always reached through its owner (s.stopCleanup),
	// which no local hides. addedToEmbedded keeps a new field from shadowing
	// one this rewrite gave an embedded type, whose promoted name existing
	// code may already use.
	taken := map[string]bool{}
	fresh := func(name string) string {
		for i := 1; ; i++ {
			c := name
			if i > 1 {
				c = fmt.Sprintf("%s%d", name, i)
			}
			if !taken[c] && h.free(c) && (h.typ != nil || !rw.usedInStarters(h, c)) && !rw.addedToEmbedded(h, c) {
				taken[c] = true
				h.names = append(h.names, c)
				return c
			}
		}
	}
	// An extended cleanup that takes a context (Shutdown(ctx) error) waits
	// for the work only until that context is done, as such methods promise;
	// its own code then goes on and decides what it returns.
	waitCtx := ""
	if cleanup != nil {
		waitCtx = ctxParamName(rw.pkg.Info, cleanup.Type)
	}
	var (
		decls    []declared
		stops    []dst.Stmt
		starters []string // the functions that start loops
		timed    []string // the functions that schedule calls
		guarded  []string
	)
	// Asked of every item before any is rewritten: a refusal after an
	// earlier item's start was rewritten would leave that start using
	// fields never declared.
	for _, item := range h.items {
		if site := item.Base(); site.Owner.Guarded && h.typ != nil && rw.copied(h.typ) {
			// A mutex would make vet flag the copies, and unguarded state
			// that Start writes races with a copy read at the same time,
			// which the program did not do.
			return fmt.Sprintf("%s values are copied (a value receiver, or a dereference), and %s would write state those copies read while it runs",
				h.typ.Obj().Name(), starterName(h, site.Starter)), nil
		}
	}
	groups := rw.groups(h)
	shared := map[loopKey]*state{} // the state of each method that several constructors start
	for _, item := range h.items {
		site := item.Base()
		starter := starterName(h, site.Starter)
		ref, err := rw.startRef(h, item)
		if err != nil {
			return "", err
		}
		loop, _ := item.(*rules.Loop)
		g := groups[loop]
		// Guarded state (a Start that may run again, or while the cleanup runs)
		// gets a mutex of its own, never the owner's: the cleanup holds it while
		// it waits for the loop, and a loop that takes the owner's mutex in its
		// pass would then never finish the pass. A group shares the mutex of
		// its first loop.
		mu := ""
		if site.Owner.Guarded {
			switch {
			case g == nil:
				mu = fresh(site.Name + "Mu")
			case g.loops[0] == loop:
				mu = fresh(g.name + "Mu")
			default:
				mu = g.mu
			}
			// The doc names what the caller calls: c.connect for the sync.OnceFunc
			// a starter stores, not the starter.
			runs := starter
			if site.StartedBy != "" {
				runs = site.StartedBy
			}
			if !slices.Contains(guarded, runs) {
				guarded = append(guarded, runs)
			}
		}
		switch item := item.(type) {
		case *rules.Loop:
			var st state
			later := shared[keyOf(item)] != nil // another start of the method stores its state
			switch {
			// The first start of the method declared the state; this value stores
			// into the same fields.
			case later:
				st = *shared[keyOf(item)]
			// A loop alone: its own cancel function and done channel.
			case g == nil:
				st = state{stop: fresh("stop" + upperFirst(site.Name)), done: fresh(site.Name + "Done"), mu: mu}
				by := starter
				if len(item.Starts) > 1 {
					// One state for every start: each value runs the loop once.
					shared[keyOf(item)] = &st
					by = joinNames(startersOf(h, item))
				}
				if mu != "" {
					decls = append(decls, declared{mu, qual("sync", "Mutex"), "guards " + st.stop + " and " + st.done})
				}
				decls = append(decls,
					declared{st.stop, qual("context", "CancelFunc"), "ends the " + loopName(site.Name) + " started by " + by},
					declared{st.done, chanStruct(), "closed when the " + loopName(site.Name) + " has returned"},
				)
			case g.loops[0] == item:
				// The group's state is declared, and stored, with its
				// first loop.
				g.stop, g.mu = fresh("stop"+upperFirst(g.name)), mu
				var names []string
				for _, l := range g.loops {
					g.dones = append(g.dones, fresh(l.Name+"Done"))
					names = append(names, l.Name)
				}
				if mu != "" {
					decls = append(decls, declared{mu, qual("sync", "Mutex"), "guards " + joinNames(append([]string{g.stop}, g.dones...))})
				}
				what := "the " + joinNames(names) + " loops"
				if g.name != "loops" {
					what = "the " + loopName(g.name) + "s"
				}
				decls = append(decls, declared{g.stop, qual("context", "CancelFunc"), "ends " + what + " started by " + starter})
				for i, l := range g.loops {
					decls = append(decls, declared{g.dones[i], chanStruct(), "closed when the " + loopName(l.Name) + " has returned"})
				}
			}
			// Every loop of a group uses the group's names, its own done among them.
			if g != nil {
				st = state{stop: g.stop, done: g.dones[slices.Index(g.loops, item)], mu: g.mu}
			}
			if err := rw.start(item, st, ref, g); err != nil {
				return "", err
			}
			switch {
			// No stop block: the first start's block stops the shared state.
			case later:
			case g == nil:
				stops = append(stops, stopBlock(st, h.cleanupRef(), waitCtx)...)
			// The group's one block cancels all its loops at once and waits for each;
			// it is added with the last loop, once every loop of the group has its
			// done channel.
			case g.loops[len(g.loops)-1] == item:
				stops = append(stops, stopBlock(state{stop: g.stop, done: g.dones[0], mu: g.mu}, h.cleanupRef(), waitCtx, g.dones[1:]...)...)
			}
		case *rules.Timer:
			// A Timer needs no done channel: Stop cancels a call not yet started,
			// and a call already running is not waited for (the doc says so).
			timer := fresh(site.Name + "Timer")
			if site.Name == "timer" {
				timer = fresh("timer")
			}
			if mu != "" {
				decls = append(decls, declared{mu, qual("sync", "Mutex"), "guards " + timer})
			}
			decls = append(decls, declared{timer, &dst.StarExpr{X: qual("time", "Timer")}, "set by " + starter + "; stopping it cancels the call"})
			if err := rw.storeTimer(item, timer, mu, ref); err != nil {
				return "", err
			}
			stops = append(stops, stopTimer(timer, mu, h.cleanupRef())...)
		default:
			// A plan type this switch does not know fails loudly rather than leave
			// its work unowned.
			return "", fmt.Errorf("rewrite: fix plan %T has an owner but no transform", item)
		}
		if _, ok := item.(*rules.Timer); ok {
			if !slices.Contains(timed, starter) {
				timed = append(timed, starter)
			}
		} else if !slices.Contains(starters, starter) {
			starters = append(starters, starter)
		}
	}
	var held []string // values whose cleanup this one calls
	// A cleanup that shadows the one a fix of this rewrite gave an
	// embedded type (Cache's Shutdown hides its *store's) also calls it, so
	// that the outer cleanup still ends the inner work.
	own := name
	if cleanup != nil {
		own = cleanup.Name.Name
	}
	// Only a cleanup this rewrite added: an existing one the outer method
	// shadows is the Promoted case, which forwards to it instead. One with
	// arguments cannot be called here, since their values would be made up;
	// one of another name is not shadowed at all.
	for _, inner := range rw.holders {
		f := embeddedField(h.typ, inner.typ)
		if f == nil || !inner.added || inner.cleanup != own || inner.args {
			continue
		}
		stop := &dst.ExprStmt{X: call(sel(sel(dst.NewIdent(h.recv), f.Name()), inner.cleanup))}
		if _, ptr := f.Type().(*types.Pointer); ptr {
			stops = append(stops, &dst.IfStmt{
				Cond: &dst.BinaryExpr{X: sel(dst.NewIdent(h.recv), f.Name()), Op: token.NEQ, Y: dst.NewIdent("nil")},
				Body: &dst.BlockStmt{List: []dst.Stmt{stop}},
			})
		} else {
			stops = append(stops, stop)
		}
		if h.typ != nil {
			held = append(held, h.recv+"."+f.Name())
		}
	}
	// The package's cleanup calls the cleanup of each value in a package
	// variable (packageValues); a refused holder has no cleanup to call.
	for _, v := range h.values {
		if v.h.cleanup != "" && !v.h.args {
			stops = append(stops, &dst.ExprStmt{X: call(sel(dst.NewIdent(v.name), v.h.cleanup))})
			held = append(held, v.name)
		}
	}
	// Nothing to stop: a package whose values all had their fixes refused,
	// or whose cleanups take arguments. No cleanup is added for nothing.
	if len(stops) == 0 {
		return "", nil
	}
	if len(decls) > 0 {
		if err := rw.declare(anchor, h, decls); err != nil {
			return "", err
		}
	}
	// An existing cleanup is extended: the stops go first, before its own
	// code, so that the work has ended before the cleanup releases what the
	// work may still use, and the wait is not made under a lock its code
	// takes, which the loop may need to finish its pass. Its signature,
	// results and the rest of its body stay as they were (promise 4).
	if cleanup != nil {
		d, err := rw.node(cleanup)
		if err != nil {
			return "", err
		}
		body := d.(*dst.FuncDecl).Body
		// Below the cleanup's leading `if s == nil { return }`, as the
		// wiring of a field's cleanup is: the stops read the receiver's
		// fields, and above the guard they would make closing a nil value
		// panic where it did nothing before.
		at := 0
		if cleanup.Recv != nil && len(cleanup.Recv.List[0].Names) > 0 {
			recv := cleanup.Recv.List[0].Names[0].Name
			for at < len(body.List) && nilGuard(body.List[at], recv) {
				at++
			}
		}
		if at < len(body.List) {
			stops[len(stops)-1].Decorations().After = dst.EmptyLine
		}
		body.List = append(body.List[:at:at], append(stops, body.List[at:]...)...)
		// h.args tells the holders of embedding types and the package's cleanup
		// that this cleanup cannot be called without making up arguments.
		h.cleanup, h.args = cleanup.Name.Name, len(cleanup.Type.Params.List) > 0
		return "", nil
	}
	h.cleanup, h.added = name, true
	var ftype *dst.FuncType
	// The forwarding call comes last: the new work stops first, then the
	// embedded value's cleanup runs as it always did, and its result is the
	// method's result.
	if promoted != nil {
		ft, fwd, err := rw.forward(promoted, sel(dst.NewIdent(h.recv), via))
		if err != nil {
			return "", err
		}
		ftype, stops = ft, append(stops, fwd)
		h.args = len(promoted.Type.Params.List) > 0
	}
	// Every generated method says what it stops and when it is safe to call
	// (promise 5), in the words the DESIGN illustration uses.
	var doc []string
	switch {
	case len(starters) > 0:
		doc = append(doc, "// "+name+" stops the background work started by "+joinNames(starters)+" and waits for it to end.")
		if len(timed) > 0 {
			doc = append(doc, "// It also cancels the calls that "+joinNames(timed)+" scheduled.")
		}
	case len(timed) > 0:
		doc = append(doc, "// "+name+" cancels the calls that "+joinNames(timed)+" scheduled; a call",
			"// already running is not waited for.")
	}
	switch {
	case promoted != nil:
		doc = append(doc, "// Then it calls "+h.recv+"."+via+"."+name+", as "+name+" did before it was declared here.")
	case len(held) > 0 && len(doc) == 0:
		doc = append(doc, "// "+name+" shuts down "+joinNames(held)+", stopping their background work.")
	case len(held) > 0:
		doc = append(doc, "// It also shuts down "+joinNames(held)+".")
	}
	if len(guarded) > 0 {
		doc = append(doc, "// It is safe to call more than once, and while "+joinNames(guarded)+" runs.")
	} else {
		doc = append(doc, "// It is safe to call more than once.")
	}
	return "", rw.addCleanup(anchor, h, name, ftype, doc, stops)
}

// nilTestedLater reports whether the existing cleanup decl compares its
// receiver with nil other than in its leading `if s == nil { return }`
// statements, which the stops go below: in `if s == nil || s.closed`, or
// in an `if s != nil` around its body, the cleanup is meant to be safe on
// a nil receiver, and no place for the stops keeps both that and the rest
// of its behaviour.
func (rw *rewriter) nilTestedLater(decl *ast.FuncDecl) bool {
	recv := rw.pkg.Info.Defs[decl.Recv.List[0].Names[0]]
	nilTest := func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryExpr)
		if !ok || b.Op != token.EQL && b.Op != token.NEQ {
			return false
		}
		isRecv := func(e ast.Expr) bool {
			id, ok := ast.Unparen(e).(*ast.Ident)
			return ok && rw.pkg.Info.Uses[id] == recv
		}
		isNil := func(e ast.Expr) bool { return rw.pkg.Info.Types[e].IsNil() }
		return isRecv(b.X) && isNil(b.Y) || isNil(b.X) && isRecv(b.Y)
	}
	list := decl.Body.List
	for len(list) > 0 && IsNilGuard(list[0], recv.Name()) {
		list = list[1:]
	}
	found := false
	for _, s := range list {
		ast.Inspect(s, func(n ast.Node) bool {
			found = found || nilTest(n)
			return !found
		})
	}
	return found
}

// startersOf names the functions that start l's method, in the order of
// h's fixes.
// The comment on the shared state's fields names every constructor, since
// each of them starts the method.
func startersOf(h *holder, l *rules.Loop) []string {
	var names []string
	for _, item := range h.items {
		if o, ok := item.(*rules.Loop); ok && keyOf(o) == keyOf(l) && !slices.Contains(names, starterName(h, o.Starter)) {
			names = append(names, starterName(h, o.Starter))
		}
	}
	return names
}

// starterName names fn, a function that starts work h owns, as the
// comments the fix writes do: by its name (New, Start), or, where another
// such function has the same name, as FuncName spells it ((*Factory).New).
// Two types' New constructors cannot share a holder, but a type's New and
// a method New of a factory can, and "started by New and New" would
// mislead.
func starterName(h *holder, fn *ast.FuncDecl) string {
	for _, item := range h.items {
		if o := item.Base().Starter; o != fn && o.Name.Name == fn.Name.Name {
			return rules.FuncName(fn)
		}
	}
	return fn.Name.Name
}

// forward returns the signature of the promoted method decl and the
// statement that calls it through the embedded field via, passing every
// parameter on: return q.journal.Close(), or q.journal.Stop(ctx).
//
// The signature is cloned from decl, names and all, so the parameters the
// call passes on are in scope; the rules plan a Promoted cleanup only
// when its parameters are named (promotedCleanup).
func (rw *rewriter) forward(decl *ast.FuncDecl, via dst.Expr) (*dst.FuncType, dst.Stmt, error) {
	d, err := rw.node(decl)
	if err != nil {
		return nil, nil, err
	}
	ft := dst.Clone(d.(*dst.FuncDecl).Type).(*dst.FuncType)
	c := call(sel(via, decl.Name.Name))
	for _, field := range decl.Type.Params.List {
		for _, n := range field.Names {
			c.Args = append(c.Args, dst.NewIdent(n.Name))
		}
		if _, ok := field.Type.(*ast.Ellipsis); ok {
			c.Ellipsis = true
		}
	}
	if decl.Type.Results != nil && len(decl.Type.Results.List) > 0 {
		return ft, &dst.ReturnStmt{Results: []dst.Expr{c}}, nil
	}
	return ft, &dst.ExprStmt{X: c}, nil
}

// addedToEmbedded reports whether this rewrite added a field called name to
// a type h's type embeds, which a field of h's would shadow.
// The holders of embedded types are owned first (embeddedFirst), so
// their names are known here.
func (rw *rewriter) addedToEmbedded(h *holder, name string) bool {
	for _, inner := range rw.holders {
		if embeds(h.typ, inner.typ) && slices.Contains(inner.names, name) {
			return true
		}
	}
	return false
}

// usedInStarters reports whether a package-level name would be shadowed in
// a function that starts one of h's loops.
// A starter stores into the package variable by name; a local of the same
// name there would receive the store instead, and the cleanup would find
// the variable nil.
func (rw *rewriter) usedInStarters(h *holder, name string) bool {
	for _, item := range h.items {
		if rw.takenIn(item.Base().Starter)[name] {
			return true
		}
	}
	return false
}

// ctxParamName returns the name of ft's context.Context parameter, or ""
// when it has none or leaves it unnamed.
// An unnamed context cannot be waited on, so such a cleanup waits for
// the work without a limit, as one without a context does.
func ctxParamName(info *types.Info, ft *ast.FuncType) string {
	for _, field := range ft.Params.List {
		if t := info.TypeOf(field.Type); t != nil && t.String() == "context.Context" {
			for _, name := range field.Names {
				if name.Name != "_" {
					return name.Name
				}
			}
		}
	}
	return ""
}

// loopName describes a loop by its base name: "cleanup loop", or just "loop".
// The field comments say "the cleanup loop", not "the loop loop".
func loopName(name string) string {
	if name == "loop" {
		return name
	}
	return name + " loop"
}
