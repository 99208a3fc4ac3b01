package conformance

import (
	"testing"

	"ztnc/tests/testutil"
)

// slowPathPrograms are compared with the host kernel again with
// ZTNC_SLOW_PATH=1: the path a container without CAP_SYS_PTRACE takes
// (memory through /proc/PID/mem, held copies of sockets instead of
// pidfd_getfd). tcp_shutdown and epoll are left out: on that path a reset
// connection reads as a clean EOF (README, "In a container").
var slowPathPrograms = []string{"tcp_connect", "tcp_names", "udp", "ipv6", "fork_listener", "signals", "hostile"}

func TestSlowPath(t *testing.T) {
	dir := testutil.SharedTempDir(t)
	bins := build(t, dir, slowPathPrograms...)
	for _, name := range slowPathPrograms {
		bin := bins[name]
		t.Run(name, func(t *testing.T) {
			for _, u := range testutil.Users() {
				t.Run(u.Name, func(t *testing.T) {
					host := run(u.Wrap(bin), progTimeout)
					if host.err != nil || host.stdout == "" {
						t.Fatalf("%s on the host kernel failed: the reference itself is broken\n%s", name, host)
					}
					argv := append([]string{"env", "ZTNC_SLOW_PATH=1"}, testutil.UnderZtnc(t, bin)...)
					z := run(u.Wrap(argv...), progTimeout)
					if z.stdout != host.stdout {
						t.Errorf("%s under ztnc-run's slow path differs from the host kernel:\n%s\n%s", name,
							lineDiff(host.stdout, z.stdout), z)
					} else if z.err != nil {
						t.Errorf("%s under ztnc-run's slow path: same output but %s", name, z)
					}
				})
			}
		})
	}
}
