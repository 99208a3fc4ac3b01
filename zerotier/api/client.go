package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Home-directory files the API and CLI share with ZeroTier One.
const (
	PortFile  = "zerotier-one.port"
	TokenFile = "authtoken.secret"
)

// ErrNoPort / ErrNoToken say which home file the CLI could not use.
var (
	ErrNoPort  = errors.New("missing port and zerotier-one.port not found")
	ErrNoToken = errors.New("authtoken.secret not found or readable")
)

// ReadPort reads home/zerotier-one.port.
func ReadPort(home string) (int, error) {
	b, err := os.ReadFile(filepath.Join(home, PortFile))
	if err != nil {
		return 0, fmt.Errorf("%w in %s: %w", ErrNoPort, home, err)
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || p <= 0 || p > 0xffff {
		return 0, fmt.Errorf("%w in %s: bad content %q", ErrNoPort, home, b)
	}
	return p, nil
}

// ReadToken reads home/authtoken.secret (trimmed).
func ReadToken(home string) (string, error) {
	b, err := os.ReadFile(filepath.Join(home, TokenFile))
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("%w in %s", ErrNoToken, home)
	}
	return strings.TrimSpace(string(b)), nil
}

// Client talks to a node's local API.
type Client struct {
	Host  string // default 127.0.0.1
	Port  int
	Token string
	HTTP  *http.Client
}

// Get performs an authenticated GET and returns the status and body. A
// transport failure is an error; any HTTP status is not.
func (c *Client) Get(path string) (int, []byte, error) {
	return c.Do(http.MethodGet, path, nil)
}

// Do performs an authenticated request with an optional JSON body.
func (c *Client) Do(method, path string, body []byte) (int, []byte, error) {
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+net.JoinHostPort(host, strconv.Itoa(c.Port))+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("api: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-ZT1-Auth", c.Token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("api: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("api: read %s: %w", path, err)
	}
	return resp.StatusCode, out, nil
}
