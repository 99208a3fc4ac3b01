// Package runsvc is the shared service's door for ztnc-run: a Unix socket in
// HOME (mode 0600, only the service's own uid is served) through which
// ztnc-run asks for networks and hands over the seccomp listener of the
// program it starts, so that every program started that way shares the
// service's node, its address on each network and its virtual loopback.
//
// One SOCK_SEQPACKET connection per program, one JSON message per packet:
//
//	ztnc-run → service  {"nwids":["…"]}
//	service → ztnc-run  {"node":"<address>"}, then {"nwid":"…","state":"…"} as
//	                    each network's state changes, then {"addrs":[…]} or {"error":"…"}
//	ztnc-run → service  {"listener":true} with the listener fd (SCM_RIGHTS)
//	service → ztnc-run  {"serving":true}; {"done":true} once no process of
//	                    the program is left, and the service closes the connection.
//
// The service needs no pid from ztnc-run: the kernel gives each trapped
// call's pid in the service's own pid namespace, which is what
// process_vm_readv and pidfd_getfd want, and SO_PEERCRED says who connected.
package runsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// SockName is the socket's name in HOME.
const SockName = "ztnc-run.sock"

// Path is the socket of the service in home.
func Path(home string) string { return filepath.Join(home, SockName) }

// Msg is every message either way; each sets only its own fields.
type Msg struct {
	Nwids    []string `json:"nwids,omitempty"`
	Node     string   `json:"node,omitempty"`
	Nwid     string   `json:"nwid,omitempty"`
	State    string   `json:"state,omitempty"`
	Addrs    []string `json:"addrs,omitempty"`
	Error    string   `json:"error,omitempty"`
	Listener bool     `json:"listener,omitempty"`
	Serving  bool     `json:"serving,omitempty"`
	Done     bool     `json:"done,omitempty"`
}

// maxMsg bounds one message (a few hundred bytes in practice).
const maxMsg = 64 << 10

func send(fd int, m *Msg, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, b, oob, nil, unix.MSG_NOSIGNAL)
}

// errClosed: the other side closed the connection.
var errClosed = errors.New("connection closed")

// recv reads one message and the fds that came with it (close-on-exec).
func recv(fd int) (*Msg, []int, error) {
	buf, oob := make([]byte, maxMsg), make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	if oobn > 0 {
		cms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for i := range cms {
				if f, err := unix.ParseUnixRights(&cms[i]); err == nil {
					fds = append(fds, f...)
				}
			}
		}
	}
	if n == 0 {
		closeAll(fds)
		return nil, nil, errClosed
	}
	m, err := decode(buf[:n])
	if err != nil {
		closeAll(fds)
		return nil, nil, err
	}
	return m, fds, nil
}

// decode parses one message.
func decode(b []byte) (*Msg, error) {
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("runsvc: bad message: %w", err)
	}
	return &m, nil
}

func closeAll(fds []int) {
	for _, f := range fds {
		unix.Close(f)
	}
}

// sockAddr is the address for the socket at path. sun_path holds 107
// bytes; a longer path (a deep HOME) is reached through an O_PATH fd of
// its directory, /proc/self/fd/N/name, which release closes.
func sockAddr(path string) (*unix.SockaddrUnix, func(), error) {
	if len(path) < 100 {
		return &unix.SockaddrUnix{Name: path}, func() {}, nil
	}
	dfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("runsvc: %w", err)
	}
	name := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, filepath.Base(path))
	return &unix.SockaddrUnix{Name: name}, func() { unix.Close(dfd) }, nil
}
