// Command bench compares, side by side in one run, the same micro-benchmarks
// bare on the host kernel and under `ztnc-run --local`, and prints the ratios.
// It is a benchmark, not a test: nothing here asserts a time.
//
//	make bench          (or: ZTNC_RUN=bin/ztnc-run go run ./tests/bench)
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type result map[string]float64

func main() {
	ztnc := os.Getenv("ZTNC_RUN")
	if ztnc == "" {
		ztnc = "bin/ztnc-run"
	}
	if _, err := os.Stat(ztnc); err != nil {
		fail("ztnc-run not found at %s (make build): %v", ztnc, err)
	}
	dir, err := os.MkdirTemp("", "ztnc-bench")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(dir)
	_, self, _, _ := runtime.Caller(0)
	bin := filepath.Join(dir, "bench")
	if out, err := exec.Command("gcc", "-O2", "-o", bin, filepath.Join(filepath.Dir(self), "c", "bench.c")).CombinedOutput(); err != nil {
		fail("compiling c/bench.c: %v\n%s", err, out)
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	modes := [][]string{{"trap", "20000"}, {"untrapped", "2000000"}, {"read", "1000000"}, {"bulk", "512"}, {"connrate", "2"}}
	bare, under := result{}, result{}
	for _, m := range modes {
		// Alternate bare and supervised runs; keep each key's median.
		var b, u []result
		for i := 0; i < rounds; i++ {
			b = append(b, run(append([]string{bin}, m...)))
			u = append(u, run(append([]string{ztnc, "--local", "10.9.0.1/24", "--", bin}, m...)))
		}
		merge(bare, b)
		merge(under, u)
	}
	fmt.Printf("ztnc bench: median of %d alternating rounds, %d CPUs\n\n", rounds, runtime.NumCPU())
	fmt.Printf("%-32s %14s %14s %10s\n", "measure", "bare", "ztnc-run", "ratio")
	row := func(name, key, unit string, higherBetter bool) {
		r := under[key] / bare[key]
		if !higherBetter {
			r = bare[key] / under[key]
		}
		fmt.Printf("%-32s %14s %14s %10.3f\n", name, fmtv(bare[key], unit), fmtv(under[key], unit), r)
	}
	row("trapped call, median (µs)", "trap_median_us", "µs", false)
	row("trapped call, p99 (µs)", "trap_p99_us", "µs", false)
	row("untrapped getppid (calls/s)", "untrapped_per_s", "/s", true)
	row("untrapped read 4 KiB (calls/s)", "read4k_per_s", "/s", true)
	row("TCP bulk 127.0.0.1 (MB/s)", "bulk_MBps", "MB/s", true)
	row("new connections (conn/s)", "conn_per_s", "/s", true)
	row("peak RSS during bulk (MB)", "bulk_maxrss_MB", "MB", false)
	row("peak RSS during connections (MB)", "connrate_maxrss_MB", "MB", false)
	fmt.Println("\nratio: ztnc-run relative to bare (1.0 = same; higher is better).")
	fmt.Println("The trapped call is getsockopt(SO_TYPE): bare, the kernel answers; under ztnc-run, the supervisor.")
	labBench(bin, ztnc, dir)
}

// labBench: two programs on two ztnc nodes over a lab network (each its own
// ztnc-run --nwid, frames over ZeroTier's encrypted UDP on 127.0.0.1), next
// to the same pair over plain loopback.
func labBench(bin, ztncRun, dir string) {
	ztnc := filepath.Join(filepath.Dir(ztncRun), "ztnc")
	lab := filepath.Join(dir, "lab")
	out, err := exec.Command(ztnc, "lab", "up", "--dir", lab).CombinedOutput()
	if err != nil {
		fail("ztnc lab up: %v\n%s", err, out)
	}
	defer exec.Command(ztnc, "lab", "down", "--dir", lab).Run()
	var planet, nwid string
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "ZTNC_PLANET="); ok {
			planet = v
		}
		if v, ok := strings.CutPrefix(f, "ZT_NC_NWID="); ok {
			nwid = v
		}
	}
	clients := func(host string) string {
		return fmt.Sprintf("%[1]s source %[2]s 5101 256 1 && %[1]s source %[2]s 5101 64 4 && %[1]s connclient %[2]s 5102 2 && ping -n -q -c 10 -i 0.2 %[2]s", bin, host)
	}
	servers := fmt.Sprintf("%[1]s sink 5101 & exec %[1]s echo 5102", bin)

	// Plain loopback.
	srv := exec.Command("sh", "-c", servers)
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		fail("%v", err)
	}
	time.Sleep(300 * time.Millisecond)
	bare := parseLab(runSh(clients("127.0.0.1")))
	syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
	srv.Wait()

	// Two ztnc nodes.
	addrs := filepath.Join(dir, "addrs")
	a := exec.Command(ztncRun, "-d", filepath.Join(dir, "home-a"), "--planet", planet, "--nwid", nwid, "--",
		"sh", "-c", `echo "$ZTNC_ADDRS" > `+addrs+`.tmp && mv `+addrs+`.tmp `+addrs+`; `+servers)
	a.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.Start(); err != nil {
		fail("%v", err)
	}
	defer func() { syscall.Kill(-a.Process.Pid, syscall.SIGTERM); a.Wait() }()
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
	time.Sleep(300 * time.Millisecond)
	zt := parseLab(runSh(ztncRun + " -d " + filepath.Join(dir, "home-b") + " --planet " + planet + " --nwid " + nwid + " -- sh -c '" + clients(host) + "'"))

	fmt.Printf("\nTwo programs on two ztnc nodes over a lab network (ZeroTier over UDP on 127.0.0.1)\n\n")
	fmt.Printf("%-32s %14s %14s %10s\n", "measure", "loopback", "ztnc nodes", "ratio")
	for _, r := range []struct{ name, key string }{
		{"TCP bulk, 1 stream (MB/s)", "streams1_MBps"},
		{"TCP bulk, 4 streams (MB/s)", "streams4_MBps"},
		{"new connections (conn/s)", "conn_per_s"},
		{"ping RTT avg (ms)", "rtt_ms"},
	} {
		ratio := zt[r.key] / bare[r.key]
		if r.key == "rtt_ms" {
			ratio = bare[r.key] / zt[r.key]
		}
		fmt.Printf("%-32s %14s %14s %10.3f\n", r.name, fmtv(bare[r.key], ""), fmtv(zt[r.key], ""), ratio)
	}
}

func runSh(cmd string) string {
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		fail("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// parseLab reads key=value lines and ping's rtt summary.
func parseLab(out string) result {
	r := result{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				r[k] = f
			}
		}
		if _, v, ok := strings.Cut(line, "rtt min/avg/max/mdev = "); ok {
			if p := strings.Split(v, "/"); len(p) > 1 {
				r["rtt_ms"], _ = strconv.ParseFloat(p[1], 64)
			}
		}
	}
	return r
}

func fmtv(v float64, unit string) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func run(argv []string) result {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		fail("%s: %v\n%s", strings.Join(argv, " "), err, errb.String())
	}
	r := result{}
	// Peak RSS of the process tree's largest member: under ztnc-run, that is
	// ztnc-run itself (stack and supervisor); bare, the benchmark program.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r[argv[len(argv)-2]+"_maxrss_MB"] = float64(ru.Maxrss) / 1024
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			r[k] = f
		}
	}
	return r
}

func merge(dst result, rs []result) {
	for k := range rs[0] {
		var vs []float64
		for _, r := range rs {
			vs = append(vs, r[k])
		}
		sort.Float64s(vs)
		dst[k] = vs[len(vs)/2]
	}
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...)
	os.Exit(1)
}
