// An orders service whose database pool is exhausted: database/sql with SetMaxOpenConns(1), one report
// goroutine holding the only connection while it "runs a long query" (sleeps), and 6 /orders handlers
// waiting in database/sql.(*DB).conn for a connection. The driver is a stand-in registered with sql.Register
// (standard library only); the wait is database/sql's own. Prints "READY <port>" once the handlers wait;
// dumps are taken with /debug/pprof/goroutine?debug=2 and SIGQUIT.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"sync/atomic"
	"time"
)

type fakeDriver struct{}
type fakeConn struct{}
type fakeRows struct{ done bool }

func (fakeDriver) Open(string) (driver.Conn, error)          { return fakeConn{}, nil }
func (fakeConn) Prepare(string) (driver.Stmt, error)         { return nil, errors.New("not supported") }
func (fakeConn) Close() error                                { return nil }
func (fakeConn) Begin() (driver.Tx, error)                   { return nil, errors.New("not supported") }
func (fakeConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &fakeRows{}, nil
}
func (*fakeRows) Columns() []string { return []string{"n"} }
func (*fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = int64(1)
	return nil
}

var started atomic.Int64

type OrderStore struct{ db *sql.DB }

func (s *OrderStore) Count(ctx context.Context) (int, error) {
	started.Add(1)
	var n int
	err := s.db.QueryRowContext(ctx, "select count(*) from orders").Scan(&n)
	return n, err
}

// report holds the pool's only connection for an hour: a long query, or a transaction left open.
func (s *OrderStore) report(ctx context.Context) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	time.Sleep(time.Hour)
}

func main() {
	sql.Register("fake", fakeDriver{})
	db, err := sql.Open("fake", "")
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	store := &OrderStore{db: db}
	go store.report(context.Background())
	http.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		n, err := store.Count(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, n)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)
	time.Sleep(100 * time.Millisecond)
	var keep []net.Conn
	for i := 0; i < 6; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(c, "GET /orders HTTP/1.1\r\nHost: orders\r\n\r\n")
		keep = append(keep, c)
	}
	for started.Load() < 6 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // from counted to parked in (*DB).conn
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	select {}
}
