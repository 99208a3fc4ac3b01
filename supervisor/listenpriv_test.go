package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A private listener has no name anyone can connect to, leaves nothing on
// disk, and takes connections through its ref until it is closed.
func TestPrivateListener(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", t.TempDir())
	l, ref, err := privateListener(4)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.close()
	sa, err := unix.Getsockname(l)
	if err != nil {
		t.Fatal(err)
	}
	name := sa.(*unix.SockaddrUnix).Name
	if !strings.HasPrefix(name, os.Getenv("TMPDIR")+"/ztnc-") {
		t.Fatalf("bound to %q, want a path under $TMPDIR", name)
	}
	if _, err := os.Stat(filepath.Dir(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the private directory %s is still there (%v)", filepath.Dir(name), err)
	}
	if err := dialUnix(name); !errors.Is(err, unix.ENOENT) {
		t.Errorf("connect by name %q: %v, want ENOENT", name, err)
	}
	if err := dialUnix(listenPath(ref.fd)); err != nil {
		t.Fatalf("connect through the O_PATH ref: %v", err)
	}
	nfd, _, err := unix.Accept(l)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	unix.Close(nfd)
	unix.Close(l)
	if err := dialUnix(listenPath(ref.fd)); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("connect after the listener closed: %v, want ECONNREFUSED", err)
	}
}

// A directory whose path does not fit sun_path is skipped for the next.
func TestPrivateListenerLongTMPDIR(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", long)
	t.Setenv("TMPDIR", long)
	l, ref, err := privateListener(1)
	if _, serr := os.Stat("/dev/shm"); serr != nil {
		if err == nil || !strings.Contains(err.Error(), "longer than sun_path") {
			t.Fatalf("no /dev/shm: err %v, want one naming sun_path", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	defer ref.close()
	sa, _ := unix.Getsockname(l)
	if n := sa.(*unix.SockaddrUnix).Name; !strings.HasPrefix(n, "/dev/shm/ztnc-") {
		t.Errorf("bound to %q, want the /dev/shm fallback", n)
	}
	if err := dialUnix(listenPath(ref.fd)); err != nil {
		t.Errorf("connect through the ref: %v", err)
	}
}

func dialUnix(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Connect(fd, &unix.SockaddrUnix{Name: path})
}
