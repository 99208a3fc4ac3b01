package supervisor

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Docker's default seccomp profile allows process_vm_readv/writev and
// pidfd_getfd only to containers with CAP_SYS_PTRACE. Without them the
// supervisor reads and writes the programs' memory through /proc/PID/mem
// (the same ptrace access check: same user, and ztnc-run is the programs'
// ancestor), and keeps its own copy of the sockets it will need to work on
// (see held in fds.go). Each is probed once; the fast path stays where allowed.

var fastMem = sync.OnceValue(func() bool {
	if forcedSlowPath() {
		return false
	}
	a, b := []byte{1}, []byte{0}
	_, err := unix.ProcessVMReadv(unix.Getpid(),
		[]unix.Iovec{{Base: &b[0], Len: 1}}, []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&a[0])), Len: 1}}, 0)
	runtime.KeepAlive(a)
	return err == nil && b[0] == 1
})

// fastFDs reports whether pidfd_getfd works here.
var fastFDs = sync.OnceValue(func() bool {
	if forcedSlowPath() {
		return false
	}
	p, err := unix.PidfdOpen(unix.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(p)
	fd, err := unix.PidfdGetfd(p, 0, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// forcedSlowPath: ZTNC_SLOW_PATH=1 takes the paths a container without
// CAP_SYS_PTRACE needs, so that the tests can run them on any host.
func forcedSlowPath() bool { return os.Getenv("ZTNC_SLOW_PATH") == "1" }

// procMem reads (or, with write, writes) b at addr in pid's memory through
// /proc/PID/mem. A fresh open per call: a cached one would outlive an exec
// or a reused pid.
func procMem(pid int, addr uint64, b []byte, write bool) unix.Errno {
	if addr == 0 || !accessOK(addr, uint64(len(b))) {
		return unix.EFAULT
	}
	mode := unix.O_RDONLY
	if write {
		mode = unix.O_WRONLY
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/mem", pid), mode|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return unix.ESRCH
		}
		return unix.EFAULT
	}
	defer unix.Close(fd)
	done := 0
	for done < len(b) {
		var n int
		if write {
			n, err = unix.Pwrite(fd, b[done:], int64(addr)+int64(done))
		} else {
			n, err = unix.Pread(fd, b[done:], int64(addr)+int64(done))
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return unix.EFAULT
		}
		done += n
	}
	return 0
}
