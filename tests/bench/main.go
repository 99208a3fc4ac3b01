// Command bench compares, side by side in one run, the same micro-benchmarks
// bare on the host kernel and under `ztnc-run --local`, then two programs on
// two hosts of one network over loopback, two ztnc nodes and (with
// ZT_REF_BIN) two ZeroTier One members, and prints the ratios. It is a
// benchmark, not a test: nothing here asserts a time.
//
//	make bench          (or: ZTNC_RUN=bin/ztnc-run go run ./tests/bench)
//
// BENCH_ROUNDS (default 3), BENCH_SECONDS (each network measure, default 4),
// BENCH_PAIRS_ONLY=1 (skip the micro-benchmarks), BENCH_CPUPROFILE=DIR (CPU
// profiles of the two ztnc nodes), ZT_REF_BIN (as root).
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
	atExit(func() { os.RemoveAll(dir) })
	defer runCleanups()
	_, self, _, _ := runtime.Caller(0)
	bin := filepath.Join(dir, "bench")
	if out, err := exec.Command("gcc", "-O2", "-o", bin, filepath.Join(filepath.Dir(self), "c", "bench.c")).CombinedOutput(); err != nil {
		fail("compiling c/bench.c: %v\n%s", err, out)
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	if os.Getenv("BENCH_PAIRS_ONLY") != "" {
		pairsBench(ztnc, dir, rounds)
		return
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
	pairsBench(ztnc, dir, rounds)
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

// merge keeps each key's median over the results that have it.
func merge(dst result, rs []result) {
	keys := map[string]bool{}
	for _, r := range rs {
		for k := range r {
			keys[k] = true
		}
	}
	for k := range keys {
		var vs []float64
		for _, r := range rs {
			if v, ok := r[k]; ok {
				vs = append(vs, v)
			}
		}
		sort.Float64s(vs)
		dst[k] = vs[len(vs)/2]
	}
}

// cleanups stop what the benchmark started (servers, labs, namespaces);
// fail runs them too.
var cleanups []func()

func atExit(f func()) { cleanups = append(cleanups, f) }

func runCleanups() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...)
	runCleanups()
	os.Exit(1)
}
