package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// options are the parsed command line.
type options struct {
	verb    string
	home    string
	json    bool
	port    int
	planet  string
	token   string
	host    string
	verbose bool
	set     map[string]bool // which flags were given, by canonical name
	args    []string        // positional arguments after the verb (join, leave, controller)
}

// verbFlags says which flags each verb accepts.
var verbFlags = map[string][]string{
	"service":      {"home", "port", "planet", "verbose"},
	"info":         {"home", "json", "port", "token", "host"},
	"status":       {"home", "json", "port", "token", "host"},
	"peers":        {"home", "json", "port", "token", "host"},
	"listpeers":    {"home", "json", "port", "token", "host"},
	"version":      {},
	"join":         {"home", "json", "port", "token", "host"},
	"leave":        {"home", "json", "port", "token", "host"},
	"listnetworks": {"home", "json", "port", "token", "host"},
	"controller":   {"home", "json", "port", "token", "host"},
	"listmoons":    {"home", "json", "port", "token", "host"},
	"orbit":        {"home", "json", "port", "token", "host"},
	"deorbit":      {"home", "json", "port", "token", "host"},
	"help":         {},
}

// takesArgs are the verbs with positional arguments.
var takesArgs = map[string]bool{"join": true, "leave": true, "controller": true, "orbit": true, "deorbit": true}

// parseArgs accepts flags anywhere (before or after the verb), in the forms
// -x VALUE, -x=VALUE, --long VALUE, --long=VALUE, and zerotier-cli's
// attached -xVALUE for -D, -p, -T, -H.
func parseArgs(args []string) (*options, error) {
	o := &options{set: map[string]bool{}}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		long := strings.HasPrefix(a, "--")
		if !long && !hasVal && len(name) > 1 && strings.ContainsRune("dDpTH", rune(name[0])) {
			name, val, hasVal = name[:1], name[1:], true // -DHOME, -p9993
		}
		canon, ok := canonical(name, long)
		if !ok {
			return nil, fmt.Errorf("unknown flag %s", a)
		}
		takesValue := canon != "json" && canon != "verbose" && canon != "help" && canon != "version"
		if takesValue && !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			val = args[i]
		} else if !takesValue && hasVal {
			return nil, fmt.Errorf("flag %s takes no value", a)
		}
		o.set[canon] = true
		switch canon {
		case "home":
			if val == "" {
				return nil, errors.New("empty home directory")
			}
			o.home = val
		case "json":
			o.json = true
		case "verbose":
			o.verbose = true
		case "port":
			p, err := strconv.Atoi(val)
			if err != nil || p <= 0 || p > 0xffff {
				return nil, fmt.Errorf("bad port %q (1-65535)", val)
			}
			o.port = p
		case "planet":
			o.planet = val
		case "token":
			o.token = val
		case "host":
			o.host = val
		case "help":
			positional = append([]string{"help"}, positional...)
		case "version":
			positional = append([]string{"version"}, positional...)
		}
	}
	if len(positional) == 0 {
		return nil, errors.New("no verb given")
	}
	o.verb = positional[0]
	allowed, ok := verbFlags[o.verb]
	if !ok {
		return nil, fmt.Errorf("unknown verb %q", o.verb)
	}
	if takesArgs[o.verb] {
		o.args = positional[1:]
	} else if len(positional) > 1 && o.verb != "help" && o.verb != "version" {
		return nil, fmt.Errorf("%s: unexpected argument %q", o.verb, positional[1])
	}
	for f := range o.set {
		if f == "help" || f == "version" {
			continue
		}
		if !contains(allowed, f) {
			return nil, fmt.Errorf("%s does not take --%s", o.verb, f)
		}
	}
	return o, nil
}

func canonical(name string, long bool) (string, bool) {
	short := map[string]string{"d": "home", "D": "home", "j": "json", "p": "port", "T": "token", "H": "host", "v": "verbose", "h": "help"}
	longs := map[string]string{"home": "home", "json": "json", "port": "port", "planet": "planet", "token": "token",
		"host": "host", "verbose": "verbose", "help": "help", "version": "version"}
	if long {
		c, ok := longs[name]
		return c, ok
	}
	if c, ok := short[name]; ok {
		return c, true
	}
	// Go-style single-dash long flags (-port, -planet) are accepted too.
	c, ok := longs[name]
	return c, ok && len(name) > 1
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
