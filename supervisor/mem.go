package supervisor

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Every pointer and length a supervised program passes is untrusted: a bad
// one becomes EFAULT for the program, never a fault of ours.

// maxCopy bounds what we copy in or out for one call (a UDP datagram is at
// most 64 KiB; iovec arrays and socket options are far smaller).
const maxCopy = 1 << 20

func readMem(pid int, addr uint64, n int) ([]byte, unix.Errno) {
	if n == 0 {
		return nil, 0
	}
	if n < 0 || n > maxCopy {
		return nil, unix.EINVAL
	}
	if addr == 0 {
		return nil, unix.EFAULT
	}
	b := make([]byte, n)
	if !fastMem() {
		return b, procMem(pid, addr, b, false)
	}
	got := 0
	for got < n {
		local := []unix.Iovec{{Base: &b[got], Len: uint64(n - got)}}
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(got), Len: n - got}}
		m, err := rawProcessVM(unix.SYS_PROCESS_VM_READV, pid, local, remote)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			if err == unix.ESRCH {
				return nil, unix.ESRCH
			}
			return nil, unix.EFAULT
		}
		if m == 0 {
			return nil, unix.EFAULT
		}
		got += m
	}
	return b, 0
}

func writeMem(pid int, addr uint64, b []byte) unix.Errno {
	if len(b) == 0 {
		return 0
	}
	if addr == 0 {
		return unix.EFAULT
	}
	if !fastMem() {
		return procMem(pid, addr, b, true)
	}
	put := 0
	for put < len(b) {
		local := []unix.Iovec{{Base: &b[put], Len: uint64(len(b) - put)}}
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(put), Len: len(b) - put}}
		m, err := rawProcessVM(unix.SYS_PROCESS_VM_WRITEV, pid, local, remote)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return unix.EFAULT
		}
		if m == 0 {
			return unix.EFAULT
		}
		put += m
	}
	return 0
}

// writeMem2 writes a at addrA, then b at addrB, as writeMem would one after
// the other (stopping at the first that faults), in one system call when it
// can.
func writeMem2(pid int, addrA uint64, a []byte, addrB uint64, b []byte) unix.Errno {
	if fastMem() && len(a) > 0 && len(b) > 0 && addrA != 0 && addrB != 0 {
		local := []unix.Iovec{{Base: &a[0], Len: uint64(len(a))}, {Base: &b[0], Len: uint64(len(b))}}
		remote := []unix.RemoteIovec{{Base: uintptr(addrA), Len: len(a)}, {Base: uintptr(addrB), Len: len(b)}}
		if m, err := rawProcessVM(unix.SYS_PROCESS_VM_WRITEV, pid, local, remote); err == nil && m == len(a)+len(b) {
			return 0
		}
		// A fault or a short write: one at a time says which, and writes
		// what the kernel would have.
	}
	if e := writeMem(pid, addrA, a); e != 0 {
		return e
	}
	return writeMem(pid, addrB, b)
}

func readU32(pid int, addr uint64) (uint32, unix.Errno) {
	b, e := readMem(pid, addr, 4)
	if e != 0 {
		return 0, e
	}
	return binary.LittleEndian.Uint32(b), 0
}

func writeU32(pid int, addr uint64, v uint32) unix.Errno {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return writeMem(pid, addr, b[:])
}

// userTop is the end of x86-64 user space: the kernel's access_ok refuses
// any range reaching past it with EFAULT, before touching memory.
const userTop = 0x7ffffffff000

func accessOK(addr, n uint64) bool {
	return n == 0 || (addr+n >= addr && addr+n <= userTop)
}

// iovec is struct iovec as the program laid it out.
type iovec struct{ base, len uint64 }

// readIovecs reads n struct iovec at addr (at most IOV_MAX, as the kernel).
func readIovecs(pid int, addr uint64, n uint64) ([]iovec, unix.Errno) {
	if n > 1024 {
		return nil, unix.EMSGSIZE
	}
	if n == 0 {
		return nil, 0
	}
	b, e := readMem(pid, addr, int(n)*16)
	if e != 0 {
		return nil, e
	}
	v := make([]iovec, n)
	for i := range v {
		v[i] = iovec{binary.LittleEndian.Uint64(b[i*16:]), binary.LittleEndian.Uint64(b[i*16+8:])}
		if int64(v[i].len) < 0 {
			return nil, unix.EINVAL
		}
		if !accessOK(v[i].base, v[i].len) {
			return nil, unix.EFAULT
		}
	}
	return v, 0
}

// gather reads the bytes the iovecs describe, at most limit of them.
func gather(pid int, v []iovec, limit int) ([]byte, unix.Errno) {
	var out []byte
	for _, io := range v {
		n := io.len
		if n == 0 {
			continue
		}
		if room := uint64(limit - len(out)); n > room {
			n = room
		}
		b, e := readMem(pid, io.base, int(n))
		if e != 0 {
			return nil, e
		}
		out = append(out, b...)
		if len(out) >= limit {
			break
		}
	}
	return out, 0
}

// scatter writes b into the iovecs; it returns how much fitted.
func scatter(pid int, v []iovec, b []byte) (int, unix.Errno) {
	done := 0
	for _, io := range v {
		if done == len(b) {
			break
		}
		n := int(min(io.len, uint64(len(b)-done)))
		if e := writeMem(pid, io.base, b[done:done+n]); e != 0 {
			return done, e
		}
		done += n
	}
	return done, 0
}

// iovLen is the iovecs' total length, saturated at maxCopy.
func iovLen(v []iovec) int {
	var t uint64
	for _, io := range v {
		t += min(io.len, maxCopy)
		if t > maxCopy {
			return maxCopy
		}
	}
	return int(t)
}
