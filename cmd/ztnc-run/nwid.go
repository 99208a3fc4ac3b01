package main

// --nwid: an in-process ZeroTier node whose joined networks become NICs of
// the supervised programs' stack.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ztnc/netjoin"
	"ztnc/netstack"
	"ztnc/zerotier/service"
	"ztnc/zerotier/vl2"
)

// nwids is the repeatable --nwid flag.
type nwids []uint64

func (n *nwids) String() string { return fmt.Sprint(*n) }
func (n *nwids) Set(s string) error {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		id, err := strconv.ParseUint(f, 16, 64)
		if err != nil || len(f) != 16 {
			return fmt.Errorf("not a 16-digit hex network ID: %q", f)
		}
		*n = append(*n, id)
	}
	return nil
}

// defaultHome is $ZTNC_HOME, else ~/.ztnc.
func defaultHome() (string, error) {
	if h := os.Getenv("ZTNC_HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the node's identity (give -d HOME or set ZTNC_HOME): %w", err)
	}
	return filepath.Join(h, ".ztnc"), nil
}

// ztOptions say how to start the node and what to join.
type ztOptions struct {
	home, planet string
	port         int
	nets         []uint64
	wait         time.Duration
	onJoin       func(*vl2.Network) // after each network is attached
}

// startZT starts the node, joins every network, waits until each has an
// address and attaches its port to st. It returns the running service and
// the addresses given to CMD.
func startZT(st *netstack.Stack, o ztOptions, stderr io.Writer, log *slog.Logger) (*service.Service, []netip.Prefix, error) {
	if err := os.MkdirAll(o.home, 0o700); err != nil {
		return nil, nil, fmt.Errorf("home %s: %w", o.home, err)
	}
	// Only the networks asked for: CMD is on them alone, so a network saved
	// in HOME by an earlier run is not joined (the node would be a member
	// its programs cannot use); its saved config stays for a later run.
	svc, err := service.Start(service.Options{Home: o.home, Port: o.port, PlanetFile: o.planet, Logger: log, Networks: o.nets})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the ZeroTier node: %w", err)
	}
	me := svc.Node.Address()
	nets := make([]*vl2.Network, len(o.nets))
	for i, id := range o.nets {
		fmt.Fprintf(stderr, "ztnc-run: node %s joining %016x… requesting configuration…\n", me, id)
		nets[i] = svc.VL2.Join(id, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.wait)
	defer cancel()
	err = netjoin.Wait(ctx, nets, me.String(), func(n *vl2.Network, state string) error {
		fmt.Fprintf(stderr, "ztnc-run: %016x: %s\n", n.ID(), state)
		return nil
	})
	if err != nil {
		svc.Close()
		return nil, nil, fmt.Errorf("%w (--wait %s)", err, o.wait)
	}
	var addrs []netip.Prefix
	for _, n := range nets {
		nic, err := netjoin.Attach(st, n)
		if err != nil {
			svc.Close()
			return nil, nil, err
		}
		addrs = append(addrs, nic.Addresses()...)
		if o.onJoin != nil {
			o.onJoin(n)
		}
	}
	return svc, addrs, nil
}
