// Package tick starts a ticking goroutine in a constructor: the shape of the
// README's example.
package tick

import (
	"sync"
	"time"
)

// Server drops idle sessions.
type Server struct {
	mu       sync.Mutex
	sessions map[string]time.Time
}

// NewServer sweeps idle sessions every minute.
func NewServer() *Server {
	s := &Server{sessions: map[string]time.Time{}}
	go func() { // want `goroutine started in NewServer ticks forever with no way to stop it`
		for range time.Tick(time.Minute) {
			s.cleanup()
		}
	}()
	return s
}

func (s *Server) cleanup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, seen := range s.sessions {
		if time.Since(seen) > time.Hour {
			delete(s.sessions, id)
		}
	}
}
