// go-http: Go net/http's side of loadtest/compare.sh and loadtest/memory.sh.
// The same routes as cogo-server's demo that the comparison uses:
//
//	GET /            200 text/plain "Hello, World!" (keep-alive)
//	GET /sleep?ms=N  the handler sleeps N ms (time.Sleep), then "slept N ms\n"
//	GET /sleepctx?ms=N  the same, the idiomatic cancellable way: select on
//	                 time.After and r.Context().Done() (loadtest/cancel.py)
//	GET /debug/goroutines  runtime.NumGoroutine(), as text
//
// Built offline and run on one P, on core 0:
//
//	cd loadtest/baselines/go-http
//	GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o /tmp/go-http .
//	GOMAXPROCS=1 taskset -c 0 /tmp/go-http -listen 127.0.0.1:28083
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"runtime"
	"strconv"
	"time"
)

var hello = []byte("Hello, World!")

func main() {
	listen := flag.String("listen", "127.0.0.1:28083", "HOST:PORT to serve on")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Server"] = []string{"go-http"}
		w.Write(hello)
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Header()["Content-Type"] = []string{"text/plain"}
		fmt.Fprintf(w, "slept %d ms\n", ms)
	})
	mux.HandleFunc("/sleepctx", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header()["Content-Type"] = []string{"text/plain"}
		fmt.Fprintf(w, "slept %d ms\n", ms)
	})
	mux.HandleFunc("/debug/goroutines", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", runtime.NumGoroutine())
	})
	srv := &http.Server{Addr: *listen, Handler: mux}
	log.Fatal(srv.ListenAndServe())
}
