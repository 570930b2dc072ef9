package rules

// unstoppedSignal is the rule's name. The loop analysis gives it to the
// findings it makes for this rule.
const unstoppedSignal = "unstopped-signal"

// UnstoppedSignal reports signal.Notify registrations that are never undone.
// The analysis is the loop rule's, with the notified channel as the wait.
//
//	c := make(chan os.Signal, 1); signal.Notify(c, syscall.SIGHUP)
//	go func() { for range c { reload() } }()   // in NewT or (*T).Start
//	=> the loop selects on a stop signal and calls signal.Stop(c) when it returns
var UnstoppedSignal = &Rule{
	Name: unstoppedSignal,
	// The loops reading a channel given to signal.Notify, or a
	// signal.Notify call that nothing undoes. Never in package main: work
	// there lives as long as the process, and the analysis reports only an
	// ignored context there.
	Needs: Needs{NotMain: true, DependsOn: []string{"os/signal"}, Go: true, Calls: []string{"os/signal.Notify"}},
	Doc: Doc{
		Title: "signal.Notify is never undone and its reader never ends",
		Text: `signal.Notify registers a channel with the runtime for the life of the process
unless signal.Stop undoes it. A type that registers a channel in its
constructor and reads it in a goroutine can never be shut down: every instance
adds a registration and a goroutine that outlive it, like a global event
listener that is never removed.

The fix makes the reading loop stoppable like any other unstoppable loop, and
makes the goroutine call signal.Stop on its way out, so that after Shutdown
returns no more signals are delivered to the channel. A registration whose
channel no loop reads is reported without a fix.`,
		Before: `func NewTracker() *Tracker {
	t := &Tracker{}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	go func() {
		for range c {
			t.reload()
		}
	}()
	return t
}`,
		After: `func NewTracker() *Tracker {
	t := &Tracker{}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	t.stopReload, t.reloadDone = cancel, make(chan struct{})
	go func() {
		defer close(t.reloadDone)
		defer signal.Stop(c)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c:
			}
			t.reload()
		}
	}()
	return t
}`,
	},
	// The analysis is unstoppable-loop's, run once per package for both:
	// a loop whose wait is a registered channel takes this rule's name,
	// and so does a registration that no reported loop reads.
	Find: findLoops(unstoppedSignal),
}
