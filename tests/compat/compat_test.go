// Package compat is the compatibility matrix: real programs from Debian
// packages (and a few Go ones) as servers on one ztnc node and their clients
// on another, over a `ztnc lab` network on this machine.
//
// One lab serves the whole run. For each case (cases/NAME.sh) and each user
// (root, then uid 65534 without capabilities), node A is
// `ztnc-run -d HOME_A --nwid NWID -- sh NAME.sh server` and, once its server
// answers, node B is `ztnc-run -d HOME_B --nwid NWID -- sh NAME.sh client`,
// which runs the client's checks against A's IPv4 address and then against
// its RFC4193 IPv6 address. Each (case, user, family) leaves
// tests/_results/OK.<case>.<user>.ipv<4|6> or FAIL.… with the commands,
// both nodes' output and the timings; the run ends with a table, also
// written to tests/_results/SUMMARY.md. Any FAIL fails the test.
//
// COMPAT_CASES="nginx redis" runs only those cases; COMPAT_VERBOSE=1 runs
// the nodes with -v.
package compat

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// A compatCase is one script in cases/.
type compatCase struct {
	name  string
	row   string   // what the matrix row says: server ← client
	needs []string // programs the scripts run (a missing one is a FAIL, not a skip)
	pkgs  string   // the Debian packages that provide them
	// prep builds what the case needs before its nodes start (Go programs)
	// and returns environment entries for the scripts.
	prep    func(t *testing.T) ([]string, error)
	timeout time.Duration // node B's whole run (both families); default 2 min
}

var cases = []compatCase{
	{name: "openssh", row: "OpenSSH sshd (normal mode, privsep, own config, high port) ← ssh command, sftp 1 MiB up/down, scp",
		needs: []string{"sshd", "ssh", "sftp", "scp", "ssh-keygen"}, pkgs: "openssh-server openssh-client libnss-wrapper"},
	{name: "apache2", row: "apache2 prefork (3+ children): static file + CGI ← curl",
		needs: []string{"apache2", "curl", "pgrep"}, pkgs: "apache2 curl procps"},
	{name: "nginx", row: "nginx master + 2 workers, epoll, sendfile ← curl; wrk 1000 requests over 50 connections",
		needs: []string{"nginx", "curl", "wrk", "pgrep"}, pkgs: "nginx curl wrk procps"},
	{name: "nodejs", row: "Node.js http server ← net client; Node fetch ← apache2 prefork",
		needs: []string{"node", "apache2"}, pkgs: "nodejs apache2"},
	{name: "java", row: "Java com.sun.net.httpserver ← java.net.http.HttpClient (`java File.java`)",
		needs: []string{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java"}, pkgs: "openjdk-17-jdk-headless"},
	{name: "mongodb", row: "MongoDB wire protocol: FerretDB 1.24 (SQLite) ← Go mongo-driver 1.17",
		prep: buildMongo, timeout: 3 * time.Minute},
	{name: "redis", row: "redis-server ← redis-cli; redis-benchmark -q -n 10000",
		needs: []string{"redis-server", "redis-cli", "redis-benchmark"}, pkgs: "redis-server redis-tools"},
	{name: "busybox", row: "busybox httpd ← busybox wget (static C)",
		needs: []string{"busybox"}, pkgs: "busybox-static"},
	{name: "go-static", row: "static Go net/http server ← static Go client",
		prep: buildGoProgs},
	{name: "python", row: "python3 http.server ← urllib",
		needs: []string{"python3"}, pkgs: "python3"},
	{name: "dnsmasq", row: "dnsmasq ← dig (UDP and TCP)",
		needs: []string{"dnsmasq", "dig"}, pkgs: "dnsmasq-base bind9-dnsutils"},
	{name: "iperf3", row: "iperf3 server ← iperf3 client, TCP and UDP",
		needs: []string{"iperf3", "python3"}, pkgs: "iperf3 python3"},
	{name: "ping", row: "ping A → B and B → A",
		needs: []string{"ping"}, pkgs: "iputils-ping"},
	{name: "memcached", row: "memcached ← libmemcached client (memccp, memccat, memcstat)",
		needs: []string{"memcached", "memccp", "memccat", "memcrm", "memcstat"}, pkgs: "memcached libmemcached-tools"},
	{name: "postgresql", row: "PostgreSQL 15 server (as nobody: it refuses root) ← psql, SCRAM auth",
		needs: []string{"psql", "/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/initdb"}, pkgs: "postgresql postgresql-client"},
}

// scriptPATH: system directories only, so that root and uid 65534 run the
// same Debian programs (not shims under root's home).
const scriptPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// readyTimeout bounds node A's start: joining, then the server answering.
const readyTimeout = 90 * time.Second

// A result is one (case, user, family) cell of the matrix.
type result struct {
	ok      bool
	elapsed time.Duration // that family's client checks
	note    string        // why it failed
	figures []string      // measured figures the case reported (FIGURE lines)
}

type cell struct{ c, user, fam string }

func TestCompat(t *testing.T) {
	run := testutil.ZtncRun(t)
	ztnc := filepath.Join(filepath.Dir(run), "ztnc")
	if _, err := os.Stat(ztnc); err != nil {
		t.Fatalf("ztnc not found next to ztnc-run (run `make build`): %v", err)
	}
	selected := cases
	if s := os.Getenv("COMPAT_CASES"); s != "" {
		want := strings.Fields(s)
		selected = nil
		for _, c := range cases {
			if slices.Contains(want, c.name) {
				selected = append(selected, c)
			}
		}
		if len(selected) != len(want) {
			t.Fatalf("COMPAT_CASES=%q names a case that does not exist", s)
		}
	}
	resDir := filepath.Join(testutil.RepoRoot(), "tests", "_results")
	if err := os.MkdirAll(resDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range selected { // stale verdicts of the cases about to run
		old, _ := filepath.Glob(filepath.Join(resDir, "*."+c.name+".*"))
		for _, f := range append(old, filepath.Join(resDir, "OK."+c.name), filepath.Join(resDir, "FAIL."+c.name)) {
			os.Remove(f)
		}
	}

	lab := labUp(t, ztnc)
	users := testutil.Users()
	results := map[cell]result{}
	start := time.Now()
	for _, c := range selected {
		t.Run(c.name, func(t *testing.T) {
			env, prepErr := []string(nil), error(nil)
			if err := checkNeeds(c); err != nil {
				prepErr = err
			} else if c.prep != nil {
				env, prepErr = c.prep(t)
			}
			for _, u := range users {
				t.Run(u.Name, func(t *testing.T) {
					var rep *report
					if prepErr != nil {
						rep = &report{c: c, user: u.Name}
						rep.fail("4", "prerequisite: "+prepErr.Error())
						rep.fail("6", "prerequisite: "+prepErr.Error())
					} else {
						rep = runCase(t, lab, run, c, u, env)
					}
					for _, fam := range []string{"4", "6"} {
						r := rep.res[fam]
						results[cell{c.name, u.Name, fam}] = r
						verdict := "OK"
						if !r.ok {
							verdict = "FAIL"
							t.Errorf("%s as %s over IPv%s: FAIL: %s (see %s)", c.name, u.Name, fam, r.note,
								filepath.Join(resDir, fmt.Sprintf("FAIL.%s.%s.ipv%s", c.name, u.Name, fam)))
						}
						name := fmt.Sprintf("%s.%s.%s.ipv%s", verdict, c.name, u.Name, fam)
						if err := os.WriteFile(filepath.Join(resDir, name), rep.file(fam), 0o644); err != nil {
							t.Error(err)
						}
					}
				})
			}
			writeCaseVerdict(t, resDir, c, users, results)
		})
	}
	summary := summarize(selected, users, results, time.Since(start))
	if err := os.WriteFile(filepath.Join(resDir, "SUMMARY.md"), []byte(summary), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("compatibility matrix (also in %s):\n%s", filepath.Join(resDir, "SUMMARY.md"), summary)
}

// writeCaseVerdict leaves OK.<case> (every cell passed) or FAIL.<case>, the
// old harness's convention, listing the cells and their files.
func writeCaseVerdict(t *testing.T, resDir string, c compatCase, users []testutil.User, results map[cell]result) {
	var b strings.Builder
	verdict := "OK"
	fmt.Fprintf(&b, "case: %s (%s)\n", c.name, c.row)
	for _, u := range users {
		for _, fam := range []string{"4", "6"} {
			r, ok := results[cell{c.name, u.Name, fam}]
			v := "OK"
			if !ok || !r.ok {
				v, verdict = "FAIL", "FAIL"
			}
			fmt.Fprintf(&b, "%s IPv%s: %s %s (details: %s.%s.%s.ipv%s)\n", u.Name, fam, v, r.note, v, c.name, u.Name, fam)
		}
	}
	if err := os.WriteFile(filepath.Join(resDir, verdict+"."+c.name), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}

// checkNeeds fails a case whose programs are missing, naming the packages.
func checkNeeds(c compatCase) error {
	for _, p := range c.needs {
		if _, err := lookPath(p); err != nil {
			return fmt.Errorf("%s not found in %s (Debian packages: %s; .ci/setup installs them)", p, scriptPATH, c.pkgs)
		}
	}
	return nil
}

func lookPath(name string) (string, error) {
	if filepath.IsAbs(name) {
		if st, err := os.Stat(name); err != nil || st.Mode()&0o111 == 0 {
			return "", exec.ErrNotFound
		}
		return name, nil
	}
	for _, d := range filepath.SplitList(scriptPATH) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// lab is the network every case runs on.
type lab struct{ planet, nwid string }

func labUp(t *testing.T, ztnc string) lab {
	dir := filepath.Join(testutil.SharedTempDir(t), "lab")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ztnc, "lab", "up", "--dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("ztnc lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, ztnc, "lab", "down", "--dir", dir).CombinedOutput(); err != nil {
			t.Errorf("ztnc lab down: %v\n%s", err, out)
		}
	})
	var l lab
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(string(out)), "export ")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "ZTNC_PLANET":
			l.planet = v
		case "ZT_NC_NWID":
			l.nwid = v
		}
	}
	if l.planet == "" || len(l.nwid) != 16 {
		t.Fatalf("ztnc lab up printed %q, want export ZTNC_PLANET=… ZT_NC_NWID=…", out)
	}
	return l
}

// A report collects what one (case, user) run did, for the result files.
type report struct {
	c        compatCase
	user     string
	argvA    []string
	argvB    []string
	env      []string
	outA     string
	outB     string
	readyIn  time.Duration
	clientIn time.Duration
	res      map[string]result
}

func (r *report) fail(fam, note string) {
	if r.res == nil {
		r.res = map[string]result{}
	}
	r.res[fam] = result{note: note}
}

// file is the content of OK/FAIL.<case>.<user>.ipv<fam>.
func (r *report) file(fam string) []byte {
	var b bytes.Buffer
	res := r.res[fam]
	verdict := "OK"
	if !res.ok {
		verdict = "FAIL: " + res.note
	}
	fmt.Fprintf(&b, "case:    %s (%s)\nuser:    %s\nfamily:  IPv%s\nverdict: %s\n", r.c.name, r.c.row, r.user, fam, verdict)
	fmt.Fprintf(&b, "timings: node A ready in %v; node B ran %v; IPv%s checks %v\n\n",
		r.readyIn.Round(time.Millisecond), r.clientIn.Round(time.Millisecond), fam, res.elapsed)
	fmt.Fprintf(&b, "environment: %s\nnode A: %s\nnode B: %s\n\n", strings.Join(r.env, " "),
		strings.Join(r.argvA, " "), strings.Join(r.argvB, " "))
	fmt.Fprintf(&b, "===== node B (client) output =====\n%s\n===== node A (server) output =====\n%s", r.outB, r.outA)
	return b.Bytes()
}

var (
	resultLine = regexp.MustCompile(`(?m)^RESULT ipv([46]) (OK|FAIL) (\d+)ms`)
	figureLine = regexp.MustCompile(`(?m)^FIGURE ipv([46]) (.+)$`)
)

// runCase runs one case as u: node A's server, then node B's client.
func runCase(t *testing.T, l lab, run string, c compatCase, u testutil.User, extraEnv []string) *report {
	rep := &report{c: c, user: u.Name, res: map[string]result{}}
	base := testutil.SharedTempDir(t)
	work := filepath.Join(base, "work")
	if err := os.Mkdir(work, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, 0o777)
	// Scripts copied where uid 65534 can read them.
	scripts := filepath.Join(base, "cases")
	os.Mkdir(scripts, 0o755)
	files, err := filepath.Glob(filepath.Join("cases", "*.sh")) // the case, lib.sh and shared parts
	if err != nil || len(files) == 0 {
		t.Fatalf("no case scripts: %v", err)
	}
	for _, f := range files {
		f = filepath.Base(f)
		b, err := os.ReadFile(filepath.Join("cases", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scripts, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	homes := homesFor(t, u)
	env := append([]string{
		"PATH=" + scriptPATH, "HOME=" + work, "TMPDIR=" + work, "LANG=C.UTF-8",
		"WORK=" + work, "PORT=20080", "PORT2=20081", "PORT3=20082",
		"ZTNC_PLANET=" + l.planet, "ZT_NC_NWID=" + l.nwid,
	}, extraEnv...)
	rep.env = env
	script := filepath.Join(scripts, c.name+".sh")
	var verbose []string
	if os.Getenv("COMPAT_VERBOSE") == "1" {
		verbose = []string{"-v"} // the nodes' and supervisors' debug logs in the result files
	}
	rep.argvA = u.Wrap(append(append([]string{run}, verbose...), "-d", homes.dir[0], "--port", fmt.Sprint(homes.port[0]), "--", "sh", script, "server")...)
	rep.argvB = u.Wrap(append(append([]string{run}, verbose...), "-d", homes.dir[1], "--port", fmt.Sprint(homes.port[1]), "--", "sh", script, "client")...)

	// Node A, in the background until the client is done.
	var outA bytes.Buffer
	a := exec.Command(rep.argvA[0], rep.argvA[1:]...)
	a.Dir, a.Env, a.Stdout, a.Stderr = work, env, &outA, &outA
	a.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.WaitDelay = 5 * time.Second
	t0 := time.Now()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	doneA := make(chan error, 1)
	go func() { doneA <- a.Wait() }()
	stopA := func() {
		// ztnc-run forwards SIGTERM to the script, whose trap stops the
		// server; ztnc-run then ends what is left after its --grace.
		syscall.Kill(a.Process.Pid, syscall.SIGTERM)
		select {
		case <-doneA:
		case <-time.After(15 * time.Second):
			syscall.Kill(-a.Process.Pid, syscall.SIGKILL)
			<-doneA
		}
		rep.outA = outA.String()
	}

	var aAddrs string
	ready := false
	deadline := time.After(readyTimeout)
wait:
	for {
		select {
		case err := <-doneA:
			doneA <- err
			break wait
		case <-deadline:
			break wait
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := os.Stat(filepath.Join(work, "ready")); err == nil {
			ready = true
			break
		}
	}
	rep.readyIn = time.Since(t0)
	if !ready {
		stopA()
		note := fmt.Sprintf("node A's server was not ready within %v", readyTimeout)
		if a.ProcessState != nil {
			note = fmt.Sprintf("node A ended before its server was ready (%v)", a.ProcessState)
		}
		rep.fail("4", note)
		rep.fail("6", note)
		return rep
	}
	a4, a6, err := addrsOf(outA.String())
	if err != nil {
		stopA()
		rep.fail("4", err.Error())
		rep.fail("6", err.Error())
		return rep
	}
	aAddrs = "A4=" + a4.String() + " A6=" + a6.String()
	rep.env = append(rep.env, strings.Fields(aAddrs)...)

	timeout := c.timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t1 := time.Now()
	outB, errB := testutil.RunGroup(ctx, work, append(env, strings.Fields(aAddrs)...), rep.argvB...)
	rep.clientIn = time.Since(t1)
	rep.outB = string(outB)
	stopA()

	for _, m := range resultLine.FindAllStringSubmatch(rep.outB, -1) {
		var ms int64
		fmt.Sscan(m[3], &ms)
		r := result{ok: m[2] == "OK", elapsed: time.Duration(ms) * time.Millisecond}
		if !r.ok {
			r.note = "client checks failed: " + firstFail(rep.outB, m[1])
		}
		rep.res[m[1]] = r
	}
	for _, m := range figureLine.FindAllStringSubmatch(rep.outB, -1) {
		if r, ok := rep.res[m[1]]; ok {
			r.figures = append(r.figures, m[2])
			rep.res[m[1]] = r
		}
	}
	for _, fam := range []string{"4", "6"} {
		if _, ok := rep.res[fam]; ok {
			continue
		}
		note := fmt.Sprintf("node B gave no verdict (%v)", errB)
		if ctx.Err() != nil {
			note = fmt.Sprintf("node B timed out after %v", timeout)
		}
		rep.fail(fam, note)
	}
	return rep
}

// firstFail is the first "FAIL:" line of family fam's part of out.
func firstFail(out, fam string) string {
	part := out
	if i := strings.Index(out, "===== ipv"+fam); i >= 0 {
		part = out[i:]
	}
	for _, line := range strings.Split(part, "\n") {
		if i := strings.Index(line, "FAIL: "); i >= 0 {
			return line[i+len("FAIL: "):]
		}
	}
	return "see the output"
}

// addrsOf reads node A's addresses from the line its script logs.
func addrsOf(out string) (v4, v6 netip.Addr, err error) {
	m := regexp.MustCompile(`node A: (\S+) (\S+) as uid`).FindStringSubmatch(out)
	if m == nil {
		return v4, v6, fmt.Errorf("node A did not report its addresses")
	}
	v4, err1 := netip.ParseAddr(m[1])
	v6, err2 := netip.ParseAddr(m[2])
	if err1 != nil || err2 != nil || !v4.Is4() || !netip.MustParsePrefix("fd00::/8").Contains(v6) {
		return v4, v6, fmt.Errorf("node A's addresses %q %q: want IPv4 and RFC4193 IPv6", m[1], m[2])
	}
	return v4, v6, nil
}

// nodes are node A's and node B's HOME and UDP port for one user, the same
// for every case: identities are made once, and each node comes back on the
// same port, since a peer does not learn a new port on an IP whose old path
// still looks alive (ZeroTier 1.14's rule) and would answer the dead port
// for up to 19 s. (Other tests on this machine take 9993 and leave it again,
// so ztnc-run's default could move.) Each case still starts both nodes anew.
type nodes struct {
	dir  [2]string
	port [2]int
}

var homes = map[string]nodes{}

func homesFor(t *testing.T, u testutil.User) nodes {
	if h, ok := homes[u.Name]; ok {
		return h
	}
	d, err := os.MkdirTemp("", "ztnc-compat-homes-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o777)
	h := nodes{dir: [2]string{filepath.Join(d, "home-a"), filepath.Join(d, "home-b")}}
	taken := map[int]bool{}
	for _, n := range homes {
		taken[n.port[0]], taken[n.port[1]] = true, true
	}
	for i := range h.port {
		h.port[i] = nodePort(t, taken)
		taken[h.port[i]] = true
	}
	homes[u.Name] = h
	return h
}

// nodePort picks a port below Linux's ephemeral range (32768-60999), so that
// no other program is handed it by the kernel meanwhile, whose UDP (any
// address) and TCP (127.0.0.1, the node's API) are free now.
func nodePort(t *testing.T, taken map[int]bool) int {
	for i := 0; i < 200; i++ {
		p := 21000 + rand.IntN(11000)
		if taken[p] {
			continue
		}
		u, err := net.ListenUDP("udp", &net.UDPAddr{Port: p})
		if err != nil {
			continue
		}
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free port for a node")
	return 0
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, h := range homes {
		os.RemoveAll(filepath.Dir(h.dir[0]))
	}
	os.Exit(code)
}

// summarize renders the matrix as Markdown.
func summarize(cs []compatCase, users []testutil.User, res map[cell]result, took time.Duration) string {
	var b strings.Builder
	commit, _ := exec.Command("git", "-C", testutil.RepoRoot(), "describe", "--always", "--dirty", "--abbrev=12").Output()
	kernel, _ := exec.Command("uname", "-r").Output()
	fmt.Fprintf(&b, "ztnc compatibility matrix: commit %s, %s, Linux %s, %s/%s, %d CPUs; whole run %v.\n",
		strings.TrimSpace(string(commit)), time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(string(kernel)),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), took.Round(time.Second))
	b.WriteString("Server on node A, client on node B (two `ztnc-run --nwid` on a `ztnc lab` network); each cell is one family's client checks.\n\n")
	b.WriteString("| case | what runs |")
	for _, u := range users {
		fmt.Fprintf(&b, " %s IPv4 | %s IPv6 |", u.Name, u.Name)
	}
	b.WriteString("\n|---|---|")
	for range users {
		b.WriteString("---|---|")
	}
	b.WriteString("\n")
	failed := 0
	for _, c := range cs {
		fmt.Fprintf(&b, "| %s | %s |", c.name, c.row)
		for _, u := range users {
			for _, fam := range []string{"4", "6"} {
				r, ok := res[cell{c.name, u.Name, fam}]
				switch {
				case !ok:
					b.WriteString(" not run |")
					failed++
				case r.ok:
					fmt.Fprintf(&b, " OK (%.1f s) |", r.elapsed.Seconds())
				default:
					b.WriteString(" **FAIL** |")
					failed++
				}
			}
		}
		b.WriteString("\n")
	}
	if failed > 0 {
		fmt.Fprintf(&b, "\n%d cells failed or did not run; details in tests/_results/FAIL.*.\n", failed)
	} else {
		b.WriteString("\nEvery cell passed.\n")
	}
	var figs strings.Builder
	for _, c := range cs {
		for _, u := range users {
			for _, fam := range []string{"4", "6"} {
				for _, f := range res[cell{c.name, u.Name, fam}].figures {
					fmt.Fprintf(&figs, "| %s | %s | IPv%s | %s |\n", c.name, u.Name, fam, f)
				}
			}
		}
	}
	if figs.Len() > 0 {
		b.WriteString("\nFigures measured (node B to node A, both under ztnc-run, on a loaded shared machine: indicative only):\n\n")
		b.WriteString("| case | user | family | figure |\n|---|---|---|---|\n")
		b.WriteString(figs.String())
	}
	return b.String()
}
