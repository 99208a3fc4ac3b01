package api

import (
	"bytes"
	"io"
	"net"
)

// zerotier-cli (osdep/Http.cpp) sends HTTP/1.1 requests without a Host
// header, which Go's server refuses with 400 as RFC 9112 says it must.
// HostlessListener lets them in: a connection whose first request head has
// no Host line gets "Host: 127.0.0.1" and "Connection: close" inserted after
// the request line (one request per connection, as zerotier-cli makes).
// Every other connection passes through untouched.

// maxHead bounds the request head we look at (Go's default limit is 1 MiB;
// zerotier-cli's heads are a few hundred bytes).
const maxHead = 64 << 10

// HostlessListener wraps ln as described above.
func HostlessListener(ln net.Listener) net.Listener { return hostlessListener{ln} }

type hostlessListener struct{ net.Listener }

func (l hostlessListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &hostlessConn{Conn: c}, nil
}

type hostlessConn struct {
	net.Conn
	r io.Reader // nil until the first Read
}

func (c *hostlessConn) Read(p []byte) (int, error) {
	if c.r == nil {
		head, err := readHead(c.Conn)
		c.r = io.MultiReader(bytes.NewReader(AddHost(head)), c.Conn)
		if len(head) == 0 && err != nil {
			return 0, err
		}
	}
	return c.r.Read(p)
}

// readHead reads until the end of the first request head ("\r\n\r\n"), the
// limit, or an error; what it returns is passed on either way.
func readHead(r io.Reader) ([]byte, error) {
	var b []byte
	buf := make([]byte, 4096)
	for len(b) < maxHead && !bytes.Contains(b, []byte("\r\n\r\n")) {
		n, err := r.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// AddHost returns head with the Host and Connection lines inserted when it
// is a complete HTTP/1.1 request head without a Host line; else head as is.
func AddHost(head []byte) []byte {
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 {
		return head
	}
	lines := bytes.Split(head[:end], []byte("\r\n"))
	if !bytes.HasSuffix(lines[0], []byte(" HTTP/1.1")) {
		return head
	}
	for _, l := range lines[1:] {
		name, _, ok := bytes.Cut(l, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("host")) {
			return head
		}
	}
	first := len(lines[0]) + 2
	out := make([]byte, 0, len(head)+48)
	out = append(out, head[:first]...)
	out = append(out, "Host: 127.0.0.1\r\nConnection: close\r\n"...)
	return append(out, head[first:]...)
}
