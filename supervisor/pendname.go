package supervisor

import (
	"os"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Each connection waiting in a program's accept queue is our AF_UNIX socket
// connected to the program's listener, and accept tells which by the name
// of that socket, which accept4 returns as the peer's address. The name is
// ours to choose in the abstract namespace: one bind, where autobind needed
// a getsockname after it to learn the name. Only the supervisor can connect
// to a program's listener (listenpriv.go), so a name need only be unique
// among our sockets; one another process took is skipped, and autobind is
// the fallback.

var pendingSeq atomic.Uint64

// pendingPrefix is "@ztnc.PID.": '@' stands for the abstract namespace's
// leading NUL in unix.SockaddrUnix. Supervisors of one network namespace
// differ by their pid.
var pendingPrefix = "@ztnc." + strconv.Itoa(os.Getpid()) + "."

// bindPendingName binds fd, a fresh AF_UNIX socket, to a unique name and
// returns the name as accept4 will report it.
func bindPendingName(fd int) (string, bool) {
	for range 3 {
		name := pendingPrefix + strconv.FormatUint(pendingSeq.Add(1), 36)
		err := rawBindUnix(fd, name)
		if err == nil {
			return name, true
		}
		if err != unix.EADDRINUSE {
			return "", false
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil {
		return "", false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", false
	}
	return sa.(*unix.SockaddrUnix).Name, true
}
