package voice

import (
	"log"
	"time"
)

// Bridge relays calls and reports its health on a fixed delay.
type Bridge struct {
	calls int
}

// NewBridge starts the bridge's health reporter.
func NewBridge() *Bridge {
	b := &Bridge{}
	go b.reportLoop()
	return b
}

// reportLoop logs health, then waits 30 seconds before the next report.
func (b *Bridge) reportLoop() {
	for {
		log.Printf("bridge: %d calls", b.calls)
		time.Sleep(30 * time.Second) // fixed delay, not fixed rate
	}
}
