// Package testutil holds what the end-to-end suites share: finding the
// binaries, running a command under ztnc-run, and running it again as an
// unprivileged user when the suite runs as root.
package testutil

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Nobody is the unprivileged uid/gid the suites use when started as root.
const Nobody = 65534

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ZtncRun returns the path of the ztnc-run binary ($ZTNC_RUN, else bin/ztnc-run)
// and fails the test when it is missing: the suites never skip for that.
func ZtncRun(t testing.TB) string {
	t.Helper()
	p := os.Getenv("ZTNC_RUN")
	if p == "" {
		p = filepath.Join(RepoRoot(), "bin", "ztnc-run")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ztnc-run not found at %s (run `make build` first): %v", p, err)
	}
	return p
}

// User is who a case runs as.
type User struct {
	Name string // "root" or "nobody"
	Uid  int    // -1: as the test process itself
}

// Users lists the identities every end-to-end case runs under: the current
// user, plus uid 65534 with no capabilities when the suite runs as root.
func Users() []User {
	if os.Geteuid() == 0 {
		return []User{{"root", -1}, {"nobody", Nobody}}
	}
	return []User{{"user", -1}}
}

// Wrap returns argv that runs argv as u: through setpriv with every
// capability dropped for the unprivileged user.
func (u User) Wrap(argv ...string) []string {
	if u.Uid < 0 {
		return argv
	}
	pre := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--"}
	return append(pre, argv...)
}

// UnderZtnc returns argv that runs cmd under `ztnc-run --local 10.9.0.1/24
// --local fd00:9::1/64` (the suites' standard virtual network).
func UnderZtnc(t testing.TB, cmd ...string) []string {
	argv := []string{ZtncRun(t), "--local", "10.9.0.1/24", "--local", "fd00:9::1/64", "--"}
	return append(argv, cmd...)
}

// Command builds an exec.Cmd for argv with a deadline.
func Command(ctx context.Context, argv ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.WaitDelay = 5 * time.Second
	return c
}

// SharedTempDir is t.TempDir made readable and writable by the unprivileged
// user too (mode 0777), so both identities can use it.
func SharedTempDir(t testing.TB) string {
	d := t.TempDir()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o777)
	}
	return d
}

// FreePort returns a TCP port above 1024 that is currently free for TCP and
// UDP on both 127.0.0.1 and ::1 of the host. (Under ztnc-run any port would
// do, the stack being private; a host-free one also suits runs without it.)
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("FreePort: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port <= 1024 {
			continue
		}
		ok := true
		for _, probe := range []func() (io.Closer, error){
			func() (io.Closer, error) { return net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port)) },
			func() (io.Closer, error) { return net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port)) },
			func() (io.Closer, error) { return net.ListenPacket("udp6", fmt.Sprintf("[::1]:%d", port)) },
		} {
			c, err := probe()
			if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.EAFNOSUPPORT) {
				ok = false
				break
			}
			if c != nil {
				c.Close()
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("FreePort: no free port found")
	return 0
}

// RefusingPort returns a TCP port of the host's 127.0.0.1 that refuses
// connections for the rest of the test: a socket bound to it that never
// listens holds it, where a port merely found free could be taken by a
// listener of another test running at the same time.
func RefusingPort(t testing.TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("RefusingPort: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("RefusingPort: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("RefusingPort: getsockname: %v", err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// FreePorts returns n distinct ports as FreePort does.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var ps []int
	for len(ps) < n {
		p := FreePort(t)
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	return ps
}

// RunGroup runs argv in dir with exactly env (not inheriting the test's
// environment) in a process group of its own, and returns its combined
// output. When ctx ends, the whole group gets SIGTERM and, 3 s later,
// SIGKILL (a plain CommandContext would kill only the first process).
func RunGroup(ctx context.Context, dir string, env []string, argv ...string) ([]byte, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = dir
	c.Env = env
	var out bytes.Buffer
	c.Stdout = &out
	c.Stderr = &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 5 * time.Second // a daemon left holding the pipes must not block Wait
	if err := c.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
		}
	}()
	err := c.Wait()
	close(done)
	return out.Bytes(), err
}

// CheckStatic returns an error unless path is an ELF executable without a
// program interpreter or shared-library dependencies (statically linked).
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s has a program interpreter (dynamically linked)", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v", path, libs)
	}
	return nil
}
