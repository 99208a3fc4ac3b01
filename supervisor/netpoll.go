package supervisor

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The supervisor's long waits (for the next trapped call, for hang-ups) go
// through Go's poller, not a blocking poll(2) or epoll_wait(2). A goroutine
// blocked in a system call holds its thread in a state the runtime's monitor
// keeps checking: every wake-up of such a wait had the monitor take the
// processor away and hand it to another thread, and the monitor itself woke
// every 20 µs while that went on. Node A of a new-connection benchmark saw
// 3.8 monitor wake-ups per connection, half its thread switches.

// pollable makes fd non-blocking and hands it to a file, which owns it from
// then on (the file must stay reachable: its finalizer closes fd), for waits
// in Go's poller.
func pollable(fd int, name string) (*os.File, syscall.RawConn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, nil, fmt.Errorf("%s: non-blocking: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, rc, nil
}
