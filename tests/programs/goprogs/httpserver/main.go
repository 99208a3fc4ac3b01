// Command httpserver is a small static HTTP server for the programs suite:
// it serves /blob (a deterministic body from package blob), /sum (that
// body's SHA-256) and /echo (the request body's SHA-256), and /whoami (the
// peer and local addresses as the server sees them).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"

	"ztnc/tests/programs/goprogs/blob"
)

func main() {
	listen := flag.String("listen", "", "address to listen on (host:port)")
	seed := flag.String("seed", "ztnc", "body seed")
	size := flag.Int("size", 1<<20, "body size in bytes")
	flag.Parse()

	body := blob.Generate(*seed, *size)
	sum := blob.Sum(body)

	mux := http.NewServeMux()
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, sum)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s\n", n, hex.EncodeToString(h.Sum(nil)))
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "remote=%s local=%v\n", r.RemoteAddr, local)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen %s: %v", *listen, err)
	}
	log.Printf("serving %d bytes (sha256 %s) on %s", len(body), sum, ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
