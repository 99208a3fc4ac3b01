package supervisor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestTuneRuntime: with GOGC and GOMAXPROCS unset, the GC percent becomes
// 400 and GOMAXPROCS half the CPUs; with them set, both are left as they are.
func TestTuneRuntime(t *testing.T) {
	gc0, procs0 := runtimeSettings()
	stop := make(chan struct{})
	defer func() {
		close(stop)
		debug.SetGCPercent(gc0)
		runtime.GOMAXPROCS(procs0)
	}()
	set := map[string]string{"GOGC": "100", "GOMAXPROCS": "2"}
	tuneRuntime(func(k string) string { return set[k] }, stop)
	if gc, procs := runtimeSettings(); gc != gc0 || procs != procs0 {
		t.Fatalf("with GOGC and GOMAXPROCS set: GC %d%%, GOMAXPROCS %d; want them untouched (%d%%, %d)", gc, procs, gc0, procs0)
	}
	tuneRuntime(func(string) string { return "" }, stop)
	if gc, procs := runtimeSettings(); gc != 400 || procs != max(1, procs0/2) {
		t.Fatalf("with GOGC and GOMAXPROCS unset: GC %d%%, GOMAXPROCS %d; want 400%% and %d", gc, procs, max(1, procs0/2))
	}
}

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{4 * mb, 400},  // 5x the live heap is 16 MB more: under the headroom
		{16 * mb, 400}, // 5x is exactly the headroom
		{32 * mb, 200},
		{60 * mb, 106}, // the new-connection benchmark's server
		{64 * mb, 100},
		{1 << 30, 100}, // never under Go's default
	} {
		if got := gcPercentFor(c.live, 64*mb, 400); got != c.want {
			t.Errorf("live %d MB: GC %d%%, want %d%%", c.live/mb, got, c.want)
		}
	}
}

// TestFollowLiveHeap: once the live heap grows past a quarter of the
// headroom, the collections that follow lower the GC percent, and raise it
// again once the heap is freed.
func TestFollowLiveHeap(t *testing.T) {
	gc0 := debug.SetGCPercent(400)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		debug.SetGCPercent(gc0)
	}()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	runtime.GC()
	metrics.Read(live)
	// A headroom that leaves GOGC at 400 for the test's own heap.
	headroom := 8 * live[0].Value.Uint64()
	followLiveHeap(headroom, 400, stop)
	waitGCPercent := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			runtime.GC()
			gc, _ := runtimeSettings()
			if gc == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GC %d%%, want %d%%", what, gc, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitGCPercent(400, "small heap")
	held := make([]byte, 4*headroom)
	waitGCPercent(100, "heap 4x the headroom")
	runtime.KeepAlive(held)
	held = nil
	waitGCPercent(400, "heap freed")
}
