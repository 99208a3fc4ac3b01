package dns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// hostProc runs argv on the host (not under ztnc-run) until the test ends.
func hostProc(t *testing.T, dir string, argv ...string) {
	t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = dir
	logf, _ := os.Create(filepath.Join(dir, filepath.Base(argv[0])+".log"))
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		c.Wait()
		logf.Close()
	})
}

// waitHost polls check (a shell command on the host) until it succeeds.
func waitHost(t *testing.T, check string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if exec.Command("sh", "-c", check).Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host server never ready: %s", check)
		}
	}
}

// TestFallThroughPrograms: curl and dig under ztnc-run reach servers on the
// host's 127.0.0.1 only with --fallthrough covering it; a destination on the
// virtual network stays virtual even with --fallthrough all.
func TestFallThroughPrograms(t *testing.T) {
	need(t, "dnsmasq", "dig", "curl", "python3")
	run := testutil.ZtncRun(t)
	work := testutil.SharedTempDir(t)
	os.WriteFile(filepath.Join(work, "hello.txt"), []byte("hello from the host\n"), 0o644)
	ports := testutil.FreePorts(t, 2)
	web, dnsPort := fmt.Sprint(ports[0]), fmt.Sprint(ports[1])
	hostProc(t, work, "python3", "-m", "http.server", web, "--bind", "127.0.0.1", "--directory", work)
	hostProc(t, work, "dnsmasq", "--no-daemon", "--port="+dnsPort, "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--user="+currentUser(), "--address=/host.ft.test/192.0.2.7")
	waitHost(t, "curl -sf -o /dev/null http://127.0.0.1:"+web+"/hello.txt")
	waitHost(t, "[ \"$(dig +time=1 +tries=1 @127.0.0.1 -p "+dnsPort+" host.ft.test +short)\" = 192.0.2.7 ]")
	script := `
echo "curl: $(curl -sS -m 10 http://127.0.0.1:` + web + `/hello.txt 2>&1)"
echo "dig: $(dig +time=3 +tries=1 @127.0.0.1 -p ` + dnsPort + ` host.ft.test +short 2>&1 | tr '\n' ' ')"
echo "dig tcp: $(dig +tcp +time=3 +tries=1 @127.0.0.1 -p ` + dnsPort + ` host.ft.test +short 2>&1 | tr '\n' ' ')"
`
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			// A loopback port a program of the same ztnc-run serves stays
			// virtual; the others reach the host.
			inner := `mkdir -p "$WORK/inner-$(id -u)" && echo "hello from inside" > "$WORK/inner-$(id -u)/hello.txt"
python3 -m http.server 8090 --bind 127.0.0.1 --directory "$WORK/inner-$(id -u)" >/dev/null 2>&1 &
i=0; until curl -s -o /dev/null http://127.0.0.1:8090/; do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1; done
echo "inner: $(curl -sS -m 10 http://127.0.0.1:8090/hello.txt 2>&1)"
` + script + `kill $!`
			out := runScript(t, u, work, []string{"WORK=" + work}, inner, run, "--local", "10.9.0.1/24", "--fallthrough", "127.0.0.0/8", "--")
			expectLines(t, out, "curl: hello from the host", "dig: 192.0.2.7", "dig tcp: 192.0.2.7", "inner: hello from inside")
			for _, args := range [][]string{{}, {"--fallthrough", "all"}, {"--fallthrough", "192.0.2.0/24"}} {
				argv := append(append([]string{run, "--local", "10.9.0.1/24"}, args...), "--")
				out := runScript(t, u, work, nil, script, argv...)
				if strings.Contains(out, "hello from the host") || strings.Contains(out, "192.0.2.7") {
					t.Errorf("ztnc-run %v reached the host's loopback:\n%s", args, out)
				}
				if want := "curl: curl: (7) Failed to connect to 127.0.0.1 port " + web; !strings.Contains(out, want) {
					t.Errorf("ztnc-run %v: want %q…, got:\n%s", args, want, out)
				}
			}
			// Inside the network stays virtual: the host has no 10.9.0.1.
			inside := `python3 -m http.server 8080 --bind 10.9.0.1 --directory "$WORK" >/dev/null 2>&1 &
i=0; until curl -s -o /dev/null http://10.9.0.1:8080/; do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1; done
echo "inside: $(curl -sS -m 10 http://10.9.0.1:8080/hello.txt 2>&1)"; kill $!`
			out = runScript(t, u, work, []string{"WORK=" + work}, inside, run, "--local", "10.9.0.1/24", "--fallthrough", "all", "--")
			expectLines(t, out, "inside: hello from the host")
		})
	}
}

func currentUser() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return os.Getenv("USER")
}

// TestDNSHostForward (root: needs a mount namespace): with /etc/resolv.conf
// naming 127.0.0.1 and a dnsmasq there on the host, names outside every
// network resolve through the host with --dns host or --fallthrough, and
// fail at once with NXDOMAIN otherwise.
func TestDNSHostForward(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount of /etc/resolv.conf")
	}
	need(t, "dnsmasq", "getent", "unshare", "mount", "ss")
	run := testutil.ZtncRun(t)
	resolve := resolveProg(t)
	work := testutil.SharedTempDir(t)
	if out, _ := exec.Command("ss", "-Hlnu", "sport = :53").Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Skipf("UDP port 53 is taken on this host: %s", out)
	}
	hostProc(t, work, "dnsmasq", "--no-daemon", "--port=53", "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--user=root", "--address=/host.fwd.test/192.0.2.8")
	waitHost(t, "[ \"$(dig +time=1 +tries=1 @127.0.0.1 host.fwd.test +short)\" = 192.0.2.8 ]")
	rc := filepath.Join(work, "resolv.conf")
	os.WriteFile(rc, []byte("nameserver 127.0.0.1\n"), 0o644)
	script := `echo "getent: $(getent hosts host.fwd.test | tr -s ' ')"; echo "go: $("$RESOLVE" host.fwd.test)"`
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--dns", "host"}, []string{"getent: 192.0.2.8 host.fwd.test", "go: addrs: 192.0.2.8"}},
		{[]string{"--fallthrough", "192.0.2.0/24"}, []string{"getent: 192.0.2.8 host.fwd.test", "go: addrs: 192.0.2.8"}},
		{nil, []string{"getent:", "go: error: not found"}},
		{[]string{"--fallthrough", "all", "--dns", "network"}, []string{"getent:", "go: error: not found"}},
	} {
		argv := append(append([]string{"unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, rc,
			run, "--local", "10.9.0.1/24"}, c.args...), "--")
		out := runScript(t, testutil.User{Name: "root", Uid: -1}, work, []string{"RESOLVE=" + resolve}, script, argv...)
		expectLines(t, out, c.want...)
	}
}
