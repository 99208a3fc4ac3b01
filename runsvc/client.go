package runsvc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"ztnc/netjoin"
)

// ErrNoService: no service runs in HOME (no socket, or a stale one).
var ErrNoService = errors.New("no service in HOME")

// Client is ztnc-run's connection to the service, one per program.
type Client struct {
	fd int
}

// Dial connects to the service in home.
func Dial(home string) (*Client, error) {
	path := Path(home)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoService
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("runsvc: socket: %w", err)
	}
	sa, release, err := sockAddr(path)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	err = unix.Connect(fd, sa)
	release()
	if err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ECONNREFUSED):
			return nil, ErrNoService // left by a service that died
		case errors.Is(err, unix.EACCES):
			return nil, fmt.Errorf("the service socket %s belongs to another user: %w", path, err)
		}
		return nil, fmt.Errorf("connecting to the service at %s: %w", path, err)
	}
	return &Client{fd: fd}, nil
}

// Close ends the connection.
func (c *Client) Close() { unix.Close(c.fd) }

// Join asks for the networks and returns the node's addresses on them once
// each has one. progress is called with the node's address (nwid "") and
// with each network's state as it changes. When ctx ends first, the error
// wraps netjoin.ErrWait and names each network's last state.
func (c *Client) Join(ctx context.Context, nwids []uint64, progress func(node, nwid, state string)) ([]netip.Prefix, error) {
	req := &Msg{}
	states := map[string]string{}
	for _, id := range nwids {
		s := fmt.Sprintf("%016x", id)
		req.Nwids = append(req.Nwids, s)
		states[s] = "requesting configuration…"
	}
	if err := send(c.fd, req); err != nil {
		return nil, fmt.Errorf("asking the service: %w", err)
	}
	// recv blocks; ending ctx shuts the socket down, which wakes it.
	stop := context.AfterFunc(ctx, func() { unix.Shutdown(c.fd, unix.SHUT_RDWR) })
	defer stop()
	node := ""
	for {
		m, fds, err := recv(c.fd)
		closeAll(fds)
		if ctx.Err() != nil {
			var pending []string
			for id, st := range states {
				pending = append(pending, id+": "+st)
			}
			sort.Strings(pending)
			return nil, fmt.Errorf("%w: %s", netjoin.ErrWait, strings.Join(pending, "; "))
		}
		if err != nil {
			return nil, fmt.Errorf("the service closed the connection: %w", err)
		}
		switch {
		case m.Error != "":
			return nil, fmt.Errorf("the service: %s", m.Error)
		case m.Node != "":
			node = m.Node
			progress(node, "", "")
		case m.Nwid != "":
			if _, ok := states[m.Nwid]; ok {
				states[m.Nwid] = m.State
				progress(node, m.Nwid, m.State)
			}
		case m.Addrs != nil:
			var out []netip.Prefix
			for _, a := range m.Addrs {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					return nil, fmt.Errorf("the service sent a bad address %q", a)
				}
				out = append(out, p)
			}
			return out, nil
		}
	}
}

// Hand gives the service the program's seccomp listener and waits until it
// is being served. The caller still owns (and should close) lfd.
func (c *Client) Hand(lfd int) error {
	if err := send(c.fd, &Msg{Listener: true}, lfd); err != nil {
		return fmt.Errorf("handing the listener to the service: %w", err)
	}
	m, fds, err := recv(c.fd)
	closeAll(fds)
	if err != nil {
		return fmt.Errorf("the service closed the connection: %w", err)
	}
	if m.Error != "" {
		return fmt.Errorf("the service: %s", m.Error)
	}
	if !m.Serving {
		return errors.New("the service did not take the listener")
	}
	return nil
}

// Wait blocks until the service says the program is gone or the
// connection ends (the service stopped); it reports which.
func (c *Client) Wait() (done bool) {
	for {
		m, fds, err := recv(c.fd)
		closeAll(fds)
		if err != nil {
			return false
		}
		if m.Done {
			return true
		}
	}
}
