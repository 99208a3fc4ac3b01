// Command ztnc manages ztnc's ZeroTier node.
//
//	ztnc service -d HOME [--port N] [--planet FILE]   run a node (ZeroTier One's HOME layout) that ztnc-run -d HOME shares
//	ztnc info|status [-j] [-d HOME]                    what `zerotier-cli info` prints
//	ztnc peers [-j] [-d HOME]                          what `zerotier-cli peers` prints
//	ztnc listpeers [-j] [-d HOME]                      what `zerotier-cli listpeers` prints
//	ztnc join|leave NWID [-j] [-d HOME]                 what zerotier-cli join/leave do
//	ztnc listnetworks [-j] [-d HOME]                   what zerotier-cli listnetworks prints
//	ztnc listmoons|orbit WORLD SEED|deorbit WORLD      what zerotier-cli does with moons
//	ztnc controller <command> [args]                   manage our controller's networks and members
//	ztnc idtool <command> [args]                       what zerotier-idtool does (plus mkplanet)
//	ztnc lab up|down --dir DIR                         a root+controller and a network on this machine
//	ztnc version
//
// Flags go before or after the verb alike; -D is zerotier-cli's spelling of
// -d, and zerotier-cli's attached forms (-DHOME, -p9993, -TTOKEN) work too.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"ztnc/zerotier/idtool"
)

const version = "0.1.0-dev"

func main() {
	// Like zerotier-one, answer to the name zerotier-idtool (a symlink).
	if strings.Contains(filepath.Base(os.Args[0]), "idtool") {
		os.Exit(idtool.Run(os.Args[1:], idtool.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: ztnc <verb> [flags]

verbs:
  service               run a node in HOME (identity.secret, planet, moons.d/, authtoken.secret, zerotier-one.port);
                        programs started with ztnc-run -d HOME --nwid … share it (HOME/ztnc-run.sock)
  info, status          print "200 info <address> <version> <ONLINE|OFFLINE|TUNNELED>"
  peers                 print the peer table of zerotier-cli peers
  listpeers             print zerotier-cli listpeers lines
  join NWID             join a network ("200 join OK")
  leave NWID            leave a network ("200 leave OK")
  listnetworks          print zerotier-cli listnetworks lines
  listmoons             print the moons this node orbits (JSON)
  orbit WORLD SEED      orbit moon WORLD through SEED, one of its roots ("200 orbit OK")
  deorbit WORLD         leave moon WORLD ("200 deorbit OK")
  controller <cmd> ...  manage the networks this node controls (ztnc controller help)
  idtool <command> ...  identities, signatures, moons and planets as zerotier-idtool (ztnc idtool help)
  lab up|down --dir DIR a root+controller with a network on 127.0.0.1, in the background (ztnc lab help)
  version               print ztnc's version

flags (before or after the verb):
  -d, -D, --home DIR    home directory (default /var/lib/zerotier-one)
  -j, --json            JSON output (info, peers, listpeers, listnetworks, join, leave)
  -p, --port N          service: UDP and API port (default 9993, another if taken); CLI: API port
  --planet FILE         service: use this planet (written to HOME/planet)
  -T, --token TOKEN     CLI: API token (default HOME/authtoken.secret)
  -H, --host IP         CLI: API address (default 127.0.0.1)
  -v, --verbose         service: debug logging
`

func run(args []string, stdout, stderr io.Writer) int {
	// idtool has positional arguments of its own; it takes none of the flags.
	if len(args) > 0 && args[0] == "idtool" {
		return idtool.Run(args[1:], idtool.Env{Stdout: stdout, Stderr: stderr})
	}
	if len(args) > 0 && args[0] == "lab" {
		return runLab(args[1:], stdout, stderr)
	}
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "ztnc: %v\n\n%s", err, usage)
		return 2
	}
	switch o.verb {
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version":
		fmt.Fprintln(stdout, "ztnc", version)
		return 0
	case "service":
		return runService(o, stderr)
	case "join", "leave", "listnetworks", "controller":
		return runNetworks(o, stdout, stderr)
	case "listmoons", "orbit", "deorbit":
		return runMoons(o, stdout, stderr)
	default:
		return runCLI(o, stdout, stderr)
	}
}
