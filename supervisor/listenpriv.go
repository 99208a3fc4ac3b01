package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// A program's listening socket is an AF_UNIX listener that the supervisor
// connects to, once per accepted connection. Bound to an abstract name it
// would be open to every process of the network namespace, of any uid,
// bypassing the virtual network; so it is bound to a path in a fresh 0700
// directory, opened O_PATH, and the path is unlinked (and the directory
// removed) before listen(): there is never a name anyone can connect to.
// The supervisor connects through "/proc/self/fd/N", which reaches the
// socket file's inode, and so the socket, without a name.

// listenRef is the supervisor's way into a program's listening socket: an
// O_PATH descriptor of its unlinked socket file.
type listenRef struct {
	fd   int
	path string // listenPath(fd), made once: every connection connects to it
}

// procFDDir is "/proc/PID/fd/" for the supervisor, its pid as /proc has
// it: the kernel then walks no /proc/self link on each connect (~0.7 µs of
// its ~5 on the benchmark VM).
var procFDDir = sync.OnceValue(func() string {
	if pid, err := os.Readlink("/proc/self"); err == nil {
		return "/proc/" + pid + "/fd/"
	}
	return "/proc/self/fd/"
})

// listenPath is where to connect to reach the listener through fd, a copy
// of listenRef.fd that the caller keeps open until connect returns.
func listenPath(fd int) string { return procFDDir() + strconv.Itoa(fd) }

// privateDirs are the directories tried, in order, for the short-lived
// socket file: a FROM scratch container has no /tmp, but Docker gives it a
// /dev/shm.
func privateDirs() []string {
	var ds []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		ds = append(ds, d)
	}
	return append(ds, os.TempDir(), "/dev/shm")
}

// maxSunPath is sun_path's size less its terminating NUL.
const maxSunPath = len(unix.RawSockaddrUnix{}.Path) - 1

// privateListener returns a listening AF_UNIX socket that only the holder
// of ref can connect to.
func privateListener(backlog int) (l int, ref *listenRef, err error) {
	var errs []error
	for _, base := range privateDirs() {
		l, ref, err := privateListenerIn(base, backlog)
		if err == nil {
			return l, ref, nil
		}
		errs = append(errs, err)
	}
	return -1, nil, fmt.Errorf("no directory for a private listener (set TMPDIR): %w", errors.Join(errs...))
}

func privateListenerIn(base string, backlog int) (int, *listenRef, error) {
	dir, err := os.MkdirTemp(base, "ztnc-")
	if err != nil {
		return -1, nil, err
	}
	defer os.Remove(dir)
	p := filepath.Join(dir, "l")
	if len(p) > maxSunPath {
		return -1, nil, fmt.Errorf("%s: longer than sun_path", p)
	}
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, *listenRef, error) {
		unix.Close(l)
		unix.Unlink(p)
		return -1, nil, fmt.Errorf("%s %s: %w", what, p, err)
	}
	if err := unix.Bind(l, &unix.SockaddrUnix{Name: p}); err != nil {
		return fail("bind", err)
	}
	ref, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fail("open", err)
	}
	if err := unix.Unlink(p); err != nil {
		unix.Close(ref)
		return fail("unlink", err)
	}
	if err := unix.Listen(l, max(backlog, 1)); err != nil {
		unix.Close(ref)
		return fail("listen", err)
	}
	return l, &listenRef{fd: ref, path: listenPath(ref)}, nil
}

// close drops the way in; the listener itself lives as long as the program
// keeps it open.
func (r *listenRef) close() {
	if r != nil {
		unix.Close(r.fd)
	}
}
