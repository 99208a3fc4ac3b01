package supervisor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestTuneRuntime: with GOGC and GOMAXPROCS unset, the GC percent becomes
// 400 and GOMAXPROCS half the CPUs; with them set, both are left as they are.
func TestTuneRuntime(t *testing.T) {
	gc0, procs0 := runtimeSettings()
	defer func() {
		debug.SetGCPercent(gc0)
		runtime.GOMAXPROCS(procs0)
	}()
	set := map[string]string{"GOGC": "100", "GOMAXPROCS": "2"}
	tuneRuntime(func(k string) string { return set[k] })
	if gc, procs := runtimeSettings(); gc != gc0 || procs != procs0 {
		t.Fatalf("with GOGC and GOMAXPROCS set: GC %d%%, GOMAXPROCS %d; want them untouched (%d%%, %d)", gc, procs, gc0, procs0)
	}
	tuneRuntime(func(string) string { return "" })
	if gc, procs := runtimeSettings(); gc != 400 || procs != max(1, procs0/2) {
		t.Fatalf("with GOGC and GOMAXPROCS unset: GC %d%%, GOMAXPROCS %d; want 400%% and %d", gc, procs, max(1, procs0/2))
	}
}
