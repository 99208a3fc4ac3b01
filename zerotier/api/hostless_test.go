package api

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest sends req on a new connection to addr and returns the response.
func rawRequest(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestHostless: zerotier-cli's request (HTTP/1.1, no Host) is served, and
// requests with a Host are as before.
func TestHostless(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	})}
	go srv.Serve(HostlessListener(ln))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	// What osdep/Http.cpp sends for `zerotier-cli join`: headers sorted, no Host.
	resp := rawRequest(t, addr, "POST /network/0123456789abcdef HTTP/1.1\r\nContent-Length: 2\r\nContent-Type: application/json\r\nX-ZT1-Auth: x\r\n\r\n{}")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "POST /network/0123456789abcdef {}" {
		t.Fatalf("host-less request: %d %q", resp.StatusCode, b)
	}
	resp = rawRequest(t, addr, "GET /status HTTP/1.1\r\nhOsT: example\r\n\r\n")
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("request with Host: %d, close=%v (want 200, kept alive)", resp.StatusCode, resp.Close)
	}
	// A bare HTTP/1.1 request line, which Go alone would refuse with 400.
	resp = rawRequest(t, addr, "GET /status HTTP/1.1\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("GET without headers: %d", resp.StatusCode)
	}
}

func TestAddHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GET / HTTP/1.1\r\nA: b\r\n\r\n", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nA: b\r\n\r\n"},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"},
		{"GET / HTTP/1.1\r\nA: b\r\n", "GET / HTTP/1.1\r\nA: b\r\n"}, // incomplete: left alone
	} {
		if got := string(AddHost([]byte(tc.in))); got != tc.want {
			t.Errorf("AddHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzAddHost: AddHost never panics and only ever inserts its two lines
// right after the request line.
func FuzzAddHost(f *testing.F) {
	f.Add([]byte("GET /status HTTP/1.1\r\nX-ZT1-Auth: t\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		out := AddHost(head)
		if bytes.Equal(out, head) {
			return
		}
		ins := "Host: 127.0.0.1\r\nConnection: close\r\n"
		i := bytes.Index(head, []byte("\r\n")) + 2
		if string(out[i:i+len(ins)]) != ins || !bytes.Equal(append(append([]byte{}, out[:i]...), out[i+len(ins):]...), head) {
			t.Fatalf("AddHost(%q) = %q", head, out)
		}
		if !strings.HasSuffix(string(head[:i-2]), " HTTP/1.1") {
			t.Fatalf("inserted into a non-HTTP/1.1 head %q", head)
		}
	})
}
