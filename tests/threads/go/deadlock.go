// A user-auth-style service whose two request goroutines take two mutexes in opposite order,
// with workers piling up behind them and a few goroutines stuck sending on an unread channel.
package main

import (
	"net/http"
	"runtime"
	"sync"
	"time"
)

type SessionCache struct{ mu sync.Mutex }
type TokenStore struct{ mu sync.Mutex }

var cache SessionCache
var store TokenStore
var audit = make(chan string)

func (c *SessionCache) Refresh(s *TokenStore) {
	c.mu.Lock()
	defer c.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	s.Invalidate(c)
}

func (s *TokenStore) Invalidate(c *SessionCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
}

func (s *TokenStore) Rotate(c *SessionCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	c.Evict()
}

func (c *SessionCache) Evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
}

func handleLogin(w http.ResponseWriter, r *http.Request) {
	cache.mu.Lock()
	defer cache.mu.Unlock()
}

func recordAudit(user string) { audit <- user }

func main() {
	go cache.Refresh(&store)
	go store.Rotate(&cache)
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 30; i++ {
		go handleLogin(nil, nil)
	}
	for i := 0; i < 12; i++ {
		go recordAudit("user")
	}
	// A live service allocates and collects all the time; the GC is also what dates how long each
	// goroutine has waited (the "N minutes" in a dump).
	for {
		time.Sleep(20 * time.Second)
		runtime.GC()
	}
}
