package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"ztnc/zerotier/api"
	"ztnc/zerotier/service"
)

// runCLI does what zerotier-cli does for info/status, peers and listpeers
// (one.cpp), including its output formats and exit codes.
func runCLI(o *options, stdout, stderr io.Writer) int {
	home := o.home
	if home == "" {
		home = service.DefaultHome
	}
	c := &api.Client{Host: o.host, Port: o.port, Token: o.token}
	if c.Port == 0 {
		p, err := api.ReadPort(home)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: missing port and zerotier-one.port not found in %s\n", home)
			return 2
		}
		c.Port = p
	}
	if c.Token == "" {
		t, err := api.ReadToken(home)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: authtoken.secret not found or readable in %s (try again as root)\n", home)
			return 2
		}
		c.Token = t
	}
	path := "/peer"
	if o.verb == "info" || o.verb == "status" {
		path = "/status"
	}
	code, body, err := c.Get(path)
	if err != nil {
		fmt.Fprintf(stdout, "Error connecting to the ZeroTier service: %v\n\nPlease check that the service is running and that TCP port %d can be contacted via 127.0.0.1.\n", err, c.Port)
		return 1
	}
	var j any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		fmt.Fprintf(stdout, "%d %s invalid JSON response (%v)\n", code, o.verb, err)
		return 1
	}
	if code != 200 {
		fmt.Fprintf(stdout, "%d %s %s\n", code, o.verb, body)
		return 1
	}
	if o.json {
		out, err := dump(j)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	}
	switch o.verb {
	case "info", "status":
		if m, ok := j.(map[string]any); ok {
			state := "OFFLINE"
			if m["tcpFallbackActive"] == true {
				state = "TUNNELED"
			} else if m["online"] == true {
				state = "ONLINE"
			}
			fmt.Fprintf(stdout, "200 info %s %s %s\n", str(m["address"]), str(m["version"]), state)
		}
	case "peers":
		printPeers(stdout, j, time.Now().UnixMilli())
	case "listpeers":
		printListPeers(stdout, j, time.Now().UnixMilli())
	}
	return 0
}

// dump is nlohmann::json::dump(1): one-space indent, keys sorted (Go sorts
// map keys), no HTML escaping.
func dump(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "-"
}

func num(v any) int64 {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	return 0
}

// preferred returns (address, ms since send, ms since receive) of the
// preferred path; -1 for never.
func preferred(p map[string]any, now int64) (string, int64, int64, bool) {
	paths, _ := p["paths"].([]any)
	for _, x := range paths {
		pa, _ := x.(map[string]any)
		if pa == nil || pa["preferred"] != true {
			continue
		}
		tx, rx := int64(-1), int64(-1)
		if ls := num(pa["lastSend"]); ls != 0 {
			tx = now - ls
		}
		if lr := num(pa["lastReceive"]); lr != 0 {
			rx = now - lr
		}
		return str(pa["address"]), tx, rx, true
	}
	return "", 0, 0, false
}

func ver(p map[string]any) string {
	if num(p["versionMajor"]) < 0 {
		return "-"
	}
	return fmt.Sprintf("%d.%d.%d", num(p["versionMajor"]), num(p["versionMinor"]), num(p["versionRev"]))
}

func printPeers(w io.Writer, j any, now int64) {
	fmt.Fprint(w, "200 peers\n<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>\n")
	peers, _ := j.([]any)
	anyTunneled := false
	for _, x := range peers {
		p, _ := x.(map[string]any)
		if p == nil {
			continue
		}
		if p["tunneled"] == true {
			anyTunneled = true
		}
		best := "RELAY"
		if addr, tx, rx, ok := preferred(p, now); ok {
			tail := fmt.Sprintf("%-8d %-8d %s", tx, rx, addr)
			if p["tunneled"] == true {
				best = "RELAY " + tail
			} else {
				best = "DIRECT   " + tail
			}
		}
		fmt.Fprintf(w, "%s %-6s %-6s %5d %s\n", str(p["address"]), ver(p), str(p["role"]), num(p["latency"]), best)
	}
	if anyTunneled {
		fmt.Fprint(w, "NOTE: Currently tunneling through a TCP relay. Ensure that UDP is not blocked.\n")
	}
}

func printListPeers(w io.Writer, j any, now int64) {
	fmt.Fprint(w, "200 listpeers <ztaddr> <path> <latency> <version> <role>\n")
	peers, _ := j.([]any)
	for _, x := range peers {
		p, _ := x.(map[string]any)
		if p == nil {
			continue
		}
		best := "-"
		if addr, tx, rx, ok := preferred(p, now); ok {
			best = fmt.Sprintf("%s;%d;%d", addr, tx, rx)
		}
		fmt.Fprintf(w, "200 listpeers %s %s %d %s %s\n", str(p["address"]), best, num(p["latency"]), ver(p), str(p["role"]))
	}
}
