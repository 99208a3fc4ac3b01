package supervisor

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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
	// /proc/PID/mem ignores page protections (it is the debugger's door):
	// the kernel's own copy would fault on a page the program cannot read
	// (or write), so ask the program's memory map first.
	if !mapped(pid, addr, uint64(len(b)), write) {
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

// procmapQuery is struct procmap_query (Linux 6.11+, PROCMAP_QUERY ioctl on
// /proc/PID/maps): the mapping at an address, without reading the whole map.
type procmapQuery struct {
	Size, QueryFlags, QueryAddr                  uint64
	VMAStart, VMAEnd, VMAFlags, VMAPageSize      uint64
	VMAOffset, Inode                             uint64
	DevMajor, DevMinor, VMANameSize, BuildIDSize uint32
	VMANameAddr, BuildIDAddr                     uint64
}

const (
	procmapQueryIoctl = 0xc0686611 // _IOWR('f', 17, struct procmap_query)
	procmapReadable   = 0x01
	procmapWritable   = 0x02
)

// mapped reports whether [addr, addr+n) lies in mappings of pid that are
// readable (or writable, with write).
func mapped(pid int, addr, n uint64, write bool) bool {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/maps", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	want := uint64(procmapReadable)
	if write {
		want = procmapWritable
	}
	end := addr + n
	for at := addr; at < end; {
		q := procmapQuery{Size: uint64(unsafe.Sizeof(procmapQuery{})), QueryFlags: want, QueryAddr: at}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), procmapQueryIoctl, uintptr(unsafe.Pointer(&q)))
		if e == unix.ENOTTY || e == unix.EINVAL {
			return mappedText(fd, addr, end, write)
		}
		if e != 0 || q.VMAStart > at || q.VMAEnd <= at {
			return false
		}
		at = q.VMAEnd
	}
	return true
}

// mappedText is mapped for kernels before 6.11: it reads the map's text.
func mappedText(fd int, addr, end uint64, write bool) bool {
	var b []byte
	chunk := make([]byte, 64<<10)
	for len(b) < 64<<20 {
		n, err := unix.Read(fd, chunk)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		if n == 0 {
			break
		}
		b = append(b, chunk[:n]...)
	}
	perm := byte('r')
	col := 0
	if write {
		perm, col = 'w', 1
	}
	at := addr
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || len(f[1]) < 2 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		stop, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || stop <= at {
			continue
		}
		if start > at || f[1][col] != perm {
			return false
		}
		at = stop
		if at >= end {
			return true
		}
	}
	return false
}
