// Package voice is a small session server whose background loops can never
// be stopped: the Go form of an unmanaged setInterval. Run
//
//	go run ./cmd/leakfix diff ./examples/...
//
// from the repository root to see how leakfix makes them stoppable.
package voice

import (
	"sync"
	"time"
)

type session struct {
	lastSeen time.Time
}

// Server tracks voice sessions and drops the idle ones.
type Server struct {
	mu       sync.Mutex
	sessions map[string]*session
	idle     time.Duration
}

// NewServer returns a server that sweeps idle sessions every minute.
func NewServer(idle time.Duration) *Server {
	s := &Server{sessions: map[string]*session{}, idle: idle}
	// Sweep idle sessions for as long as the server lives.
	go func() {
		for range time.Tick(time.Minute) {
			s.cleanupInactiveSessions()
		}
	}()
	return s
}

// Touch records activity on a session.
func (s *Server) Touch(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[id] = &session{lastSeen: time.Now()}
}

func (s *Server) cleanupInactiveSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		if time.Since(sess.lastSeen) > s.idle {
			delete(s.sessions, id)
		}
	}
}
