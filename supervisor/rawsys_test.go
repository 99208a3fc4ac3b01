package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw calls must give what x/sys/unix's own calls give: names as
// x/sys spells them (a leading '@' for the abstract namespace), the same
// errors, the same values.

func TestRawUnixListenConnectAccept(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, client string }{
		{"abstract", fmt.Sprintf("@ztnc-rawtest.%d.c", os.Getpid())},
		{"path", filepath.Join(dir, "client.sock")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(l)
			lpath := filepath.Join(dir, tc.name+".listen")
			if err := rawBindUnix(l, lpath); err != nil {
				t.Fatalf("bind listener: %v", err)
			}
			// As privateListener keeps it: an O_PATH fd of the socket file.
			ref, err := unix.Open(lpath, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(ref)
			if err := unix.Listen(l, 1); err != nil {
				t.Fatal(err)
			}
			if _, _, err := rawAcceptUnix(l, unix.SOCK_CLOEXEC); err != unix.EAGAIN {
				t.Fatalf("accept on an empty queue: %v, want EAGAIN", err)
			}
			c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(c)
			if err := rawBindUnix(c, tc.client); err != nil {
				t.Fatalf("bind client: %v", err)
			}
			if _, err := os.Lstat(tc.client); (err == nil) != (tc.name == "path") {
				t.Fatalf("after bind to %q: stat %v (an abstract name has no file)", tc.client, err)
			}
			other, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(other)
			if err := rawBindUnix(other, tc.client); err != unix.EADDRINUSE {
				t.Fatalf("a second socket bound to the name: %v, want EADDRINUSE", err)
			}
			// As enqueue does: through /proc/self/fd, the listener's path.
			if err := rawConnectUnix(c, listenPath(ref)); err != nil {
				t.Fatalf("connect: %v", err)
			}
			nfd, peer, err := rawAcceptUnix(l, unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			defer rawClose(nfd)
			sa, err := unix.Getsockname(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := sa.(*unix.SockaddrUnix).Name; peer != want || peer != tc.client {
				t.Fatalf("accepted peer %q, getsockname %q, bound %q", peer, want, tc.client)
			}
			fl, err := rawGetfl(nfd)
			if err != nil || fl&unix.O_NONBLOCK != 0 {
				t.Fatalf("accepted fd flags %#x, %v: want blocking", fl, err)
			}
			if err := rawSetfl(nfd, unix.O_NONBLOCK); err != nil {
				t.Fatal(err)
			}
			if fl, _ := unix.FcntlInt(uintptr(nfd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
				t.Fatal("F_SETFL O_NONBLOCK did not take")
			}
			var st, want unix.Stat_t
			if err := rawFstat(nfd, &st); err != nil {
				t.Fatal(err)
			}
			unix.Fstat(nfd, &want)
			if st.Ino != want.Ino || st.Mode != want.Mode {
				t.Fatalf("fstat ino %d mode %o, want %d %o", st.Ino, st.Mode, want.Ino, want.Mode)
			}
		})
	}
	if err := rawBindUnix(-1, "@x"); err != unix.EBADF {
		t.Fatalf("bind on fd -1: %v, want EBADF", err)
	}
	long := string(bytes.Repeat([]byte("x"), 200))
	if err := rawConnectUnix(0, long); err != unix.EINVAL {
		t.Fatalf("connect to a name too long: %v, want EINVAL", err)
	}
}

func TestRawStreamCalls(t *testing.T) {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := p[0], p[1]
	defer unix.Close(a)
	defer unix.Close(b)
	buf := make([]byte, 16)
	if _, err := rawRead(b, buf); err != unix.EAGAIN {
		t.Fatalf("read of nothing: %v, want EAGAIN", err)
	}
	pfd := []unix.PollFd{{Fd: int32(b), Events: unix.POLLIN}}
	if n, err := rawPollNow(pfd); n != 0 || err != nil {
		t.Fatalf("poll of nothing: %d %v", n, err)
	}
	if n, err := rawWrite(a, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if n, err := rawPollNow(pfd); n != 1 || pfd[0].Revents&unix.POLLIN == 0 || err != nil {
		t.Fatalf("poll: %d %#x %v", n, pfd[0].Revents, err)
	}
	if n, err := rawRead(b, buf); string(buf[:n]) != "hello" || err != nil {
		t.Fatalf("read %q %v", buf[:n], err)
	}

	// The connect filler's calls: shrink the buffer, send until full.
	v, err := rawGetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if want, _ := unix.GetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF); err != nil || v != want {
		t.Fatalf("SO_SNDBUF %d %v, want %d", v, err, want)
	}
	if err := rawSetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, 1); err != nil {
		t.Fatal(err)
	}
	if v2, _ := unix.GetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF); v2 >= v {
		t.Fatalf("SO_SNDBUF %d after setting 1, was %d", v2, v)
	}
	sent := 0
	for {
		n, err := rawSendNoWait(a, filler[:])
		sent += n
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		if sent > 1<<20 {
			t.Fatal("a 1-byte send buffer took 1 MiB")
		}
	}
	if sent == 0 {
		t.Fatal("nothing sent")
	}

	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, b, &unix.EpollEvent{Events: unix.EPOLLRDHUP, Fd: int32(b)}); err != nil {
		t.Fatal(err)
	}
	evs := make([]unix.EpollEvent, 4)
	if n, err := rawEpollWaitNow(ep, evs); n != 0 || err != nil {
		t.Fatalf("epoll before shutdown: %d %v", n, err)
	}
	if err := rawShutdown(a, unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	if n, err := rawEpollWaitNow(ep, evs); n != 1 || evs[0].Events&unix.EPOLLRDHUP == 0 || err != nil {
		t.Fatalf("epoll after shutdown: %d %#x %v", n, evs[0].Events, err)
	}
	if _, err := rawWrite(-1, buf); err != unix.EBADF {
		t.Fatalf("write to fd -1: %v", err)
	}
	if err := rawClose(-1); err != unix.EBADF {
		t.Fatalf("close of fd -1: %v", err)
	}
}

func TestRawProcessVM(t *testing.T) {
	src := []byte("process memory")
	dst := make([]byte, len(src))
	local := []unix.Iovec{{Base: &dst[0], Len: uint64(len(dst))}}
	// Our own memory, through the calls readMem and writeMem make.
	remote := []unix.RemoteIovec{{Base: uintptrOf(src), Len: len(src)}}
	n, err := rawProcessVM(unix.SYS_PROCESS_VM_READV, os.Getpid(), local, remote)
	if err != nil || n != len(src) || !bytes.Equal(dst, src) {
		t.Fatalf("process_vm_readv: %d %v %q", n, err, dst)
	}
	remote[0].Base = 8 // unmapped
	if _, err := rawProcessVM(unix.SYS_PROCESS_VM_READV, os.Getpid(), local, remote); err != unix.EFAULT {
		t.Fatalf("read of an unmapped page: %v, want EFAULT", err)
	}
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
