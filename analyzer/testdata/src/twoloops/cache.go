// Package twoloops starts two loops in one constructor. Their fixes share
// the struct and the Shutdown method; applying both diagnostics' fixes
// gives the one rewrite leakfix fix makes.
package twoloops

import (
	"sync"
	"time"
)

// Cache expires entries and reports its size.
type Cache struct {
	mu      sync.Mutex
	expired int
	reports int
}

// New starts the expiry and report loops.
func New() *Cache {
	c := &Cache{}
	go func() { // want `goroutine started in New ticks forever`
		t := time.NewTicker(time.Second)
		for range t.C {
			c.expire()
		}
	}()
	go c.reportLoop() // want `goroutine started in New sleeps and wakes forever`
	return c
}

func (c *Cache) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expired++
}

func (c *Cache) reportLoop() {
	for {
		c.mu.Lock()
		c.reports++
		c.mu.Unlock()
		time.Sleep(time.Minute)
	}
}
