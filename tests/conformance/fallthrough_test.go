package conformance

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ztnc/tests/testutil"
)

// echoServers are a TCP and a UDP echo server on the host's 127.0.0.1.
func echoServers(t *testing.T) (tcpPort, udpPort int) { return echoServersOn(t, "127.0.0.1") }

// echoServersOn are a TCP and a UDP echo server on the host's ip.
func echoServersOn(t *testing.T, ip string) (tcpPort, udpPort int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); u.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	go func() {
		b := make([]byte, 65536)
		for {
			n, from, err := u.ReadFrom(b)
			if err != nil {
				return
			}
			u.WriteTo(b[:n], from)
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, u.LocalAddr().(*net.UDPAddr).Port
}

// TestFallThrough runs c/fallthrough.c against echo servers on the host's
// 127.0.0.1, on the host kernel and under --fallthrough 127.0.0.0/8: the
// outputs must be the same. Without the flag the same program must not get
// through (first connect refused by the virtual loopback).
func TestFallThrough(t *testing.T) {
	dir := testutil.SharedTempDir(t)
	bin := build(t, dir, "fallthrough")["fallthrough"]
	tp, up := echoServers(t)
	tp6, up6 := echoServersOn(t, "::1")
	args := []string{fmt.Sprint(tp), fmt.Sprint(up), fmt.Sprint(testutil.RefusingPort(t)), fmt.Sprint(tp6), fmt.Sprint(up6)}
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			host := run(u.Wrap(append([]string{bin}, args...)...), progTimeout)
			if host.err != nil || host.stdout == "" {
				t.Fatalf("fallthrough on the host kernel failed: the reference itself is broken\n%s", host)
			}
			ztnc := []string{testutil.ZtncRun(t), "--local", "10.9.0.1/24", "--fallthrough", "127.0.0.0/8", "--fallthrough", "::1/128", "--", bin}
			z := run(u.Wrap(append(ztnc, args...)...), progTimeout)
			if z.stdout != host.stdout {
				t.Errorf("fallthrough under ztnc-run differs from the host kernel:\n%s\n%s", lineDiff(host.stdout, z.stdout), z)
			} else if z.err != nil {
				t.Errorf("same output but %s", z)
			}
			// Again on the path of a container without CAP_SYS_PTRACE.
			z = run(u.Wrap(append(append([]string{"env", "ZTNC_SLOW_PATH=1"}, ztnc...), args...)...), progTimeout)
			if z.stdout != host.stdout {
				t.Errorf("fallthrough under ztnc-run's slow path differs from the host kernel:\n%s\n%s", lineDiff(host.stdout, z.stdout), z)
			} else if z.err != nil {
				t.Errorf("slow path: same output but %s", z)
			}
			off := run(u.Wrap(append(testutil.UnderZtnc(t, bin), args...)...), progTimeout)
			if !strings.Contains(off.stdout, "tcp blocking connect: ECONNREFUSED") {
				t.Errorf("without --fallthrough the program reached the host (or failed otherwise):\n%s", off)
			}
		})
	}
}

// TestFallThroughEscape (ztnc-run only): with --fallthrough 127.0.0.1/32, a
// socket that became a host socket still reaches nothing else; servers on
// the host's 127.0.0.2 must see nothing.
func TestFallThroughEscape(t *testing.T) {
	dir := testutil.SharedTempDir(t)
	bin := build(t, dir, "fallthrough_escape")["fallthrough_escape"]
	tp, up := echoServers(t)
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			h := startHostServersOn(t, "127.0.0.2")
			lt, lu := h.ports()
			argv := []string{testutil.ZtncRun(t), "--local", "10.9.0.1/24", "--fallthrough", "127.0.0.1/32", "--",
				bin, fmt.Sprint(tp), fmt.Sprint(up), fmt.Sprint(lt), fmt.Sprint(lu)}
			r := run(u.Wrap(argv...), progTimeout)
			if r.err != nil || !strings.Contains(r.stdout, "fallthrough_escape: done") {
				t.Errorf("fallthrough_escape under ztnc-run failed:\n%s", r)
			}
			if l := h.leaks(t); len(l) > 0 {
				t.Errorf("traffic reached the host's 127.0.0.2, outside --fallthrough 127.0.0.1/32:\n  %s", strings.Join(l, "\n  "))
			}
		})
	}
}

// TestFallThroughChecked runs c/fallthrough_checked.c on the host kernel and
// under --fallthrough 127.0.0.0/8: once the program holds a host socket, the
// supervisor does connect, listen and the sends on AF_UNIX and TCP sockets
// itself instead of continuing them (the fd-number race); the outputs must
// be the same, and the supervisor must have done some (its -v statistics).
func TestFallThroughChecked(t *testing.T) {
	dir := testutil.SharedTempDir(t)
	bin := build(t, dir, "fallthrough_checked")["fallthrough_checked"]
	tp, up := echoServers(t)
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			tmp := testutil.SharedTempDir(t)
			host := run(u.Wrap(bin, fmt.Sprint(up), fmt.Sprint(tp), tmp), progTimeout)
			if host.err != nil || host.stdout == "" {
				t.Fatalf("fallthrough_checked on the host kernel failed: the reference itself is broken\n%s", host)
			}
			tmp2 := testutil.SharedTempDir(t)
			argv := []string{testutil.ZtncRun(t), "-v", "--local", "10.9.0.1/24", "--fallthrough", "127.0.0.0/8", "--",
				bin, fmt.Sprint(up), fmt.Sprint(tp), tmp2}
			z := run(u.Wrap(argv...), progTimeout)
			if z.stdout != host.stdout {
				t.Errorf("fallthrough_checked under ztnc-run differs from the host kernel:\n%s\n%s", lineDiff(host.stdout, z.stdout), z)
			} else if z.err != nil {
				t.Errorf("same output but %s", z)
			}
			m := regexp.MustCompile(`checked=(\d+)`).FindStringSubmatch(z.stderr)
			if m == nil {
				t.Fatalf("no supervisor statistics in ztnc-run -v's output:\n%s", z)
			}
			if n, _ := strconv.Atoi(m[1]); n == 0 {
				t.Errorf("the supervisor did no call itself: the checked mode was never entered\n%s", z)
			}
		})
	}
}

// TestFallThroughFastPath: a program that never holds a host socket keeps
// the fast path under --fallthrough (its AF_UNIX sendmsg is let through),
// unless ztnc-run's standard input is a host socket (inetd style), which
// the program inherits: then the supervisor does the call itself.
func TestFallThroughFastPath(t *testing.T) {
	dir := testutil.SharedTempDir(t)
	bin := build(t, dir, "unix_sendmsg")["unix_sendmsg"]
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	checked := func(stdin *os.File) int {
		cmd := exec.Command(testutil.ZtncRun(t), "-v", "--local", "10.9.0.1/24", "--fallthrough", "127.0.0.1/32", "--", bin)
		cmd.Stdin = stdin
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "unix_sendmsg: done") {
			t.Fatalf("unix_sendmsg under ztnc-run: %v\n%s\n%s", err, out.String(), errb.String())
		}
		m := regexp.MustCompile(`checked=(\d+)`).FindStringSubmatch(errb.String())
		if m == nil {
			t.Fatalf("no supervisor statistics in ztnc-run -v's output:\n%s", errb.String())
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if n := checked(nil); n != 0 {
		t.Errorf("no host socket, yet the supervisor did %d calls itself instead of letting them through", n)
	}
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := checked(f); n == 0 {
		t.Error("standard input is a host TCP socket, yet the AF_UNIX sendmsg was let through (fd-number race open)")
	}
}

// TestFallThroughPeerCred: a root ztnc-run, a program that dropped to uid
// 65534 and holds a host socket. The AF_UNIX connect and send the
// supervisor then does for it must show the peer the program's ids, as on
// the host kernel, never root's.
func TestFallThroughPeerCred(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a root ztnc-run whose program drops its ids")
	}
	dir := testutil.SharedTempDir(t)
	bin := build(t, dir, "peercred")["peercred"]
	_, up := echoServers(t)
	drop := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	hostDir, ztncDir := testutil.SharedTempDir(t), testutil.SharedTempDir(t)
	host := run(append(drop, bin, fmt.Sprint(up), hostDir), progTimeout)
	if host.err != nil || !strings.Contains(host.stdout, "stream peer uid 65534") {
		t.Fatalf("peercred on the host kernel failed: the reference itself is broken\n%s", host)
	}
	argv := append([]string{testutil.ZtncRun(t), "--local", "10.9.0.1/24", "--fallthrough", "127.0.0.0/8", "--"}, drop...)
	z := run(append(argv, bin, fmt.Sprint(up), ztncDir), progTimeout)
	if z.stdout != host.stdout || z.err != nil {
		t.Errorf("peercred under ztnc-run differs from the host kernel:\n%s\n%s", lineDiff(host.stdout, z.stdout), z)
	}
}
