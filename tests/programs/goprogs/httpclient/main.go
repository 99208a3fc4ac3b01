// Command httpclient is the static Go client for the programs suite. It
// fetches BASE/blob and checks it against the body package blob generates
// for the same seed and size, and checks BASE/sum and an upload to
// BASE/echo. It prints "OK <sha256>" and exits 0 only when all match.
// With -probe it only tries one GET of BASE/sum (for readiness polling).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"ztnc/tests/programs/goprogs/blob"
)

func main() {
	base := flag.String("base", "", "server base URL, e.g. http://10.9.0.1:8080")
	seed := flag.String("seed", "ztnc", "body seed")
	size := flag.Int("size", 1<<20, "body size in bytes")
	rounds := flag.Int("n", 3, "how many times to fetch the blob")
	probe := flag.Bool("probe", false, "only check the server answers")
	flag.Parse()

	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: nil}}
	if *probe {
		c.Timeout = 3 * time.Second
		resp, err := c.Get(*base + "/sum")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		resp.Body.Close()
		return
	}

	want := blob.Generate(*seed, *size)
	wantSum := blob.Sum(want)

	get := func(path string) []byte {
		resp, err := c.Get(*base + path)
		if err != nil {
			fail("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			fail("GET %s: reading body after %d bytes: %v", path, len(b), err)
		}
		if resp.StatusCode != http.StatusOK {
			fail("GET %s: status %s", path, resp.Status)
		}
		return b
	}

	if got := strings.TrimSpace(string(get("/sum"))); got != wantSum {
		fail("/sum: server says %s, want %s", got, wantSum)
	}
	for i := 0; i < *rounds; i++ {
		b := get("/blob")
		if got := blob.Sum(b); got != wantSum {
			fail("/blob round %d: %d bytes, sha256 %s; want %d bytes, sha256 %s", i, len(b), got, len(want), wantSum)
		}
	}

	// Upload: the server hashes what it receives.
	resp, err := c.Post(*base+"/echo", "application/octet-stream", bytes.NewReader(want))
	if err != nil {
		fail("POST /echo: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fail("POST /echo: %v", err)
	}
	if got, exp := strings.TrimSpace(string(b)), fmt.Sprintf("%d %s", len(want), wantSum); got != exp {
		fail("POST /echo: server received %q, want %q", got, exp)
	}

	who := strings.TrimSpace(string(get("/whoami")))
	fmt.Printf("OK %s %s\n", wantSum, who)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "httpclient: FAIL: "+format+"\n", args...)
	os.Exit(1)
}
