package supervisor

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// A connect's filler (connect.go) is still queued when the pumps start:
// the outgoing pump drops exactly it, whatever the reads' boundaries, and
// the remote reads only what the program wrote.
func TestPumpDropsConnectFiller(t *testing.T) {
	so, prog, r, rwq := connectedTestStream(t)
	defer so.close()
	const fill = 70 << 10 // more than one read of the pump's buffer
	unix.SetNonblock(prog, false)
	go func() {
		unix.Write(prog, []byte(strings.Repeat("f", 3000)))
		so.mu.Lock()
		so.filler = fill
		so.claimStreamLocked()
		so.mu.Unlock()
		so.startStream()
		unix.Write(prog, []byte(strings.Repeat("f", fill-3000)+"hello"))
		unix.Close(prog)
	}()
	out := readToEOF(t, &socket{ep: r, wq: rwq})
	if string(out) != "hello" {
		t.Fatalf("the remote read %d bytes (%.20q…), want %q", len(out), out, "hello")
	}
}

// The program shuts down its writing side before the pump's first read:
// the read that finds only the filler is not the end, the EOF is.
func TestPumpSeesEOFAfterFiller(t *testing.T) {
	so, prog, r, rwq := connectedTestStream(t)
	defer so.close()
	unix.Write(prog, []byte("ffff"))
	unix.Shutdown(prog, unix.SHUT_WR)
	time.Sleep(20 * time.Millisecond) // the poller has seen the shutdown
	so.mu.Lock()
	so.filler = 4
	so.claimStreamLocked()
	so.mu.Unlock()
	so.startStream()
	rs := &socket{ep: r, wq: rwq}
	done := make(chan tcpip.Error, 1)
	go func() {
		_, terr := rs.epRead(make([]byte, 8))
		done <- terr
	}()
	select {
	case terr := <-done:
		if _, eof := terr.(*tcpip.ErrClosedForReceive); !eof {
			t.Fatalf("remote read: %v, want EOF", terr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the program's shutdown never reached the remote")
	}
}
