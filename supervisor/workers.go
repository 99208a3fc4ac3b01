package supervisor

import "sync/atomic"

// Per-connection goroutines (pumps, connect and accept waiters) run deep in
// the netstack, so a fresh goroutine grows and copies its stack several times
// before its first byte; that was ~7% of the supervisor's CPU in a
// new-connection benchmark. Finished workers instead wait for the next job
// and keep their grown stacks.
//
// A job must leave its goroutine as it found it: in particular no thread
// left locked, which asProgram does on purpose when it cannot restore the
// supervisor's ids (the thread is meant to die with its goroutine). Calls
// done as the program run on goroutines of their own, not here.

const maxIdleWorkers = 64

var (
	workQueue   = make(chan func()) // unbuffered: a send succeeds only into an idle worker
	idleWorkers atomic.Int32
)

// spawn runs f on an idle worker, or on a new goroutine if none is idle.
func spawn(f func()) {
	select {
	case workQueue <- f:
	default:
		go worker(f)
	}
}

func worker(f func()) {
	for {
		f()
		if idleWorkers.Add(1) > maxIdleWorkers {
			idleWorkers.Add(-1)
			return
		}
		f = <-workQueue
		idleWorkers.Add(-1)
	}
}
