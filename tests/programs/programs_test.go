// Package programs runs real programs from Debian packages — servers and
// their clients — together inside one `ztnc-run --local` invocation, so that
// both ends of every connection live on ztnc-run's private network stack.
//
// Each case is a shell script in cases/ (helpers in cases/lib.sh). It is run
// as `ztnc-run --local 10.9.0.1/24 --local fd00:9::1/64 -- sh NAME.sh` with
//
//	ADDR=10.9.0.1 ADDR6=fd00:9::1 PORT=<port> PORT2, PORT3=<more ports>
//	WORK=<scratch dir>
//	GOPROGS=<dir with the static Go test programs>
//
// starts its server in the background, waits (bounded polling) until it
// answers, runs the client and checks the result (content hashes, exact
// output, counts). Every case runs once per testutil.Users(): as the current
// user and, when that is root, as uid 65534 with no capabilities.
//
// For checking the scripts themselves without ztnc-run, set
// ZTNC_PROGRAMS_ON_HOST=1: the scripts then run directly on the host with
// ADDR=127.0.0.1 ADDR6=::1. That mode does not test ztnc at all.
package programs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// caseTimeout bounds one run of one case (server start, client, checks).
const caseTimeout = 60 * time.Second

// A progCase is one script in cases/.
type progCase struct {
	name   string
	needs  []string // programs the script runs (checked up front for a clear message)
	pkgs   string   // the Debian packages providing them
	static []string // binaries that must be statically linked
	goprog bool     // needs the static Go test programs (GOPROGS)
	// asRoot: the case only makes sense as root (sshd lets nobody in as
	// uid 65534, whose account is locked); it is not run, nor counted, for
	// the unprivileged user.
	asRoot bool
}

var cases = []progCase{
	{name: "python-http", needs: []string{"python3", "curl"}, pkgs: "python3 curl"},
	{name: "python-http-ipv6", needs: []string{"python3", "curl"}, pkgs: "python3 curl"},
	{name: "restart-same-port", needs: []string{"python3", "curl"}, pkgs: "python3 curl"},
	{name: "nginx", needs: []string{"nginx", "curl", "pgrep"}, pkgs: "nginx curl procps"},
	{name: "apache2", needs: []string{"apache2", "curl"}, pkgs: "apache2 curl"},
	{name: "redis", needs: []string{"redis-server", "redis-cli"}, pkgs: "redis-server redis-tools"},
	{name: "busybox", needs: []string{"busybox"}, pkgs: "busybox-static", static: []string{"/bin/busybox"}},
	{name: "go-static", goprog: true},
	{name: "node-http", needs: []string{"node", "curl"}, pkgs: "nodejs curl"},
	{name: "dnsmasq-dig", needs: []string{"dnsmasq", "dig"}, pkgs: "dnsmasq-base bind9-dnsutils"},
	{name: "ping", needs: []string{"ping"}, pkgs: "iputils-ping"},
	{name: "ifaces", needs: []string{"ip", "python3", "node", "java", "gcc", "busybox"}, pkgs: "iproute2 python3 nodejs openjdk-17-jdk-headless gcc busybox-static", goprog: true},
	{name: "openssh", needs: []string{"sshd", "ssh", "sftp", "scp"}, pkgs: "openssh-server openssh-client", asRoot: true},
}

// scriptPATH is the PATH the scripts get: system directories only, so that
// both root and uid 65534 find the same Debian-packaged programs (and not,
// say, shims under root's home).
const scriptPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func onHost() bool { return os.Getenv("ZTNC_PROGRAMS_ON_HOST") == "1" }

func TestPrograms(t *testing.T) {
	if onHost() {
		t.Log("ZTNC_PROGRAMS_ON_HOST=1: running the scripts directly on the host, NOT under ztnc-run")
	} else {
		testutil.ZtncRun(t) // fail early and clearly when the binary is missing
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkPrereqs(t, c)
			var goprogs string
			if c.goprog {
				goprogs = buildGoProgs(t)
			}
			for _, u := range testutil.Users() {
				if c.asRoot && u.Uid >= 0 {
					continue
				}
				t.Run(u.Name, func(t *testing.T) {
					runCase(t, c, u, goprogs)
				})
			}
		})
	}
}

// checkPrereqs fails (never skips) when a program a case needs is missing.
func checkPrereqs(t *testing.T, c progCase) {
	t.Helper()
	for _, p := range c.needs {
		if _, err := lookPath(p); err != nil {
			t.Fatalf("%s not found in %s (Debian packages: %s)", p, scriptPATH, c.pkgs)
		}
	}
	for _, p := range c.static {
		if err := testutil.CheckStatic(p); err != nil {
			t.Fatalf("%s must be a static binary for this case: %v", p, err)
		}
	}
}

func lookPath(name string) (string, error) {
	for _, d := range filepath.SplitList(scriptPATH) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func runCase(t *testing.T, c progCase, u testutil.User, goprogs string) {
	// The scripts are copied next to the scratch directory so that uid 65534
	// can read them wherever the repository lives.
	scripts := testutil.SharedTempDir(t)
	for _, f := range []string{"lib.sh", c.name + ".sh"} {
		b, err := os.ReadFile(filepath.Join("cases", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scripts, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	work := testutil.SharedTempDir(t)
	ports := testutil.FreePorts(t, 3)

	addr, addr6 := "10.9.0.1", "fd00:9::1"
	argv := []string{"sh", filepath.Join(scripts, c.name+".sh")}
	if onHost() {
		addr, addr6 = "127.0.0.1", "::1"
		argv = u.Wrap(argv...)
		if os.Geteuid() == 0 {
			argv = hostNetns(argv)
		}
	} else {
		argv = u.Wrap(testutil.UnderZtnc(t, argv...)...)
	}

	env := []string{
		"PATH=" + scriptPATH,
		"HOME=" + work,
		"TMPDIR=" + work,
		"LANG=C.UTF-8",
		"ADDR=" + addr,
		"ADDR6=" + addr6,
		fmt.Sprint("PORT=", ports[0]),
		fmt.Sprint("PORT2=", ports[1]),
		fmt.Sprint("PORT3=", ports[2]),
		"WORK=" + work,
		"GOPROGS=" + goprogs,
		"ZTNC_SLOW_PATH=" + os.Getenv("ZTNC_SLOW_PATH"), // make test's second run: ztnc-run must see it
	}
	t.Logf("running as %s: %s", u.Name, strings.Join(argv, " "))
	t.Logf("env: %s", strings.Join(env, " "))

	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	out, err := testutil.RunGroup(ctx, work, env, argv...)
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s as %s: timed out after %v (%v); output:\n%s", c.name, u.Name, caseTimeout, err, out)
	case err != nil:
		t.Errorf("%s as %s: %v; output:\n%s", c.name, u.Name, err, out)
	default:
		t.Logf("output:\n%s", out)
		if !bytes.Contains(out, []byte("["+c.name+"] PASS")) {
			t.Errorf("%s as %s: exit status 0 but the script did not report PASS; output:\n%s", c.name, u.Name, out)
		}
	}
}

// hostNetns wraps argv (validation on the host only) to run in a fresh
// network namespace with its loopback up and ICMP datagram sockets allowed
// for every group, so the scripts see what ztnc-run promises (a private
// loopback, unprivileged ping) without touching the host's own settings.
func hostNetns(argv []string) []string {
	const setup = `ip link set lo up && echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range && exec "$@"`
	return append([]string{"unshare", "--net", "--", "sh", "-c", setup, "sh"}, argv...)
}

var (
	goProgsOnce sync.Once
	goProgsDir  string
	goProgsErr  error
)

// buildGoProgs builds the static Go test programs once per test binary run
// into a directory every user can read.
func buildGoProgs(t *testing.T) string {
	t.Helper()
	goProgsOnce.Do(func() {
		goProgsDir, goProgsErr = os.MkdirTemp("", "ztnc-goprogs-")
		if goProgsErr != nil {
			return
		}
		os.Chmod(goProgsDir, 0o755)
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(gobin, "build", "-trimpath", "-o", goProgsDir+string(os.PathSeparator),
			"./tests/programs/goprogs/httpserver", "./tests/programs/goprogs/httpclient", "./tests/programs/goprogs/ifaces")
		cmd.Dir = testutil.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goProgsErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		for _, p := range []string{"httpserver", "httpclient", "ifaces"} {
			if err := testutil.CheckStatic(filepath.Join(goProgsDir, p)); err != nil {
				goProgsErr = err
				return
			}
		}
	})
	if goProgsErr != nil {
		t.Fatalf("building the static Go programs: %v", goProgsErr)
	}
	return goProgsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goProgsDir != "" {
		os.RemoveAll(goProgsDir)
	}
	os.Exit(code)
}
