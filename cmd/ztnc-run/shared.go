package main

// With `ztnc service -d HOME` running, ztnc-run hands its program to the
// service instead of starting a node: programs started that way share the
// service's node, addresses and loopback.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"ztnc/netjoin"
	"ztnc/runsvc"
)

// tryShared runs argv through the service in home when one runs there; ok
// is false when there is none (ztnc-run then starts its own node).
//
// own lists the flags given that shape ztnc-run's own stack (--local,
// --fallthrough, --dns host|off, --dns-server): the service's programs
// share its stack, so these cannot be honoured there and are refused.
func tryShared(home string, nets []uint64, own []string, wait time.Duration, argv []string, grace time.Duration) (code int, ok bool) {
	cl, err := runsvc.Dial(home)
	if errors.Is(err, runsvc.ErrNoService) {
		return 0, false
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		return 125, true
	}
	defer cl.Close()
	if len(own) > 0 {
		fmt.Fprintf(os.Stderr, "ztnc-run: %s: not with the service running in %s, whose programs share its stack; give another -d HOME for a node of ztnc-run's own\n", strings.Join(own, ", "), home)
		return 2, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	addrs, err := cl.Join(ctx, nets, func(node, nwid, state string) {
		if nwid == "" {
			for _, id := range nets {
				fmt.Fprintf(os.Stderr, "ztnc-run: service node %s joining %016x… requesting configuration…\n", node, id)
			}
			return
		}
		fmt.Fprintf(os.Stderr, "ztnc-run: %s: %s\n", nwid, state)
	})
	if err != nil {
		if errors.Is(err, netjoin.ErrWait) {
			err = fmt.Errorf("%w (--wait %s)", err, wait)
		}
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		return 125, true
	}
	env := append(os.Environ(), "ZTNC_ADDRS="+joinPrefixes(addrs))
	var exited atomic.Bool
	code = supervise(func(lfd, pid int) bool {
		err := cl.Hand(lfd)
		unix.Close(lfd) // the service holds it now; ours would keep the program waiting if the service died
		if err != nil {
			fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
			return false
		}
		go func() {
			if done := cl.Wait(); !done && !exited.Load() {
				fmt.Fprintln(os.Stderr, "ztnc-run: the service stopped; CMD has no network any more and is ended")
				unix.Kill(pid, unix.SIGTERM)
			}
		}()
		return true
	}, argv, env, grace)
	exited.Store(true)
	return code, true
}
