// Package conformance holds the socket conformance suite: C programs that
// assert Linux socket behaviour and print deterministic lines. Each program
// runs on the host kernel (the reference) and then under ztnc-run, as every
// testutil.Users() identity, and the outputs must be identical.
//
// TestHostile does the same for a program that feeds bad pointers, lengths,
// families and fds to every trapped call. TestIsolation (ztnc-run only)
// checks that nothing reaches the host's network.
//
// Run: make build && ZTNC_RUN=$PWD/bin/ztnc-run go test -count=1 -v ./tests/conformance/
// A program can be run by hand too (gcc -pthread -o /tmp/x c/udp.c; /tmp/x;
// bin/ztnc-run --local 10.9.0.1/24 -- /tmp/x); signals takes a case name.
package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// Programs compared between the host kernel and ztnc-run, in c/<name>.c.
var programs = []string{
	"tcp_connect",
	"tcp_names",
	"tcp_shutdown",
	"udp",
	"ipv6",
	"fork_listener",
	"signals",
	"epoll",
}

// progTimeout bounds one run of one program (the programs' own watchdog
// alarms fire earlier, at 25-28 s).
const progTimeout = 30 * time.Second

// build compiles c/<name>.c for each name into dir and returns the paths.
func build(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	src, err := filepath.Abs("c")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		bin := filepath.Join(dir, n)
		cmd := exec.Command("gcc", "-O1", "-g", "-Wall", "-Wno-unused-function", "-Wno-restrict",
			"-pthread", "-o", bin, filepath.Join(src, n+".c"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", n, err, b)
		}
		if err := os.Chmod(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		out[n] = bin
	}
	return out
}

type result struct {
	stdout, stderr string
	err            error
	timedOut       bool
}

func (r result) String() string {
	s := fmt.Sprintf("exit: %v", r.err)
	if r.timedOut {
		s += fmt.Sprintf(" (killed after %v)", progTimeout)
	}
	return s + "\n--- stdout ---\n" + r.stdout + "--- stderr ---\n" + tail(r.stderr, 4000)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// run executes argv in its own process group, killing the whole group when
// the timeout expires (ztnc-run's target and its children included).
func run(argv []string, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.Command(argv[0], argv[1:]...)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr = &so, &se
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 5 * time.Second
	if err := c.Start(); err != nil {
		return result{err: err}
	}
	done := make(chan struct{})
	var timedOut bool
	var mu sync.Mutex
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			mu.Lock()
			timedOut = true
			mu.Unlock()
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}()
	err := c.Wait()
	close(done)
	// Whatever is left in the group (daemonised children) goes too.
	syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	mu.Lock()
	defer mu.Unlock()
	return result{stdout: so.String(), stderr: se.String(), err: err, timedOut: timedOut}
}

// lineDiff is a small LCS line diff of the host output (want) and the
// ztnc-run output (got): "-" lines only on the host, "+" lines only under
// ztnc-run, with one line of context.
func lineDiff(want, got string) string {
	w := strings.Split(strings.TrimRight(want, "\n"), "\n")
	g := strings.Split(strings.TrimRight(got, "\n"), "\n")
	// lcs[i][j]: LCS length of w[i:] and g[j:]
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else if lcs[i+1][j] >= lcs[i][j+1] {
				lcs[i][j] = lcs[i+1][j]
			} else {
				lcs[i][j] = lcs[i][j+1]
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ops []line
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			ops = append(ops, line{' ', w[i]})
			i++
			j++
		case j < len(g) && (i == len(w) || lcs[i][j+1] > lcs[i+1][j]):
			ops = append(ops, line{'+', g[j]})
			j++
		default:
			ops = append(ops, line{'-', w[i]})
			i++
		}
	}
	var b strings.Builder
	b.WriteString("  (- host kernel only, + ztnc-run only)\n")
	for k, o := range ops {
		near := o.op != ' '
		if !near && k > 0 && ops[k-1].op != ' ' {
			near = true
		}
		if !near && k+1 < len(ops) && ops[k+1].op != ' ' {
			near = true
		}
		if near {
			fmt.Fprintf(&b, "  %c %s\n", o.op, o.text)
		} else if k > 0 && (ops[k-1].op != ' ' || (k > 1 && ops[k-2].op != ' ')) {
			b.WriteString("    ...\n")
		}
	}
	return b.String()
}

// compare runs each program on the host and under ztnc-run for every user
// and requires exit status 0 and identical stdout.
func compare(t *testing.T, names ...string) {
	dir := testutil.SharedTempDir(t)
	bins := build(t, dir, names...)
	for _, name := range names {
		bin := bins[name]
		t.Run(name, func(t *testing.T) {
			for _, u := range testutil.Users() {
				t.Run(u.Name, func(t *testing.T) {
					var host result
					hostOK := t.Run("host", func(t *testing.T) {
						host = run(u.Wrap(bin), progTimeout)
						if host.err != nil || host.stdout == "" {
							t.Fatalf("%s on the host kernel failed: the reference itself is broken\n%s", name, host)
						}
					})
					t.Run("ztnc", func(t *testing.T) {
						if !hostOK {
							t.Fatalf("no host reference output for %s as %s", name, u.Name)
						}
						z := run(u.Wrap(testutil.UnderZtnc(t, bin)...), progTimeout)
						if z.stdout != host.stdout {
							t.Errorf("%s under ztnc-run differs from the host kernel:\n%s\n%s", name,
								lineDiff(host.stdout, z.stdout), z)
						} else if z.err != nil {
							t.Errorf("%s under ztnc-run: same output but %s", name, z)
						}
					})
				})
			}
		})
	}
}

func TestConformance(t *testing.T) {
	compare(t, programs...)
}

func TestHostile(t *testing.T) {
	compare(t, "hostile")
}

// hostServers are a TCP and a UDP server on the host's 127.0.0.1 that
// record anything that reaches them before the test's own sentinel.
type hostServers struct {
	tcp   net.Listener
	udp   net.PacketConn
	mu    sync.Mutex
	tcpIn []string // what arrived before the sentinel
	udpIn []string
	tcpOK chan struct{}
	udpOK chan struct{}
}

const sentinel = "ZTNC-TEST-SENTINEL"

func startHostServers(t *testing.T) *hostServers { return startHostServersOn(t, "127.0.0.1") }

func startHostServersOn(t *testing.T, ip string) *hostServers {
	t.Helper()
	h := &hostServers{tcpOK: make(chan struct{}), udpOK: make(chan struct{})}
	var err error
	if h.tcp, err = net.Listen("tcp4", ip+":0"); err != nil {
		t.Fatal(err)
	}
	if h.udp, err = net.ListenPacket("udp4", ip+":0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.tcp.Close(); h.udp.Close() })
	go func() {
		// Accepts in queue order: anything accepted before the sentinel
		// connection was made by the program under test.
		for {
			c, err := h.tcp.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 64)
			n, _ := c.Read(b)
			c.Close()
			if string(b[:n]) == sentinel {
				close(h.tcpOK)
				return
			}
			h.mu.Lock()
			h.tcpIn = append(h.tcpIn, fmt.Sprintf("connection from %v (%q)", c.RemoteAddr(), b[:n]))
			h.mu.Unlock()
		}
	}()
	go func() {
		b := make([]byte, 65536)
		for {
			n, from, err := h.udp.ReadFrom(b)
			if err != nil {
				return
			}
			if string(b[:n]) == sentinel {
				close(h.udpOK)
				return
			}
			h.mu.Lock()
			h.udpIn = append(h.udpIn, fmt.Sprintf("datagram from %v (%q)", from, b[:n]))
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *hostServers) ports() (int, int) {
	return h.tcp.Addr().(*net.TCPAddr).Port, h.udp.LocalAddr().(*net.UDPAddr).Port
}

// leaks sends the sentinels and returns what arrived before them.
func (h *hostServers) leaks(t *testing.T) []string {
	t.Helper()
	c, err := net.Dial("tcp4", h.tcp.Addr().String())
	if err != nil {
		t.Fatalf("sentinel connect: %v", err)
	}
	c.Write([]byte(sentinel))
	c.Close()
	u, err := net.Dial("udp4", h.udp.LocalAddr().String())
	if err != nil {
		t.Fatalf("sentinel udp: %v", err)
	}
	defer u.Close()
	for _, ch := range []chan struct{}{h.tcpOK, h.udpOK} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			if ch == h.udpOK {
				// A lost sentinel datagram: send it again.
				u.Write([]byte(sentinel))
				select {
				case <-ch:
					continue
				case <-time.After(10 * time.Second):
				}
			}
			t.Fatalf("host server never saw the sentinel")
		}
		if ch == h.tcpOK {
			u.Write([]byte(sentinel))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(append([]string{}, h.tcpIn...), h.udpIn...)
}

func TestIsolation(t *testing.T) {
	dir := testutil.SharedTempDir(t)
	bins := build(t, dir, "isolation")
	// The unprivileged user runs a copy of ping without its file
	// capabilities: with an empty bounding set the kernel refuses to exec a
	// binary whose file capabilities it cannot grant (EPERM), ztnc or not.
	// Under ztnc-run ping must then work through ICMP datagram sockets.
	pingPath, err := exec.LookPath("ping")
	if err != nil {
		t.Fatalf("ping not installed: %v", err)
	}
	pingCopy := filepath.Join(dir, "ping")
	b, err := os.ReadFile(pingPath)
	if err == nil {
		err = os.WriteFile(pingCopy, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range testutil.Users() {
		ping := pingPath
		if u.Uid >= 0 {
			ping = pingCopy
		}
		t.Run(u.Name, func(t *testing.T) {
			t.Run("program", func(t *testing.T) {
				h := startHostServers(t)
				tp, up := h.ports()
				r := run(u.Wrap(testutil.UnderZtnc(t, bins["isolation"], fmt.Sprint(tp), fmt.Sprint(up))...), progTimeout)
				if r.err != nil || !strings.Contains(r.stdout, "isolation: done") {
					t.Errorf("isolation program under ztnc-run failed:\n%s", r)
				}
				if l := h.leaks(t); len(l) > 0 {
					t.Errorf("traffic from inside ztnc-run reached the host's 127.0.0.1:\n  %s", strings.Join(l, "\n  "))
				}
			})
			t.Run("ping", func(t *testing.T) {
				r := run(u.Wrap(testutil.UnderZtnc(t, ping, "-c", "2", "-W", "2", "10.9.0.1")...), progTimeout)
				if r.err != nil {
					t.Errorf("ping 10.9.0.1 under ztnc-run failed:\n%s", r)
				}
			})
		})
	}
}
