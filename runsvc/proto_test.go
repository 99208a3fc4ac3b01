package runsvc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMessages: a message and its fd cross a SOCK_SEQPACKET pair intact,
// and a closed peer reads as errClosed.
func TestMessages(t *testing.T) {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	r, w, _ := pipe(t)
	defer unix.Close(r)
	if err := send(p[0], &Msg{Listener: true, Nwids: []string{"0123456789abcdef"}}, w); err != nil {
		t.Fatal(err)
	}
	unix.Close(w)
	m, fds, err := recv(p[1])
	if err != nil || !m.Listener || len(m.Nwids) != 1 || len(fds) != 1 {
		t.Fatalf("recv: %+v %v %v", m, fds, err)
	}
	unix.Write(fds[0], []byte("x"))
	var b [1]byte
	if n, _ := unix.Read(r, b[:]); n != 1 || b[0] != 'x' {
		t.Fatal("the fd received is not the pipe sent")
	}
	unix.Close(fds[0])
	unix.Close(p[0])
	if _, _, err := recv(p[1]); err != errClosed {
		t.Fatalf("recv after close: %v, want errClosed", err)
	}
}

func pipe(t *testing.T) (int, int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return p[0], p[1], nil
}

// FuzzDecode: any bytes from the socket give a message or an error, and a
// message survives a round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"nwids":["0123456789abcdef"]}`))
	f.Add([]byte(`{"addrs":["10.0.0.1/24"],"error":""}`))
	f.Add([]byte(`{"listener":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decode(again); err != nil {
			t.Fatal(err)
		}
		parseNwids(m.Nwids)
	})
}

// TestLongPath: a socket whose path is longer than sun_path holds is bound
// and reached through its directory's fd.
func TestLongPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 150 {
		dir = filepath.Join(dir, "a-rather-long-directory-name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SockName)
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	sa, release, err := sockAddr(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(l, sa); err != nil {
		t.Fatalf("bind %d-byte path: %v", len(path), err)
	}
	release()
	unix.Listen(l, 1)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the socket is not at %s: %v", path, err)
	}
	c, err := Dial(dir)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
}
