// A checkout service in three kinds of trouble at once, served on one port with net/http/pprof:
//   - /checkout handlers call the inventory service with an http.Client that has no timeout, and the
//     inventory service accepts connections and never answers: they wait in persistConn.roundTrip;
//   - /profile handlers wait on a sync.Mutex that a refresh goroutine holds while it sleeps;
//   - every /subscribe leaks 500 goroutines waiting on a channel nobody closes.
// It prints "READY <port>" once the requests are in place; dumps are taken with
// /debug/pprof/goroutine?debug=1 and ?debug=2 and with SIGQUIT. The periodic runtime.GC() lets the
// runtime date the waits ("[select, 5 minutes]"), as it does only after a GC.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var started atomic.Int64 // goroutines in place; READY waits for all of them

var client = &http.Client{} // no Timeout: a call waits as long as the dependency does

var inventoryURL string

func fetchInventory(sku string) (string, error) {
	started.Add(1)
	resp, err := client.Get(inventoryURL + "/stock?sku=" + sku)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func handleCheckout(w http.ResponseWriter, r *http.Request) {
	stock, err := fetchInventory("sku-1")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintln(w, stock)
}

type ProfileStore struct {
	mu    sync.Mutex
	names map[string]string
}

func (s *ProfileStore) Get(id string) string {
	started.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[id]
}

func (s *ProfileStore) refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(time.Hour) // a reload that never ends, holding the lock
}

var profiles = &ProfileStore{names: map[string]string{}}

func handleProfile(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, profiles.Get(r.URL.Query().Get("id")))
}

type Subscription struct{ updates chan string }

func (s *Subscription) wait() {
	started.Add(1)
	for u := range s.updates {
		_ = u
	}
}

func handleSubscribe(w http.ResponseWriter, r *http.Request) {
	for i := 0; i < 500; i++ {
		s := &Subscription{updates: make(chan string)}
		go s.wait() // never closed: leaked
	}
	fmt.Fprintln(w, "ok")
}

func silentInventory() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	return "http://" + ln.Addr().String()
}

// send writes a request and keeps the connection open without reading: no goroutine waits on it here.
func send(addr, path string, keep *[]net.Conn) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: checkout\r\n\r\n", path)
	*keep = append(*keep, c)
}

func main() {
	inventoryURL = silentInventory()
	http.HandleFunc("/checkout", handleCheckout)
	http.HandleFunc("/profile", handleProfile)
	http.HandleFunc("/subscribe", handleSubscribe)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)
	go profiles.refresh()
	time.Sleep(100 * time.Millisecond)
	var keep []net.Conn
	for i := 0; i < 8; i++ {
		send(ln.Addr().String(), "/checkout", &keep)
	}
	for i := 0; i < 6; i++ {
		send(ln.Addr().String(), "/profile?id=42", &keep)
	}
	for i := 0; i < 4; i++ {
		send(ln.Addr().String(), "/subscribe", &keep)
	}
	go func() {
		for {
			time.Sleep(10 * time.Second)
			runtime.GC()
		}
	}()
	for started.Load() < 8+6+4*500 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the last ones from counted to parked
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	select {}
}
