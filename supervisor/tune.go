package supervisor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

var tuneOnce sync.Once

// TuneRuntime sets the Go runtime for a process that serves supervised
// programs (ztnc-run, and `ztnc service` once it serves one), unless the
// environment sets GOGC or GOMAXPROCS. Only the first call acts: it halves
// GOMAXPROCS. It returns the GC percent and GOMAXPROCS now in force.
func TuneRuntime() (gcPercent, procs int) {
	tuneOnce.Do(func() { tuneRuntime(os.Getenv) })
	return runtimeSettings()
}

// runtimeSettings reads the GC percent (without setting it, unlike
// debug.SetGCPercent) and GOMAXPROCS.
func runtimeSettings() (gcPercent, procs int) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64()), runtime.GOMAXPROCS(0)
}

func tuneRuntime(getenv func(string) string) {
	if getenv("GOGC") == "" {
		// The data path allocates per frame while the live heap stays small:
		// collecting at 5x rather than 2x the live heap cost ~20 % of the
		// throughput between two nodes (make bench). The price is a heap up
		// to 5x the live one: a few MB in a bulk transfer, ~300 MB for a
		// server taking 2,000 new connections/s (~50 MB live, mostly
		// connections in TIME-WAIT).
		debug.SetGCPercent(400)
	}
	if getenv("GOMAXPROCS") == "" {
		// Half the CPUs: the supervised program, the other nodes on the host
		// and the kernel's network work need the rest. With all of them,
		// idle processors spun and stole, and the monitor handed processors
		// between threads: on 2 CPUs, two nodes moved 1,000 Mbit/s and 1,600
		// new connections/s with 2, against 1,650 and 2,400 with 1.
		runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/2))
	}
}
