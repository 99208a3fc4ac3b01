package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// As a subreaper, ztnc-run inherits the target's orphans. When the target
// exits, what is left of its tree would have no network: it gets SIGTERM,
// then SIGKILL after the grace period.

// waitTarget reaps children until the target exits and returns its status.
func waitTarget(pid int) unix.WaitStatus {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws
		}
		if got == pid {
			return ws
		}
	}
}

// descendants lists the live processes below us.
func descendants() []int {
	me := os.Getpid()
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 2 || f[0][0] == 'Z' {
			continue
		}
		pp, _ := strconv.Atoi(string(f[1]))
		parent[pid] = pp
	}
	var out []int
	for pid := range parent {
		for p, n := parent[pid], 0; p > 1 && n < 64; p, n = parent[p], n+1 {
			if p == me {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// reapRest ends the target's remaining descendants.
func reapRest(grace time.Duration) {
	left := descendants()
	if len(left) == 0 {
		return
	}
	for _, p := range left {
		unix.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		reapAvailable()
		if len(descendants()) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range descendants() {
		unix.Kill(p, syscall.SIGKILL)
	}
	for i := 0; i < 100 && len(descendants()) > 0; i++ {
		reapAvailable()
		time.Sleep(10 * time.Millisecond)
	}
	reapAvailable()
}

func reapAvailable() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// exitCode maps a wait status to the shell's convention.
func exitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 1
}
