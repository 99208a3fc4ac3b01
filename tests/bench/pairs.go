package main

// Two programs on two hosts of one network, three ways side by side: plain
// loopback, two ztnc nodes over a `ztnc lab` network (each a ztnc-run
// --nwid; ZeroTier over UDP on 127.0.0.1), and, with ZT_REF_BIN, two
// ZeroTier One members with kernel taps in network namespaces. The same
// programs measure each: iperf3 (1 and 4 streams), wrk against nginx with a
// new connection per request, ping; and the peak memory of the two nodes.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ztnc/tests/reflab"
)

// pair runs the client script against host; servers are already up.
type pair struct {
	name   string
	host   string
	client func(script string) (string, error)
	// peakRSS, if not nil, gives the peak RSS in MB over the whole benchmark
	// of the server's node and the client's.
	peakRSS func() (a, b float64)
}

func pairsBench(ztncRun, dir string, rounds int) {
	for _, p := range []string{"iperf3", "wrk", "nginx", "ping"} {
		if _, err := exec.LookPath(p); err != nil {
			fail("the network pairs need %s (apt-get install iperf3 wrk nginx iputils-ping): %v", p, err)
		}
	}
	secs := 4
	if v, err := strconv.Atoi(os.Getenv("BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	var pairs []pair
	defer runCleanups()

	// Plain loopback, on ports free on the host.
	ipPort, httpPort := freePort(), freePort()
	stop, _ := startServers(dir, "lo", ipPort, httpPort, nil, nil)
	atExit(stop)
	pairs = append(pairs, pair{name: "loopback", host: "127.0.0.1", client: func(s string) (string, error) {
		return output(exec.Command("sh", "-c", s))
	}})
	lo := pairs[0]
	loScript := func(host string) string { return clientScript(host, ipPort, httpPort, secs) }

	// Two ztnc nodes over a lab network.
	ztnc := filepath.Join(filepath.Dir(ztncRun), "ztnc")
	lab := filepath.Join(dir, "lab")
	out, err := exec.Command(ztnc, "lab", "up", "--dir", lab).CombinedOutput()
	if err != nil {
		fail("ztnc lab up: %v\n%s", err, out)
	}
	atExit(func() { exec.Command(ztnc, "lab", "down", "--dir", lab).Run() })
	var planet, nwid string
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "ZTNC_PLANET="); ok {
			planet = v
		}
		if v, ok := strings.CutPrefix(f, "ZT_NC_NWID="); ok {
			nwid = v
		}
	}
	prof := os.Getenv("BENCH_CPUPROFILE") // a directory: ztnc-run's CPU profiles of node A and B
	profEnv := func(node string) []string {
		if prof == "" {
			return nil
		}
		return []string{"ZTNC_CPUPROFILE=" + filepath.Join(prof, node+".prof")}
	}
	addrs := filepath.Join(dir, "addrs")
	zArgv := []string{ztncRun, "-d", filepath.Join(dir, "home-a"), "--planet", planet, "--nwid", nwid, "--", "sh", "-c",
		`echo "$ZTNC_ADDRS" > ` + addrs + `.tmp && mv ` + addrs + `.tmp ` + addrs + `; exec sh -c "$0"`}
	stop, pidA := startServers(dir, "ztnc", 5201, 8088, zArgv, profEnv("a"))
	atExit(stop)
	var host string
	for i := 0; i < 600 && host == ""; i++ {
		time.Sleep(100 * time.Millisecond)
		b, _ := os.ReadFile(addrs)
		for _, f := range strings.Fields(string(b)) {
			if ip, _, ok := strings.Cut(f, "/"); ok && strings.Contains(ip, ".") {
				host = ip
			}
		}
	}
	if host == "" {
		fail("node A got no address on the lab network")
	}
	var peakB float64 // node B is a new ztnc-run each round
	pairs = append(pairs, pair{name: "ztnc nodes", host: host, client: func(s string) (string, error) {
		c := exec.Command(ztncRun, "-d", filepath.Join(dir, "home-b"), "--planet", planet, "--nwid", nwid, "--", "sh", "-c", s)
		c.Env = append(os.Environ(), profEnv("b")...)
		out, err := output(c)
		// The peak of the process tree's largest member: ztnc-run itself
		// (stack, supervisor and node), not sh, wrk or iperf3.
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peakB = max(peakB, float64(ru.Maxrss)/1024)
		}
		return out, err
	}, peakRSS: func() (float64, float64) { return peakRSSOf(pidA), peakB }})

	// Two reference members.
	if bin := os.Getenv("ZT_REF_BIN"); bin != "" {
		rdir := filepath.Join(dir, "ref")
		os.Mkdir(rdir, 0o700)
		l, err := reflab.Up(bin, rdir, "b"+strconv.Itoa(os.Getpid()%10000))
		if err != nil {
			fail("reference network: %v", err)
		}
		atExit(l.Close)
		b, err := l.AddMember()
		if err != nil {
			fail("reference member: %v", err)
		}
		stop, _ := startServers(dir, "ref", 5201, 8088, []string{"ip", "netns", "exec", l.NSA, "sh", "-c", `exec sh -c "$0"`}, nil)
		atExit(stop)
		pairs = append(pairs, pair{name: "zerotier-one", host: l.A.IP4.String(), client: func(s string) (string, error) {
			return output(exec.Command("ip", "netns", "exec", l.NSB, "sh", "-c", s))
		}, peakRSS: func() (float64, float64) { return peakRSSOf(l.A.Pid()), peakRSSOf(b.Pid()) }})
	}
	time.Sleep(500 * time.Millisecond)

	// Rounds alternate between the pairs; each measure keeps its median.
	all := make([][]result, len(pairs))
	for r := 0; r < rounds; r++ {
		for i, p := range pairs {
			script := clientScript(p.host, 5201, 8088, secs)
			if p.name == lo.name {
				script = loScript(p.host)
			}
			out, err := p.client(script)
			res := parsePair(out)
			if err != nil || len(res) < 4 {
				// A round with a measure missing counts for the others.
				fmt.Fprintf(os.Stderr, "bench: %s pair, round %d: %d of 4 measures (%v)\n%s\n", p.name, r+1, len(res), err, out)
			}
			all[i] = append(all[i], res)
		}
	}
	med := make([]result, len(pairs))
	for i, p := range pairs {
		med[i] = result{}
		merge(med[i], all[i])
		if p.peakRSS != nil {
			med[i]["rssA_MB"], med[i]["rssB_MB"] = p.peakRSS()
		}
	}

	fmt.Printf("\nTwo programs on two hosts of one network: median of %d rounds, %d s each measure\n", rounds, secs)
	fmt.Println("(ztnc nodes: each a ztnc-run --nwid, ZeroTier over UDP on 127.0.0.1; zerotier-one: two reference")
	fmt.Println(" members with kernel taps in network namespaces. iperf3; wrk -t1 -c16 with a new connection per")
	fmt.Println(" request against nginx, and the machine's busy CPU time over its requests; ping -i 0.2; the peak")
	fmt.Println(" RSS of each node's process over the whole benchmark: ztnc-run, or zerotier-one without the kernel)")
	fmt.Println()
	fmt.Printf("%-30s", "measure")
	for _, p := range pairs {
		fmt.Printf(" %13s", p.name)
	}
	fmt.Printf(" %12s", "ztnc/lo")
	if len(pairs) > 2 {
		fmt.Printf(" %12s", "ztnc/zt-one")
	}
	fmt.Println()
	for _, r := range []struct {
		name, key    string
		higherBetter bool
	}{
		{"TCP, 1 stream (Mbit/s)", "s1_Mbps", true},
		{"TCP, 4 streams (Mbit/s)", "s4_Mbps", true},
		{"HTTP new conns (req/s)", "rps", true},
		{"HTTP CPU per request (us)", "cpu_us", false},
		{"ping RTT avg (ms)", "rtt_ms", false},
		{"peak RSS, server node (MB)", "rssA_MB", false},
		{"peak RSS, client node (MB)", "rssB_MB", false},
	} {
		fmt.Printf("%-30s", r.name)
		for i := range pairs {
			v, ok := med[i][r.key]
			if !ok {
				fmt.Printf(" %13s", "-") // loopback has no node
				continue
			}
			fmt.Printf(" %13s", fmtv(v, ""))
		}
		ratio := func(i int) string {
			a, b := med[1][r.key], med[i][r.key]
			if a == 0 || b == 0 {
				return "-"
			}
			if r.higherBetter {
				return fmt.Sprintf("%.3f", a/b)
			}
			return fmt.Sprintf("%.3f", b/a)
		}
		fmt.Printf(" %12s", ratio(0))
		if len(pairs) > 2 {
			fmt.Printf(" %12s", ratio(2))
		}
		fmt.Println()
	}
	fmt.Println("\nratios: ztnc nodes relative to the other pair (higher is better for ztnc).")
	if len(pairs) < 3 {
		fmt.Println("(set ZT_REF_BIN=/path/to/zerotier-one, as root, to add the ZeroTier One pair)")
	}
}

// startServers runs iperf3 -s and nginx (a config of its own under dir),
// under wrap (argv ending in sh -c '…"$0"'; nil: directly) with env added,
// and returns their stop and the pid of wrap's process.
func startServers(dir, name string, ipPort, httpPort int, wrap, env []string) (stop func(), pid int) {
	d := filepath.Join(dir, "nginx-"+name)
	os.MkdirAll(d, 0o755)
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server { listen %[2]d; listen [::]:%[2]d; location / { return 200 "hello\n"; } }
}
`, d, httpPort)
	if err := os.WriteFile(filepath.Join(d, "nginx.conf"), []byte(conf), 0o644); err != nil {
		fail("%v", err)
	}
	script := fmt.Sprintf(`iperf3 -s -p %d >/dev/null 2>&1 & exec nginx -c %s/nginx.conf -g 'daemon off;'`, ipPort, d)
	argv := append(append([]string(nil), wrap...), script)
	if wrap == nil {
		argv = []string{"sh", "-c", script}
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = append(os.Environ(), env...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		fail("%s servers: %v", name, err)
	}
	return func() {
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}, c.Process.Pid
}

// peakRSSOf is a running process's peak RSS (VmHWM) in MB; 0 if unknown.
func peakRSSOf(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// clientScript waits for the servers, then measures; sections are marked
// with lines "==name".
func clientScript(host string, ipPort, httpPort, secs int) string {
	// iperf3's server takes one test at a time and refuses the next one
	// until it has seen the last one's connections close: the client waits
	// a second between tests and tries a refused one again.
	return fmt.Sprintf(`m() { for t in 1 2 3 4 5; do out=$("$@") && { echo "$out"; return; }; sleep 2; done; echo "$out"; }
for i in $(seq 100); do ping -n -c 1 -W 1 %[1]s >/dev/null 2>&1 && break; sleep 0.2; done
m iperf3 -c %[1]s -p %[2]d -t 1 -J >/dev/null; sleep 1
echo ==s1; m iperf3 -c %[1]s -p %[2]d -t %[4]d -J; sleep 1
echo ==s4; m iperf3 -c %[1]s -p %[2]d -t %[4]d -P 4 -J
echo ==cpu0; head -1 /proc/stat
echo ==wrk; m wrk -t1 -c16 -d%[4]ds -H 'Connection: close' http://%[1]s:%[3]d/
echo ==cpu1; head -1 /proc/stat
echo ==ping; ping -n -q -c 10 -i 0.2 %[1]s
`, host, ipPort, httpPort, secs)
}

var (
	rpsRE  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reqsRE = regexp.MustCompile(`([0-9]+) requests in`)
)

// clockTicks is the unit of /proc/stat: USER_HZ, 100 on every Linux ABI.
const clockTicks = 100

// busyTicks reads the first line of /proc/stat: the machine's CPU time
// spent other than idle, in clock ticks.
func busyTicks(line string) (float64, bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy float64
	for i, v := range f[1:9] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, true
}

// parsePair reads clientScript's output.
func parsePair(out string) result {
	r := result{}
	secs := map[string]string{}
	cur := ""
	for _, line := range strings.SplitAfter(out, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "=="); ok {
			cur = name
			continue
		}
		secs[cur] += line
	}
	for _, k := range []string{"s1", "s4"} {
		var j struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if json.Unmarshal([]byte(secs[k]), &j) == nil && j.End.SumReceived.BitsPerSecond > 0 {
			r[k+"_Mbps"] = j.End.SumReceived.BitsPerSecond / 1e6
		}
	}
	if m := rpsRE.FindStringSubmatch(secs["wrk"]); m != nil {
		r["rps"], _ = strconv.ParseFloat(m[1], 64)
	}
	// The whole machine's CPU time per request: what a request costs,
	// steadier than the rate (which the latency of a connection's steps
	// also caps when the CPUs are not saturated).
	b0, ok0 := busyTicks(secs["cpu0"])
	b1, ok1 := busyTicks(secs["cpu1"])
	if m := reqsRE.FindStringSubmatch(secs["wrk"]); m != nil && ok0 && ok1 && b1 > b0 {
		if n, _ := strconv.ParseFloat(m[1], 64); n > 0 {
			r["cpu_us"] = (b1 - b0) * 1e6 / clockTicks / n
		}
	}
	if _, v, ok := strings.Cut(secs["ping"], "rtt min/avg/max/mdev = "); ok {
		if p := strings.Split(v, "/"); len(p) > 1 {
			r["rtt_ms"], _ = strconv.ParseFloat(p[1], 64)
		}
	}
	return r
}

func output(c *exec.Cmd) (string, error) {
	out, err := c.CombinedOutput()
	return string(out), err
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
