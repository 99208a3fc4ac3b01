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

// memWrite is one piece of a writeMemV: b goes to addr.
type memWrite struct {
	addr uint64
	b    []byte
}

// maxMemWrites is how many pieces writeMemV writes with one system call.
const maxMemWrites = 8

// writeMemV writes the pieces in order as writeMem would one after the
// other (stopping at the first that faults), in one system call when it
// can: a datagram's recvmsg answer is its data, name, name length, control
// messages and flags.
func writeMemV(pid int, w []memWrite) unix.Errno {
	if fastMem() && len(w) <= maxMemWrites {
		var local [maxMemWrites]unix.Iovec
		var remote [maxMemWrites]unix.RemoteIovec
		n, total, ok := 0, 0, true
		for _, p := range w {
			if len(p.b) == 0 {
				continue
			}
			if p.addr == 0 {
				ok = false
				break
			}
			local[n] = unix.Iovec{Base: &p.b[0], Len: uint64(len(p.b))}
			remote[n] = unix.RemoteIovec{Base: uintptr(p.addr), Len: len(p.b)}
			n, total = n+1, total+len(p.b)
		}
		if ok && n == 0 {
			return 0
		}
		if ok {
			if m, err := rawProcessVM(unix.SYS_PROCESS_VM_WRITEV, pid, local[:n], remote[:n]); err == nil && m == total {
				return 0
			}
		}
		// A fault or a short write: one at a time says which, and writes
		// what the kernel would have.
	}
	for _, p := range w {
		if e := writeMem(pid, p.addr, p.b); e != 0 {
			return e
		}
	}
	return 0
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

// scatterPieces appends to w the pieces that lay b out over v, as scatter
// writes them, and returns how many bytes they hold.
func scatterPieces(w []memWrite, v []iovec, b []byte) ([]memWrite, int) {
	done := 0
	for _, io := range v {
		if done == len(b) {
			break
		}
		n := int(min(io.len, uint64(len(b)-done)))
		w = append(w, memWrite{io.base, b[done : done+n]})
		done += n
	}
	return w, done
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
