package supervisor

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// progCreds are a supervised thread's ids and groups: what the kernel gives
// an AF_UNIX peer (SO_PEERCRED the effective ids, SCM_CREDENTIALS the real
// ones) and checks a socket path's permissions against.
type progCreds struct {
	ruid, euid, rgid, egid int
	groups                 []int
}

// readCreds reads tid's credentials from /proc.
func readCreds(tid int) (progCreds, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return progCreds{}, fmt.Errorf("credentials of %d: %w", tid, err)
	}
	var cr progCreds
	seen := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		switch k {
		case "Uid", "Gid":
			if len(f) < 2 {
				return progCreds{}, fmt.Errorf("credentials of %d: bad %s line %q", tid, k, line)
			}
			r, err1 := strconv.Atoi(f[0])
			e, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				return progCreds{}, fmt.Errorf("credentials of %d: bad %s line %q", tid, k, line)
			}
			if k == "Uid" {
				cr.ruid, cr.euid = r, e
			} else {
				cr.rgid, cr.egid = r, e
			}
			seen++
		case "Groups":
			for _, s := range f {
				g, err := strconv.Atoi(s)
				if err != nil {
					return progCreds{}, fmt.Errorf("credentials of %d: %w", tid, err)
				}
				cr.groups = append(cr.groups, g)
			}
		}
	}
	if seen != 2 {
		return progCreds{}, fmt.Errorf("credentials of %d: no Uid/Gid lines", tid)
	}
	return cr, nil
}

// mine reports whether cr are the supervisor's own credentials.
func (cr progCreds) mine() bool {
	if cr.ruid != os.Getuid() || cr.euid != os.Geteuid() || cr.rgid != os.Getgid() || cr.egid != os.Getegid() {
		return false
	}
	own, err := unix.Getgroups()
	if err != nil {
		return false
	}
	a, b := slices.Clone(own), slices.Clone(cr.groups)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// asProgram runs f, a socket call the supervisor does for a program, with
// the program's credentials, so that an AF_UNIX peer sees (and the kernel
// checks) the program's ids, not ztnc-run's: a root ztnc-run must not lend
// root to a program that dropped it. The switch is per thread (raw
// syscalls on a locked thread; the Go runtime never clones new threads
// from a locked one). When the supervisor cannot take the credentials
// (it is not root), the call is refused with EACCES rather than done with
// others.
func asProgram(cr progCreds, f func() unix.Errno) unix.Errno {
	if cr.mine() {
		return f()
	}
	runtime.LockOSThread()
	ruid, euid, rgid, egid := os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid()
	groups, err := unix.Getgroups()
	if err != nil {
		runtime.UnlockOSThread()
		return unix.EACCES
	}
	restore := func() bool {
		// The uid first: back to euid 0, the effective capabilities
		// return, which the gid and groups need.
		return setresuid(ruid, euid) == 0 && setresgid(rgid, egid) == 0 && setgroups(groups) == 0
	}
	if setgroups(cr.groups) != 0 || setresgid(cr.rgid, cr.egid) != 0 || setresuid(cr.ruid, cr.euid) != 0 {
		if restore() {
			runtime.UnlockOSThread()
		} // else the thread stays locked and dies with this goroutine
		return unix.EACCES
	}
	e := f()
	if restore() {
		runtime.UnlockOSThread()
	}
	return e
}

// setresuid sets this thread's real and effective uid; the saved one (the
// supervisor's) stays, so the switch can be undone.
func setresuid(ruid, euid int) unix.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(ruid), uintptr(euid), ^uintptr(0))
	return e
}

func setresgid(rgid, egid int) unix.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(rgid), uintptr(egid), ^uintptr(0))
	return e
}

// setgroups sets this thread's supplementary groups.
func setgroups(groups []int) unix.Errno {
	g := make([]uint32, len(groups))
	for i, x := range groups {
		g[i] = uint32(x)
	}
	var p uintptr
	if len(g) > 0 {
		p = uintptr(unsafe.Pointer(&g[0]))
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(g)), p, 0)
	runtime.KeepAlive(g)
	return e
}
