// Package nwid runs the Network Containers walkthrough offline: a `ztnc lab`
// network on this machine, a supervised HTTP server on node A and a
// supervised curl and ping on node B, each node a `ztnc-run --nwid` with its
// own HOME and identity.
package nwid

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// path finds the programs in system directories (uid 65534 cannot enter
// /root, where a pyenv shim may come first in the test's own PATH).
const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ztnc is bin/ztnc next to ztnc-run (make build makes both).
func ztnc(t *testing.T) string {
	p := filepath.Join(filepath.Dir(testutil.ZtncRun(t)), "ztnc")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ztnc not found at %s (run `make build` first): %v", p, err)
	}
	return p
}

// labUp starts a lab in a fresh directory and returns its planet file and
// network ID; the lab is taken down at cleanup.
func labUp(t *testing.T) (planet, nwid string) {
	bin := ztnc(t)
	dir := filepath.Join(testutil.SharedTempDir(t), "lab")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "lab", "up", "--dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("ztnc lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, bin, "lab", "down", "--dir", dir).CombinedOutput(); err != nil {
			t.Errorf("ztnc lab down: %v\n%s", err, out)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("ztnc lab down left %s", dir)
		}
	})
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(string(out)), "export ")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "ZTNC_PLANET":
			planet = v
		case "ZT_NC_NWID":
			nwid = v
		}
	}
	if planet == "" || len(nwid) != 16 {
		t.Fatalf("ztnc lab up printed %q, want export ZTNC_PLANET=… ZT_NC_NWID=…", out)
	}
	return planet, nwid
}

// TestWalkthrough: B fetches README.md from A's HTTP server over the lab
// network and pings A's IPv4 and RFC4193 IPv6 addresses.
func TestWalkthrough(t *testing.T) {
	run := testutil.ZtncRun(t)
	planet, nwid := labUp(t)
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			base := testutil.SharedTempDir(t)
			www := filepath.Join(base, "www")
			if err := os.Mkdir(www, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(www, "README.md"), readme, 0o644); err != nil {
				t.Fatal(err)
			}
			// Debian's ping has cap_net_raw+ep, which an empty bounding set
			// refuses to execute; a copy without it uses ICMP datagram sockets.
			ping := filepath.Join(base, "ping")
			if out, err := exec.Command("cp", "/usr/bin/ping", ping).CombinedOutput(); err != nil {
				t.Fatalf("copying ping: %v %s", err, out)
			}

			// Node A: flags, and the addresses CMD gets in ZTNC_ADDRS. HTTP on
			// both address families (http.server's dual-stack bind to ::),
			// and a UDP echo server likewise.
			addrs := startNodeA(t, www, `python3 -c '`+udpEcho+`' &`,
				u.Wrap(run, "-d", filepath.Join(base, "home-a"), "--planet", planet, "--nwid", nwid, "--")...)
			var v4, v6 netip.Addr
			for _, p := range addrs {
				if p.Addr().Is4() {
					v4 = p.Addr()
				} else {
					v6 = p.Addr()
				}
			}
			if !v4.IsValid() || !v6.IsValid() {
				t.Fatalf("ZTNC_ADDRS %v: want an IPv4 and an IPv6 address", addrs)
			}
			if !netip.MustParsePrefix("fd00::/8").Contains(v6) {
				t.Errorf("A's IPv6 address %s is not RFC4193", v6)
			}

			// Node B: the network and planet from the environment, as the
			// lab's export line gives them.
			url := "http://" + v4.String() + ":8080/README.md"
			url6 := "http://[" + v6.String() + "]:8080/README.md"
			fetch := `for i in $(seq 150); do curl -sf -o /dev/null ` + url + ` && break; sleep 0.2; done
curl -sS --max-time 20 ` + url + ` > ` + filepath.Join(base, "got") + ` || exit 1
curl -sS --max-time 20 -g ` + url6 + ` > ` + filepath.Join(base, "got6") + ` || exit 1
python3 -c '` + udpClient + `' ` + v4.String() + ` ` + v6.String() + ` || exit 1
` + ping + ` -n -c 2 -i 0.2 -W 5 ` + v4.String() + ` || exit 1
` + ping + ` -6 -n -c 2 -i 0.2 -W 5 ` + v6.String()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			env := []string{path, "ZTNC_PLANET=" + planet, "ZT_NC_NWID=" + nwid}
			out, err := testutil.RunGroup(ctx, base, env, u.Wrap(run, "-d", filepath.Join(base, "home-b"), "--", "sh", "-c", fetch)...)
			t.Logf("node B:\n%s", out)
			if err != nil {
				t.Fatalf("node B: %v", err)
			}
			for _, f := range []string{"got", "got6"} {
				got, err := os.ReadFile(filepath.Join(base, f))
				if err != nil || !bytes.Equal(got, readme) {
					t.Fatalf("B fetched %d bytes into %s (%v), want README.md's %d", len(got), f, err, len(readme))
				}
			}
			for _, ip := range []netip.Addr{v4, v6} {
				// The echo names the datagram's true source and comes back from A.
				if want := "udp " + ip.String() + " echo:ping-ztnc from " + ip.String(); !strings.Contains(string(out), want) {
					t.Errorf("no UDP echo from %s (want %q)", ip, want)
				}
			}
			for _, ip := range []netip.Addr{v4, v6} {
				if n := countReplies(string(out), ip); n != 2 {
					t.Errorf("%d echo replies from %s, want 2", n, ip)
				}
			}
			if !strings.Contains(string(out), "joining "+nwid) {
				t.Errorf("node B showed no progress for %s", nwid)
			}
		})
	}
}

// udpEcho answers each datagram on [::]:9999 (IPv4 too, dual-stack).
const udpEcho = `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9999))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"echo:" + d, a)
`

// udpClient sends a datagram to port 9999 of each address given and prints
// the answer with the address it came from; it fails if one never comes.
const udpClient = `
import socket, sys
for host in sys.argv[1:]:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    for i in range(10):
        s.sendto(b"ping-ztnc", (host, 9999))
        try:
            d, a = s.recvfrom(2048)
        except socket.timeout:
            continue
        print("udp", host, d.decode(), "from", a[0])
        break
    else:
        sys.exit("no UDP echo from " + host)
`

// startNodeA runs node A, whose ztnc-run argv ends with "--": a shell runs
// pre (a background server or nothing), then python3's http.server on [::]:8080
// in dir. It returns A's addresses (ZTNC_ADDRS) once A has them; A is
// stopped when the test ends.
func startNodeA(t *testing.T, dir, pre string, argv ...string) []netip.Prefix {
	t.Helper()
	addrFile := filepath.Join(filepath.Dir(dir), "addrs")
	serve := pre + `
echo "$ZTNC_ADDRS" > ` + addrFile + `.tmp && mv ` + addrFile + `.tmp ` + addrFile + `
exec python3 -m http.server 8080 --bind ::`
	argv = append(argv, "sh", "-c", serve)
	a := exec.Command(argv[0], argv[1:]...)
	a.Dir, a.Env = dir, []string{path}
	var out bytes.Buffer
	a.Stdout, a.Stderr = &out, &out
	a.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.WaitDelay = 5 * time.Second
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-a.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-a.Process.Pid, syscall.SIGKILL)
			<-done
		}
		t.Logf("node A:\n%s", out.String())
	})
	deadline := time.After(90 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("node A exited before serving: %v", err)
		case <-deadline:
			t.Fatal("node A got no addresses")
		case <-time.After(50 * time.Millisecond):
		}
		b, err := os.ReadFile(addrFile)
		if err != nil {
			continue
		}
		var addrs []netip.Prefix
		for _, f := range strings.Fields(string(b)) {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				t.Fatalf("ZTNC_ADDRS %q: %v", b, err)
			}
			addrs = append(addrs, p)
		}
		return addrs
	}
}

func countReplies(out string, from netip.Addr) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), " bytes from "+from.String()+": icmp_seq=") {
			n++
		}
	}
	return n
}

// TestWaitTimeout: a network that never gives an address ends ztnc-run
// with status 125 and a message naming the network, without running CMD.
func TestWaitTimeout(t *testing.T) {
	run := testutil.ZtncRun(t)
	planet, nwid := labUp(t)
	missing := nwid[:10] + "00dead" // the lab's controller has no such network
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			base := testutil.SharedTempDir(t)
			marker := filepath.Join(base, "ran")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := testutil.RunGroup(ctx, base, []string{path},
				u.Wrap(run, "-d", filepath.Join(base, "home"), "--planet", planet, "--nwid", missing, "--wait", "3s", "--", "touch", marker)...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 125 {
				t.Fatalf("ztnc-run: %v, want exit status 125\n%s", err, out)
			}
			if !strings.Contains(string(out), missing) || !strings.Contains(string(out), "--wait") {
				t.Errorf("the error does not name the network and --wait:\n%s", out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("CMD ran although the network never became ready")
			}
		})
	}
}
