package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"ztnc/zerotier/address"
)

// runMoons does zerotier-cli's listmoons, orbit and deorbit (one.cpp).
func runMoons(o *options, stdout, stderr io.Writer) int {
	c, ok := client(o, stderr)
	if !ok {
		return 2
	}
	call := func(method, path string, body []byte) (int, []byte, bool) {
		code, out, err := c.Do(method, path, body)
		if err != nil {
			fmt.Fprintf(stdout, "Error connecting to the ZeroTier service: %v\n\nPlease check that the service is running and that TCP port %d can be contacted via 127.0.0.1.\n", err, c.Port)
			return 0, nil, false
		}
		return code, out, true
	}
	worldID := func(s string) bool {
		id, err := strconv.ParseUint(s, 16, 64)
		return err == nil && id != 0 && len(s) <= 16
	}
	switch o.verb {
	case "listmoons":
		if len(o.args) != 0 {
			fmt.Fprintf(stderr, "ztnc: listmoons takes no arguments\n")
			return 2
		}
		code, raw, ok := call(http.MethodGet, "/moon", nil)
		if !ok {
			return 1
		}
		j, err := decodeJSON(raw)
		if err != nil {
			fmt.Fprintf(stdout, "%d %s invalid JSON response (%v)\n", code, o.verb, err)
			return 1
		}
		if code != 200 {
			fmt.Fprintf(stdout, "%d %s %s\n", code, o.verb, raw)
			return 1
		}
		out, err := dump(j)
		if err != nil {
			fmt.Fprintf(stderr, "ztnc: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	case "orbit":
		if len(o.args) != 2 || !worldID(o.args[0]) {
			fmt.Fprintf(stderr, "ztnc: usage: ztnc orbit <world ID> <seed address>\n")
			return 2
		}
		if a, err := address.Parse(o.args[1]); err != nil || a == 0 {
			fmt.Fprintf(stderr, "ztnc: orbit: invalid seed address %q\n", o.args[1])
			return 2
		}
		code, raw, ok := call(http.MethodPost, "/moon/"+o.args[0], fmt.Appendf(nil, `{"seed":%q}`, o.args[1]))
		if !ok {
			return 1
		}
		if code != 200 {
			fmt.Fprintf(stdout, "%d %s %s\n", code, o.verb, raw)
			return 1
		}
		fmt.Fprintf(stdout, "200 orbit OK\n")
		return 0
	case "deorbit":
		if len(o.args) != 1 || !worldID(o.args[0]) {
			fmt.Fprintf(stderr, "ztnc: usage: ztnc deorbit <world ID>\n")
			return 2
		}
		code, raw, ok := call(http.MethodDelete, "/moon/"+o.args[0], nil)
		if !ok {
			return 1
		}
		if code != 200 {
			fmt.Fprintf(stdout, "%d %s %s\n", code, o.verb, raw)
			return 1
		}
		if o.json {
			stdout.Write(raw)
			return 0
		}
		fmt.Fprintf(stdout, "200 deorbit OK\n")
		return 0
	}
	return 2
}

// decodeJSON parses an API answer keeping numbers exact (timestamps).
func decodeJSON(raw []byte) (any, error) {
	var j any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	err := dec.Decode(&j)
	return j, err
}
