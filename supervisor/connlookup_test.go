package supervisor

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A call on the fd a connect was made with finds the socket by kcmp of that
// fd against the connect's copy, and only while it is the same file.
func TestConnectingLookup(t *testing.T) {
	s, _ := newTestSupervisor(t)
	so, prog := newTestStream(t, s)
	defer so.close()
	dup, err := unix.FcntlInt(uintptr(prog), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	pid := unix.Gettid()
	so.mu.Lock()
	so.state = stConnecting
	so.owner.pid, so.owner.fd = pid, prog
	so.setConnectingLocked(dup)
	so.mu.Unlock()
	if got := s.connectingLookup(pid, uint64(prog)); got != so {
		if kcmpOff.Load() {
			t.Skip("kcmp refused here")
		}
		t.Fatalf("the connecting fd: %p, want %p", got, so)
	}
	if got := s.connectingLookup(pid+1, uint64(prog)); got != nil {
		t.Fatal("another caller's fd matched")
	}
	// The number now names another file.
	other, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	saved, _ := unix.FcntlInt(uintptr(prog), unix.F_DUPFD_CLOEXEC, 0)
	unix.Dup3(other, prog, unix.O_CLOEXEC)
	unix.Close(other)
	if got := s.connectingLookup(pid, uint64(prog)); got != nil {
		t.Fatal("a reused fd number matched")
	}
	unix.Dup3(saved, prog, unix.O_CLOEXEC)
	unix.Close(saved)
	so.mu.Lock()
	so.setConnectingLocked(-1)
	so.mu.Unlock()
	if got := s.connectingLookup(pid, uint64(prog)); got != nil {
		t.Fatal("matched once the connect was over")
	}
	if n := len(s.connecting); n != 0 {
		t.Fatalf("%d connecting entries left", n)
	}
}
