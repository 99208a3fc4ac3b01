package supervisor

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// fdInodeCopy must answer as fdInode does (the /proc walk it replaces where
// pidfd_getfd works), and its copy must be the very file.
func TestFdInodeCopyAgreesWithProc(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	closed, _ := unix.Dup(p[0])
	unix.Close(closed)
	pid := os.Getpid()
	for _, fd := range []uint64{uint64(pair[0]), uint64(p[1]), uint64(closed), 1 << 40} {
		ino, isSock, dup, e := fdInodeCopy(pid, fd)
		wIno, wSock, wE := fdInode(pid, fd)
		if ino != wIno || isSock != wSock || e != wE {
			t.Errorf("fd %d: fdInodeCopy %d %v %v, fdInode %d %v %v", fd, ino, isSock, e, wIno, wSock, wE)
		}
		if e != 0 && dup >= 0 {
			t.Errorf("fd %d: a copy (%d) with an error", fd, dup)
		}
		if dup >= 0 {
			var st unix.Stat_t
			unix.Fstat(dup, &st)
			if st.Ino != ino {
				t.Errorf("fd %d: copy has inode %d, want %d", fd, st.Ino, ino)
			}
		}
		closeCopy(dup)
	}
}

// blockWrites stops at its first short send: the program's end must then
// poll unwritable already, as after an EAGAIN.
func TestBlockWritesLeavesNoRoom(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	so := &socket{}
	if n := so.blockWrites(pair[0]); n == 0 {
		t.Fatal("blockWrites wrote nothing")
	}
	p := []unix.PollFd{{Fd: int32(pair[0]), Events: unix.POLLOUT}}
	if n, _ := unix.Poll(p, 0); n != 0 {
		t.Fatalf("the program's end polls %#x after blockWrites, want not writable", p[0].Revents)
	}
	if _, err := unix.SendmsgN(pair[0], []byte{1}, nil, nil, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Fatalf("a write after blockWrites: %v, want EAGAIN", err)
	}
}
