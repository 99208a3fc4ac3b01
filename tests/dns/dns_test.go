// Package dns tests name resolution under ztnc-run with real programs
// (getent/glibc, curl, a static Go program, busybox nslookup, dig) and the
// fall-through of connections and datagrams to the host.
//
// Run: make build && ZTNC_RUN=$PWD/bin/ztnc-run go test -count=1 -v ./tests/dns/
package dns

import (
	"bytes"
	"context"
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

// path finds the programs in system directories (uid 65534 cannot enter
// /root, where a pyenv shim may come first in the test's own PATH).
const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s not installed (see .ci/setup): %v", p, err)
		}
	}
}

var (
	resolveOnce sync.Once
	resolveBin  string
	resolveErr  error
)

// resolveProg builds ./resolve as a static Go program, once, somewhere
// every test user can run it.
func resolveProg(t *testing.T) string {
	resolveOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ztnc-resolve-")
		if err != nil {
			resolveErr = err
			return
		}
		os.Chmod(dir, 0o755)
		resolveBin = filepath.Join(dir, "resolve")
		cmd := exec.Command("go", "build", "-o", resolveBin, "./resolve")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			resolveErr = err
			resolveBin = string(out)
		}
	})
	if resolveErr != nil {
		t.Fatalf("building the Go resolver program: %v\n%s", resolveErr, resolveBin)
	}
	if err := testutil.CheckStatic(resolveBin); err != nil {
		t.Fatal(err)
	}
	return resolveBin
}

// runScript runs a shell script as u under argv (ztnc-run … --) with a
// bounded time and returns its output.
func runScript(t *testing.T, u testutil.User, dir string, env []string, script string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := u.Wrap(append(argv, "sh", "-c", script)...)
	out, err := testutil.RunGroup(ctx, dir, append([]string{path}, env...), full...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", full, err, out)
	}
	return string(out)
}

// expectLines requires each want line to appear in out as a whole line.
func expectLines(t *testing.T, out string, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("missing line %q in output:\n%s", w, out)
		}
	}
}

// clientChecks resolves web.<domain> (expected at addr, with an HTTP server
// on port serving hello.txt) with each program, and an unknown name.
func clientChecks(domain, addr, port string) string {
	return `
name=web.` + domain + `
# The first query may wait for a path to the server's node: until dig gets
# an answer (bounded), then every program in turn.
i=0; until [ -n "$(dig +short +time=3 +tries=1 $name)" ]; do i=$((i+1)); [ $i -lt 10 ] || break; done
echo "getent: $(getent hosts $name | tr -s ' ')"
echo "short: $(getent hosts web | tr -s ' ')"
echo "curl: $(curl -sS -m 20 http://$name:` + port + `/hello.txt)"
for p in $ZTNC_ADDRS; do case $p in *.*.*.*/*) me=${p%/*};; esac; done
echo "curl bound: $(curl -sS -m 20 --interface "$me" http://$name:` + port + `/hello.txt)"
echo "go: $("$RESOLVE" $name)"
echo "busybox: $(busybox nslookup $name 2>&1 | grep -c 'Address: *` + addr + `$')"
getent hosts nope.invalid.example; echo "getent unknown: $?"
echo "dig unknown: $(dig +time=10 +tries=1 nope.invalid.example | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"
echo "dig unknown tcp: $(dig +tcp +time=10 +tries=1 nope.invalid.example | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"
echo "go unknown: $("$RESOLVE" nope.invalid.example)"
`
}

func clientWant(addr, name string) []string {
	return []string{
		"getent: " + addr + " " + name,
		"short: " + addr + " web",
		"curl: hello from ztnc",
		"curl bound: hello from ztnc", // bind-before-connect to our network address
		"go: addrs: " + addr,
		"busybox: 1",
		"getent unknown: 2",
		"dig unknown: NXDOMAIN",
		"dig unknown tcp: NXDOMAIN",
		"go unknown: error: not found",
	}
}

// dnsmasqOn starts (in the script) a dnsmasq on $1:53 answering web.DOMAIN
// with $1, and waits until it answers.
const dnsmasqOn = `
serve_dns() {
	dnsmasq --no-daemon --port=53 --listen-address="$1" --bind-interfaces --no-resolv --no-hosts \
		--conf-file=/dev/null --pid-file= --address=/web.$2/"$1" >"$WORK/dnsmasq.log" 2>&1 &
	i=0
	until [ "$(dig +time=1 +tries=1 @"$1" web.$2 +short)" = "$1" ]; do
		i=$((i+1)); [ $i -lt 100 ] || { echo "dnsmasq never answered"; cat "$WORK/dnsmasq.log"; exit 1; }
		sleep 0.1
	done
}
`

// TestDNSLocal: --dns-server/--dns-domain on a --local network; a dnsmasq
// in the same ztnc-run answers the domain, the rest fails at once.
func TestDNSLocal(t *testing.T) {
	need(t, "dnsmasq", "dig", "getent", "curl", "busybox", "python3")
	run := testutil.ZtncRun(t)
	resolve := resolveProg(t)
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			work := testutil.SharedTempDir(t)
			os.WriteFile(filepath.Join(work, "hello.txt"), []byte("hello from ztnc\n"), 0o644)
			port := "8080"
			script := dnsmasqOn + `
serve_dns 10.9.0.1 lab.test
python3 -m http.server ` + port + ` --bind 10.9.0.1 --directory "$WORK" >/dev/null 2>&1 &
i=0; until curl -s -o /dev/null http://10.9.0.1:` + port + `/; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
` + clientChecks("lab.test", "10.9.0.1", port) + `
kill $(jobs -p) 2>/dev/null; exit 0`
			out := runScript(t, u, work, []string{"WORK=" + work, "RESOLVE=" + resolve}, script,
				run, "--local", "10.9.0.1/24", "--dns-server", "10.9.0.1", "--dns-domain", "lab.test", "--")
			expectLines(t, out, clientWant("10.9.0.1", "web.lab.test")...)
		})
	}
}

// startBackground runs argv as u until the test ends; its output is logged.
func startBackground(t *testing.T, u testutil.User, dir string, env []string, argv ...string) *bytes.Buffer {
	t.Helper()
	full := u.Wrap(argv...)
	c := exec.Command(full[0], full[1:]...)
	c.Dir, c.Env = dir, append([]string{path}, env...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 5 * time.Second
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
		t.Logf("%v:\n%s", argv, out.String())
	})
	return &out
}

// TestDNSOwnServer: a DNS server of the program's own on port 53 of every
// address (dnsmasq's default) starts despite the responder, which steps
// aside; names then resolve through it, as with a local server on a host.
func TestDNSOwnServer(t *testing.T) {
	need(t, "dnsmasq", "getent")
	run := testutil.ZtncRun(t)
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			work := testutil.SharedTempDir(t)
			script := `dnsmasq --port=53 --no-resolv --no-hosts --conf-file=/dev/null --pid-file="$WORK/pid" \
	--address=/own.test/10.9.0.42 --user=$(id -un) 2>&1; echo "dnsmasq: $?"
i=0; until getent hosts own.test >/dev/null; do i=$((i+1)); [ $i -lt 50 ] || break; sleep 0.1; done
echo "getent: $(getent hosts own.test | tr -s ' ')"
kill $(cat "$WORK/pid")`
			out := runScript(t, u, work, []string{"WORK=" + work}, script, run, "--local", "10.9.0.1/24", "--")
			expectLines(t, out, "dnsmasq: 0", "getent: 10.9.0.42 own.test")
		})
	}
}
