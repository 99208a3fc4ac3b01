package supervisor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func closedWithin(so *socket, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Millisecond) {
		so.mu.Lock()
		closed := so.state == stClosed
		so.mu.Unlock()
		if closed {
			return true
		}
	}
	return false
}

// The program's closing a socket it never connected releases it (the peer
// poller sees the hang-up); while a pump reads, the hang-up is the pump's.
func TestHangupReleasesSocket(t *testing.T) {
	s, _ := newTestSupervisor(t)
	so, prog := newTestStream(t, s)
	unix.Close(prog)
	if !closedWithin(so, 5*time.Second) {
		t.Fatal("a socket the program closed is still open")
	}
	s.mu.Lock()
	n := len(s.socks)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d sockets known after the hang-up", n)
	}

	so, prog = newTestStream(t, s)
	so.mu.Lock()
	so.reading = true
	so.mu.Unlock()
	unix.Close(prog)
	if closedWithin(so, 50*time.Millisecond) {
		t.Fatal("the hang-up closed a socket whose pump still reads")
	}
	so.close()
}
