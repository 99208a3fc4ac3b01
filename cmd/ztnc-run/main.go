// Command ztnc-run runs a program with its sockets on a virtual network:
// a private network of its own (--local) or ZeroTier networks joined by an
// in-process node (--nwid), with no root, no tun device and no change to the
// host's network.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ztnc/netjoin"
	"ztnc/netstack"
	"ztnc/supervisor"
	"ztnc/zerotier/vl2"
)

const usage = `usage: ztnc-run [flags] -- CMD [ARGS…]

Runs CMD, and every process it starts, with its sockets on a virtual network
owned by this ztnc-run. Nothing they do reaches the host's network stack,
unless --fallthrough says where it may.

Flags:
  --local CIDR     a private network: CMD gets the address of CIDR on its
                   prefix (--local 10.9.0.1/24 gives 10.9.0.1 on a /24).
                   Repeatable, e.g. once for IPv4 and once for IPv6
                   (--local fd00:9::1/64).
  --mtu N          MTU of the --local network (default 2800, as ZeroTier's)
  --nwid NWID      join ZeroTier network NWID (16 hex digits) with an
                   in-process node and put CMD on it. Repeatable. CMD starts
                   once every network has given this node an address.
                   Default: $ZT_NC_NWID (IDs separated by commas or spaces).
  -d HOME          the node's home: identity (created on first use), planet,
                   networks.d/. Default $ZTNC_HOME, else ~/.ztnc. When
                   ` + "`ztnc service -d HOME`" + ` runs, CMD is handed to it and shares
                   its node, addresses and loopback with its other programs.
  --ephemeral      a fresh identity in a temporary HOME, removed at exit
                   (a new member each run; for containers). Not with -d.
  --planet FILE    use this planet instead of ZeroTier's (default $ZTNC_PLANET;
                   ` + "`ztnc lab up`" + ` writes one for a network on this machine)
  --port N         the node's UDP port (default 9993, another if it is taken)
  --wait DURATION  how long to wait for the networks' addresses (default 60s)
  --grace DURATION when CMD exits, how long its remaining descendants get
                   between SIGTERM and SIGKILL (default 2s)
  --fallthrough CIDR|all
                   let connections and datagrams to CIDR (or, with "all", to
                   anywhere outside CMD's networks) go through the host's
                   network stack. Repeatable. Destinations on a joined or
                   --local network stay virtual; the loopback stays virtual
                   unless listed (--fallthrough 127.0.0.0/8, ::1/128).
                   Default: none, nothing reaches the host's network.
  --dns host|network|off
                   DNS: ztnc-run answers queries to the nameservers of
                   /etc/resolv.conf. Names in a network's pushed DNS domain go
                   to its servers over the network; other names go to the
                   host's resolvers with "host" (the default when
                   --fallthrough is given), else fail at once (NXDOMAIN).
                   "network": never the host's. "off": no responder.
  --dns-server ADDR[,ADDR]  DNS servers on a --local network, for
                   --dns-domain DOMAIN (every name when no domain is given)
  -v               log the supervisor's work to stderr
  -h, --help       this text

Every ztnc-run also gives CMD a virtual loopback (127.0.0.0/8 and ::1) that is
CMD's alone. CMD's environment gets ZTNC_ADDRS: its virtual addresses at start,
as address/prefix separated by spaces (--local ones first). It is not updated
when a network's config changes them later; the interfaces CMD lists
(getifaddrs, ip addr) are.
ztnc-run exits with CMD's exit status (128+N when CMD is killed by signal N;
125 when ztnc-run itself fails, including when --wait runs out; 126/127 when
CMD cannot be run).
SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to CMD.
`

type prefixes []netip.Prefix

func (p *prefixes) String() string { return fmt.Sprint(*p) }
func (p *prefixes) Set(s string) error {
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("not an address/prefix like 10.9.0.1/24: %q", s)
	}
	a := pf.Addr()
	if a.IsLoopback() || a.IsUnspecified() || a.IsMulticast() || a == pf.Masked().Addr() && pf.Bits() < a.BitLen()-1 {
		return fmt.Errorf("%s: need a host address inside the prefix, like 10.9.0.1/24", s)
	}
	*p = append(*p, pf)
	return nil
}

func main() {
	if supervisor.IsInitStage() {
		supervisor.RunInitStage()
		return
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// GOGC 400 and half the CPUs, unless the environment says (why: supervisor/tune.go).
	supervisor.TuneRuntime()
	fs := flag.NewFlagSet("ztnc-run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var locals prefixes
	fs.Var(&locals, "local", "")
	mtu := fs.Uint("mtu", 2800, "")
	grace := fs.Duration("grace", 2*time.Second, "")
	verbose := fs.Bool("v", false, "")
	var nets nwids
	fs.Var(&nets, "nwid", "")
	home := fs.String("d", "", "")
	planet := fs.String("planet", os.Getenv("ZTNC_PLANET"), "")
	port := fs.Int("port", 0, "")
	wait := fs.Duration("wait", 60*time.Second, "")
	ephemeral := fs.Bool("ephemeral", false, "")
	var fall supervisor.FallThrough
	fs.Func("fallthrough", "", fall.Parse)
	var dnsf dnsFlags
	dnsf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(usage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n\n%s", err, usage)
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintf(os.Stderr, "ztnc-run: no command given\n\n%s", usage)
		return 2
	}
	if len(nets) == 0 {
		if env := os.Getenv("ZT_NC_NWID"); env != "" {
			if err := nets.Set(env); err != nil {
				fmt.Fprintf(os.Stderr, "ztnc-run: ZT_NC_NWID: %v\n", err)
				return 2
			}
		}
	}
	if len(locals) == 0 && len(nets) == 0 {
		fmt.Fprintf(os.Stderr, "ztnc-run: give a network: --local CIDR or --nwid NWID\n\n%s", usage)
		return 2
	}
	if *ephemeral && (*home != "" || len(nets) == 0) {
		fmt.Fprintf(os.Stderr, "ztnc-run: --ephemeral goes with --nwid and without -d\n\n%s", usage)
		return 2
	}
	if err := dnsf.check(); err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "ztnc-run: --port %d: out of range\n", *port)
		return 2
	}
	if *mtu < 1280 || *mtu > 65000 {
		fmt.Fprintf(os.Stderr, "ztnc-run: --mtu %d: must be between 1280 and 65000\n", *mtu)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	st, err := netstack.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		return 125
	}
	dnsSrv := newDNS(st, dnsf, fall.Enabled(), log)
	addrs := append([]netip.Prefix(nil), locals...)
	if len(locals) > 0 {
		nic, err := st.AttachPort("local", netstack.NewNullPort(uint32(*mtu)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
			return 125
		}
		for _, p := range locals {
			if err := st.AddAddress(nic, p); err != nil {
				fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
				return 125
			}
		}
	}
	if len(nets) > 0 {
		if *ephemeral {
			dir, remove, err := ephemeralHome()
			if err != nil {
				fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
				return 125
			}
			defer remove()
			*home = dir
		}
		if *home == "" {
			if *home, err = defaultHome(); err != nil {
				fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
				return 125
			}
		}
		if !*ephemeral {
			var own []string
			if len(locals) > 0 {
				own = append(own, "--local")
			}
			if fall.Enabled() {
				own = append(own, "--fallthrough")
			}
			if dnsf.mode == "host" || dnsf.mode == "off" {
				own = append(own, "--dns "+dnsf.mode)
			}
			if len(dnsf.servers) > 0 {
				own = append(own, "--dns-server")
			}
			if code, ok := tryShared(*home, nets, own, *wait, argv, *grace); ok {
				return code
			}
		}
		svc, zaddrs, err := startZT(st, ztOptions{home: *home, planet: *planet, port: *port, nets: nets, wait: *wait,
			onJoin: func(n *vl2.Network) { netjoin.FollowDNS(dnsSrv, n) }}, os.Stderr, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
			return 125
		}
		defer svc.Close()
		addrs = append(addrs, zaddrs...)
	}
	if path := os.Getenv("ZTNC_CPUPROFILE"); path != "" {
		// For developers: a CPU profile of the supervisor, written at exit.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if path := os.Getenv("ZTNC_MEMPROFILE"); path != "" {
		// For developers: a heap profile, written at exit. Its in-use figures
		// are those of the last collection, so of the load, not of the idle
		// end: `go tool pprof -sample_index=inuse_space`.
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if path := os.Getenv("ZTNC_TRACE"); path != "" {
		// For developers: a Go execution trace (go tool trace), written at
		// exit; -pprof=sched shows which wake-ups wait for a thread.
		if f, err := os.Create(path); err == nil {
			trace.Start(f)
			defer trace.Stop()
		}
	}
	sup, err := supervisor.New(st, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		return 125
	}
	if dnsSrv != nil {
		if err := dnsSrv.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
			return 125
		}
		fall.Keep = dnsSrv.Addrs()
		sup.SetPort53Owner(dnsSrv.Addrs(), dnsSrv.Stop)
	}
	sup.SetFallThrough(fall)
	env := append(os.Environ(), "ZTNC_ADDRS="+joinPrefixes(addrs))
	code := supervise(func(lfd, _ int) bool {
		go func() {
			if err := sup.Serve(lfd); err != nil {
				slog.Error("supervisor stopped", "err", err)
			}
		}()
		return true
	}, argv, env, *grace)
	slog.Debug("supervisor", "calls", sup.Stats.Calls.Load(), "continued", sup.Stats.Continued.Load(), "efault", sup.Stats.Faults.Load(), "checked", sup.Stats.Checked.Load())
	return code
}

func joinPrefixes(ps []netip.Prefix) string {
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = p.String()
	}
	return strings.Join(ss, " ")
}

// supervise runs argv under the filter, has serve take its listener (false:
// it could not, CMD is killed and ztnc-run fails), and returns the exit
// status to use.
func supervise(serve func(lfd, pid int) bool, argv, env []string, grace time.Duration) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 125
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	cmd, lfd, err := supervisor.Start(argv, env)
	if err != nil {
		var ie *supervisor.InitError
		if errors.As(err, &ie) && ie.Cmd.ProcessState != nil {
			return exitCode(unix.WaitStatus(ie.Cmd.ProcessState.Sys().(syscall.WaitStatus)))
		}
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		if strings.Contains(err.Error(), "seccomp") {
			fmt.Fprintln(os.Stderr, "ztnc-run: needs Linux ≥ 5.9 with seccomp user notification")
		}
		return 125
	}
	pid := cmd.Process.Pid
	go func() {
		for s := range sigs {
			unix.Kill(pid, s.(syscall.Signal))
		}
	}()
	if !serve(lfd, pid) {
		unix.Kill(pid, unix.SIGKILL)
		waitTarget(pid)
		reapRest(grace)
		return 125
	}
	ws := waitTarget(pid)
	reapRest(grace)
	return exitCode(ws)
}
