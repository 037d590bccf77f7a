// A busy, healthy service: workers computing and waiting on a ticker; dumped with debug=2.
package main

import (
	"crypto/sha256"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

func worker(id int, jobs <-chan []byte, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		for k := 0; k < 2000; k++ {
			s := sha256.Sum256(j)
			j = s[:]
		}
	}
}

func main() {
	jobs := make(chan []byte, 100)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go worker(i, jobs, &wg)
	}
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		for range t.C {
			jobs <- []byte("payload")
		}
	}()
	time.Sleep(500 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
