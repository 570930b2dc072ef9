// Package ignored has a suppressed finding and an ignore comment without
// a reason, which suppresses nothing and is reported.
package ignored

import "time"

// Flusher flushes for the life of the process.
type Flusher struct{ n int }

// NewFlusher starts flushing.
func NewFlusher() *Flusher {
	f := &Flusher{}
	//leakfix:ignore unstoppable-loop one Flusher per process
	go func() {
		for range time.Tick(time.Second) {
			f.n++
		}
	}()
	return f
}

// Poller polls.
type Poller struct{ n int }

// NewPoller starts polling.
func NewPoller() *Poller {
	p := &Poller{}
	// want +1 `//leakfix:ignore needs a reason`
	//leakfix:ignore
	go func() { // want `goroutine started in NewPoller ticks forever`
		for range time.Tick(time.Second) {
			p.poll()
		}
	}()
	return p
}

func (p *Poller) poll() { p.n++ }
