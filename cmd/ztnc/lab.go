package main

// ztnc lab up|down --dir DIR: a root and controller on this machine, for
// tests, demos and people without a ZeroTier account.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ztnc/zerotier/api"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/idtool"
)

const labUsage = `usage: ztnc lab up --dir DIR [--endpoint IP]…   start a root+controller on 127.0.0.1 in the background
       ztnc lab down --dir DIR   stop it and remove what "up" made

--endpoint IP also names IP (at the lab's port) as the root's address in the
planet, for members that cannot reach this machine's 127.0.0.1: containers
reach it at their bridge's gateway (docker0's 172.17.0.1).

"up" writes DIR/planet (a private planet whose only root is the lab's node),
creates a public network (members are authorized on join) with IPv4 addresses
from 10.147.17.10-250 on 10.147.17.0/24 and RFC4193 IPv6, and prints
  export ZTNC_PLANET=DIR/planet ZT_NC_NWID=<nwid>
for a shell to eval. The node's home is DIR/home, its log DIR/lab.log.
`

// labPlanetID is the lab planet's world ID (not ZeroTier's 149604618).
const labPlanetID = 0x7a7c1ab000000001

// labState is DIR/lab.json: what "down" stops and removes.
type labState struct {
	PID     int    `json:"pid"`
	Port    int    `json:"port"`
	NWID    string `json:"nwid"`
	MadeDir bool   `json:"madeDir"`
}

func runLab(args []string, stdout, stderr io.Writer) int {
	var verb, dir string
	var endpoints []netip.Addr
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--endpoint" || a == "-endpoint" || strings.HasPrefix(a, "--endpoint="):
			v, ok := strings.CutPrefix(a, "--endpoint=")
			if !ok {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "ztnc lab: %s needs a value\n\n%s", a, labUsage)
					return 2
				}
				i++
				v = args[i]
			}
			ip, err := netip.ParseAddr(v)
			if err != nil {
				fmt.Fprintf(stderr, "ztnc lab: --endpoint %q: not an IP address\n\n%s", v, labUsage)
				return 2
			}
			endpoints = append(endpoints, ip)
		case a == "--dir" || a == "-dir":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "ztnc lab: %s needs a value\n\n%s", a, labUsage)
				return 2
			}
			i++
			dir = args[i]
		case strings.HasPrefix(a, "--dir="):
			dir = strings.TrimPrefix(a, "--dir=")
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprint(stdout, labUsage)
			return 0
		case verb == "" && (a == "up" || a == "down"):
			verb = a
		default:
			fmt.Fprintf(stderr, "ztnc lab: unexpected %q\n\n%s", a, labUsage)
			return 2
		}
	}
	if verb == "" || dir == "" {
		fmt.Fprintf(stderr, "ztnc lab: give up or down, and --dir DIR\n\n%s", labUsage)
		return 2
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintf(stderr, "ztnc lab: %v\n", err)
		return 1
	}
	if verb == "up" {
		err = labUp(abs, endpoints, stdout)
	} else {
		err = labDown(abs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ztnc lab %s: %v\n", verb, err)
		return 1
	}
	return 0
}

func labUp(dir string, endpoints []netip.Addr, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, "lab.json")); err == nil {
		return fmt.Errorf("%s already holds a lab (ztnc lab down --dir %s first)", dir, dir)
	}
	st := labState{}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		st.MadeDir = true
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("lab home: %w", err)
	}
	if st.MadeDir {
		// The lab's users read the planet in it.
		os.Chmod(dir, 0o755)
	}
	id, _, err := identity.LoadOrGenerate(home)
	if err != nil {
		return fmt.Errorf("lab identity: %w", err)
	}
	port, err := freeLabPort()
	if err != nil {
		return err
	}
	eps := []string{idtool.EndpointString(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)))}
	for _, ip := range endpoints {
		eps = append(eps, idtool.EndpointString(netip.AddrPortFrom(ip, uint16(port))))
	}
	j, err := idtool.NewPlanetJSON(labPlanetID, []idtool.RootJSON{{Identity: id.String(), StableEndpoints: eps}}, nil)
	if err != nil {
		return fmt.Errorf("lab planet: %w", err)
	}
	planet, err := idtool.MkPlanet(j, uint64(time.Now().UnixMilli()))
	if err != nil {
		return fmt.Errorf("lab planet: %w", err)
	}
	planetFile := filepath.Join(dir, "planet")
	if err := os.WriteFile(planetFile, planet, 0o644); err != nil {
		return fmt.Errorf("lab planet: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding ztnc: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "lab.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lab log: %w", err)
	}
	defer logf.Close()
	// Own session and no inherited pipes: the service outlives this command
	// and must not keep its caller's output open.
	cmd := exec.Command(self, "service", "-d", home, "--planet", planetFile, "--port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the lab's service: %w", err)
	}
	st.PID, st.Port = cmd.Process.Pid, port
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := writeLabState(dir, st); err != nil {
		return err
	}
	tok, err := api.ReadToken(home)
	for deadline := time.Now().Add(20 * time.Second); err != nil; tok, err = api.ReadToken(home) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the lab's service wrote no token (see %s/lab.log)", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := &api.Client{Port: port, Token: tok, HTTP: nil}
	nwid := fmt.Sprintf("%s000001", id.Address)
	body := []byte(`{"name":"ztnc-lab","private":false,
		"v4AssignMode":{"zt":true},"v6AssignMode":{"rfc4193":true,"zt":false,"6plane":false},
		"ipAssignmentPools":[{"ipRangeStart":"10.147.17.10","ipRangeEnd":"10.147.17.250"}],
		"routes":[{"target":"10.147.17.0/24"}]}`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the lab's service exited (%v; see %s/lab.log)", err, dir)
		default:
		}
		code, out, err := c.Do("POST", "/controller/network/"+nwid, body)
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("creating the lab's network: status %d %s: %v (see %s/lab.log)", code, out, err, dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st.NWID = nwid
	if err := writeLabState(dir, st); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "export ZTNC_PLANET=%s ZT_NC_NWID=%s\n", planetFile, nwid)
	return nil
}

func writeLabState(dir string, st labState) error {
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, "lab.json"), b, 0o644); err != nil {
		return fmt.Errorf("lab state: %w", err)
	}
	return nil
}

// freeLabPort finds a port free for UDP and TCP on 127.0.0.1 (the service
// binds both; the planet must name it before the service starts).
func freeLabPort() (int, error) {
	for range 50 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			return 0, fmt.Errorf("finding a port: %w", err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		u.Close()
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port for the lab")
}

func labDown(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return fmt.Errorf("no lab in %s: %w", dir, err)
	}
	var st labState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s/lab.json: %w", dir, err)
	}
	if st.PID > 0 && isLabService(st.PID) {
		syscall.Kill(st.PID, syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for isLabService(st.PID) {
			if time.Now().After(deadline) {
				syscall.Kill(st.PID, syscall.SIGKILL)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, f := range []string{"home", "planet", "lab.log", "lab.json"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("removing the lab: %w", err)
		}
	}
	if st.MadeDir {
		os.Remove(dir) // only if empty: what else is there is not ours
	}
	return nil
}

// isLabService says whether pid is still a running `ztnc service` (not a
// zombie, not a reused pid).
func isLabService(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "service") {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}
