package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ztnc/zerotier/api"
	"ztnc/zerotier/service"
)

const controllerUsage = `usage: ztnc controller <command> [args]   (talks to the local service's /controller API)

  list                              network IDs this node controls
  create [JSON]                     new network <address>XXXXXX (random suffix), optional settings
  show NWID                         the network record
  set NWID JSON                     change network settings (ZeroTier One's JSON fields)
  pool NWID START END ROUTE         IPv4 pool START..END inside ROUTE (CIDR), v4AssignMode zt
  delete NWID                       delete the network
  members NWID                      members with their authorization and IPs
  member NWID ADDR [JSON]           show or change a member
  authorize NWID ADDR               authorize a member
  deauthorize NWID ADDR             deauthorize a member (its COM is revoked at online members)

The same calls with curl:
  curl -H "X-ZT1-Auth: $(cat HOME/authtoken.secret)" -X POST -d '{"name":"lab"}' \
       http://127.0.0.1:PORT/controller/network/ADDRESS______
  curl ... -X POST -d '{"authorized":true}' http://127.0.0.1:PORT/controller/network/NWID/member/ADDR
`

// client builds the API client from the options (as runCLI does).
func client(o *options, stderr io.Writer) (*api.Client, bool) {
	home := o.home
	if home == "" {
		home = service.DefaultHome
	}
	c := &api.Client{Host: o.host, Port: o.port, Token: o.token}
	if c.Port == 0 {
		p, err := api.ReadPort(home)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: missing port and zerotier-one.port not found in %s\n", home)
			return nil, false
		}
		c.Port = p
	}
	if c.Token == "" {
		t, err := api.ReadToken(home)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: authtoken.secret not found or readable in %s (try again as root)\n", home)
			return nil, false
		}
		c.Token = t
	}
	return c, true
}

func validNWID(s string) bool {
	_, err := strconv.ParseUint(s, 16, 64)
	return err == nil && len(s) == 16
}

// runNetworks does join, leave, listnetworks (one.cpp) and controller.
func runNetworks(o *options, stdout, stderr io.Writer) int {
	c, ok := client(o, stderr)
	if !ok {
		return 2
	}
	do := func(method, path string, body []byte) (int, any, []byte, bool) {
		code, out, err := c.Do(method, path, body)
		if err != nil {
			fmt.Fprintf(stdout, "Error connecting to the ZeroTier service: %v\n\nPlease check that the service is running and that TCP port %d can be contacted via 127.0.0.1.\n", err, c.Port)
			return 0, nil, nil, false
		}
		var j any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&j); err != nil {
			fmt.Fprintf(stdout, "%d %s invalid JSON response (%v)\n", code, o.verb, err)
			return 0, nil, nil, false
		}
		return code, j, out, true
	}
	printJSON := func(j any) int {
		out, err := dump(j)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	}
	switch o.verb {
	case "join", "leave":
		if len(o.args) != 1 || !validNWID(o.args[0]) {
			fmt.Fprintf(stdout, "invalid network id\n") // zerotier-cli's words and status
			return 2
		}
		method, body := http.MethodPost, []byte("{}")
		if o.verb == "leave" {
			method, body = http.MethodDelete, nil
		}
		code, _, raw, ok := do(method, "/network/"+o.args[0], body)
		if !ok {
			return 1
		}
		if code != 200 {
			fmt.Fprintf(stdout, "%d %s %s\n", code, o.verb, raw)
			return 1
		}
		if o.json {
			stdout.Write(raw) // zerotier-cli prints the body as it came, without a newline
			return 0
		}
		fmt.Fprintf(stdout, "200 %s OK\n", o.verb)
		return 0
	case "listnetworks":
		code, j, raw, ok := do(http.MethodGet, "/network", nil)
		if !ok {
			return 1
		}
		if code != 200 {
			fmt.Fprintf(stdout, "%d %s %s\n", code, o.verb, raw)
			return 1
		}
		if o.json {
			return printJSON(j)
		}
		printNetworks(stdout, j, time.Now().UnixMilli())
		return 0
	}
	return runController(o, c, do, printJSON, stdout)
}

// printNetworks prints zerotier-cli's listnetworks lines, fields rendered
// as OSUtils::jsonString does (our device name is empty: ports are not OS
// interfaces), with the SSO lines under a network that has SSO enabled.
func printNetworks(w io.Writer, j any, now int64) {
	fmt.Fprint(w, "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\n")
	nets, _ := j.([]any)
	for _, x := range nets {
		n, _ := x.(map[string]any)
		if n == nil {
			continue
		}
		var ips []string
		aa, _ := n["assignedAddresses"].([]any)
		for _, a := range aa {
			if s, ok := a.(string); ok {
				ips = append(ips, s)
			}
		}
		ipl := strings.Join(ips, ",")
		if ipl == "" {
			ipl = "-"
		}
		status := jsonString(n["status"], "-")
		fmt.Fprintf(w, "200 listnetworks %s %s %s %s %s %s %s\n", jsonString(n["nwid"], "-"), jsonString(n["name"], "-"),
			jsonString(n["mac"], "-"), status, jsonString(n["type"], "-"), jsonString(n["portDeviceName"], "-"), ipl)
		if n["ssoEnabled"] == true {
			switch status {
			case "AUTHENTICATION_REQUIRED":
				fmt.Fprintf(w, "    AUTH EXPIRED, URL: %s\n", jsonString(n["authenticationURL"], "(null)"))
			case "OK":
				if in := (num(n["authenticationExpiryTime"]) - now) / 1000; in >= 0 {
					fmt.Fprintf(w, "    AUTH OK, expires in: %d seconds\n", in)
				}
			}
		}
	}
}

// jsonString is OSUtils::jsonString: strings as they are, numbers as
// unsigned decimals, booleans as 1/0, anything else dfl.
func jsonString(v any, dfl string) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return strconv.FormatUint(uint64(i), 10)
		}
		if f, err := x.Float64(); err == nil {
			return strconv.FormatUint(uint64(f), 10)
		}
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return dfl
}

func runController(o *options, c *api.Client, do func(string, string, []byte) (int, any, []byte, bool), printJSON func(any) int, stdout io.Writer) int {
	args := o.args
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(stdout, controllerUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	need := func(n int) bool {
		if len(args) < n+1 || (n >= 1 && !validNWID(args[1])) {
			fmt.Fprint(stdout, controllerUsage)
			return false
		}
		return true
	}
	call := func(method, path string, body []byte) int {
		code, j, raw, ok := do(method, path, body)
		if !ok {
			return 1
		}
		if code != 200 {
			fmt.Fprintf(stdout, "%d controller %s %s\n", code, args[0], raw)
			return 1
		}
		return printJSON(j)
	}
	jsonArg := func(i int) ([]byte, bool) {
		if len(args) <= i {
			return []byte("{}"), true
		}
		if !json.Valid([]byte(args[i])) {
			fmt.Fprintf(stdout, "controller %s: argument is not JSON: %s\n", args[0], args[i])
			return nil, false
		}
		return []byte(args[i]), true
	}
	switch args[0] {
	case "list":
		return call(http.MethodGet, "/controller/network", nil)
	case "create":
		body, ok := jsonArg(1)
		if !ok {
			return 2
		}
		code, j, raw, ok := do(http.MethodGet, "/status", nil)
		if !ok {
			return 1
		}
		m, _ := j.(map[string]any)
		if code != 200 || m == nil {
			fmt.Fprintf(stdout, "%d controller create %s\n", code, raw)
			return 1
		}
		return call(http.MethodPost, "/controller/network/"+str(m["address"])+"______", body)
	case "show":
		if !need(1) {
			return 2
		}
		return call(http.MethodGet, "/controller/network/"+args[1], nil)
	case "set":
		if !need(2) {
			return 2
		}
		body, ok := jsonArg(2)
		if !ok {
			return 2
		}
		return call(http.MethodPost, "/controller/network/"+args[1], body)
	case "pool":
		if !need(4) {
			return 2
		}
		body, _ := json.Marshal(map[string]any{
			"ipAssignmentPools": []any{map[string]any{"ipRangeStart": args[2], "ipRangeEnd": args[3]}},
			"routes":            []any{map[string]any{"target": args[4], "via": nil}},
			"v4AssignMode":      map[string]any{"zt": true},
		})
		return call(http.MethodPost, "/controller/network/"+args[1], body)
	case "delete":
		if !need(1) {
			return 2
		}
		return call(http.MethodDelete, "/controller/network/"+args[1], nil)
	case "members":
		if !need(1) {
			return 2
		}
		return call(http.MethodGet, "/unstable/controller/network/"+args[1]+"/member", nil)
	case "member":
		if !need(2) {
			return 2
		}
		if len(args) == 3 {
			return call(http.MethodGet, "/controller/network/"+args[1]+"/member/"+args[2], nil)
		}
		body, ok := jsonArg(3)
		if !ok {
			return 2
		}
		return call(http.MethodPost, "/controller/network/"+args[1]+"/member/"+args[2], body)
	case "authorize", "deauthorize":
		if !need(2) {
			return 2
		}
		body := []byte(`{"authorized":true}`)
		if args[0] == "deauthorize" {
			body = []byte(`{"authorized":false}`)
		}
		return call(http.MethodPost, "/controller/network/"+args[1]+"/member/"+args[2], body)
	}
	fmt.Fprint(stdout, controllerUsage)
	return 2
}
