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
	tuneOnce.Do(func() { tuneRuntime(os.Getenv, nil) })
	return runtimeSettings()
}

// runtimeSettings reads the GC percent (without setting it, unlike
// debug.SetGCPercent) and GOMAXPROCS.
func runtimeSettings() (gcPercent, procs int) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64()), runtime.GOMAXPROCS(0)
}

// tuneRuntime: stop ends following the live heap (nil: never).
func tuneRuntime(getenv func(string) string, stop <-chan struct{}) {
	if getenv("GOGC") == "" {
		// The data path allocates per frame while the live heap stays small:
		// collecting at 5x rather than 2x the live heap cost ~20 % of the
		// throughput between two nodes (make bench), where the live heap is
		// a few MB ...
		debug.SetGCPercent(maxGCPercent)
		// ... but no more than gcHeadroom above a large live heap: a server
		// taking 2,000 new connections/s holds ~60 MB live (connections in
		// TIME-WAIT), which 5x would grow to ~300 MB.
		followLiveHeap(gcHeadroom, maxGCPercent, stop)
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

const (
	maxGCPercent = 400
	// gcHeadroom is how far the heap may grow past the live heap between
	// collections once the live heap is over gcHeadroom/4 (below, GOGC=400
	// gives less). Each collection then marks the live heap for every
	// gcHeadroom allocated: for the new-connection benchmark's server, one
	// of ~0.1 s CPU every 3-4 s (~60 MB live, ~25 MB/s allocated).
	gcHeadroom = 64 << 20
)

// followLiveHeap, after every collection, sets the GC percent for the
// next one to give the heap at most headroom to grow, within [100, most]:
// GOGC=most while the live heap is small, then a fixed headroom, then Go's
// default once the live heap is over headroom. It stops once stop is
// closed (tests); nil runs for the life of the process.
//
// A soft memory limit (debug.SetMemoryLimit) would cap the heap the same
// way, but would have the collector run without pause under it once the
// live heap itself grew near it; this follows the live heap instead.
func followLiveHeap(headroom uint64, most int, stop <-chan struct{}) {
	f := &heapFollower{headroom: headroom, most: most, stop: stop, percent: most,
		live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	f.arm()
}

type heapFollower struct {
	headroom uint64
	most     int
	stop     <-chan struct{}
	live     []metrics.Sample
	percent  int // last set
}

// gcSentinel is garbage the moment it is made: its cleanup runs once
// the collection that finds it unreachable is over. (It holds a pointer so
// the allocator does not pack it with other tiny objects, whose lifetimes
// would hold its cleanup back.)
type gcSentinel struct{ _ *heapFollower }

func (f *heapFollower) arm() {
	runtime.AddCleanup(&gcSentinel{}, (*heapFollower).collected, f)
}

func (f *heapFollower) collected() {
	select {
	case <-f.stop:
		return
	default:
	}
	metrics.Read(f.live)
	// A bulk transfer collects ~20 times a second, at the same percent.
	if p := gcPercentFor(f.live[0].Value.Uint64(), f.headroom, f.most); p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
	f.arm()
}

// gcPercentFor gives the heap live+headroom to grow to, within GOGC 100
// and most.
func gcPercentFor(live, headroom uint64, most int) int {
	if live == 0 || headroom*100/live >= uint64(most) {
		return most
	}
	return max(100, int(headroom*100/live))
}
