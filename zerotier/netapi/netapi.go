// Package netapi serves the joined-network part of the local API
// (/network, /network/<nwid>) in ZeroTier One's JSON shapes, and stores
// joined networks in networks.d/ as ZeroTier One does.
package netapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ztnc/zerotier/netconf"
	"ztnc/zerotier/vl2"
)

// Store keeps networks.d/<nwid>.conf (the config dictionary, empty until
// one arrives) and <nwid>.local.conf (the allow* settings).
type Store struct {
	Dir string // <home>/networks.d
}

// Joined lists networks remembered on disk with their saved configs.
func (s *Store) Joined() (map[uint64][]byte, error) {
	out := map[uint64][]byte{}
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("networks.d: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if len(name) != 21 || !strings.HasSuffix(name, ".conf") {
			continue
		}
		nwid, err := strconv.ParseUint(name[:16], 16, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil {
			return nil, fmt.Errorf("networks.d: %w", err)
		}
		out[nwid] = b
	}
	return out, nil
}

// Save writes a network's config (empty to just remember the join).
func (s *Store) Save(nwid uint64, dict []byte) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("networks.d: %w", err)
	}
	p := filepath.Join(s.Dir, fmt.Sprintf("%016x.conf", nwid))
	if err := os.WriteFile(p+".tmp", dict, 0o600); err != nil {
		return fmt.Errorf("networks.d: %w", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("networks.d: %w", err)
	}
	return nil
}

// Remove forgets a network.
func (s *Store) Remove(nwid uint64) error {
	for _, suf := range []string{".conf", ".local.conf"} {
		err := os.Remove(filepath.Join(s.Dir, fmt.Sprintf("%016x%s", nwid, suf)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("networks.d: %w", err)
		}
	}
	return nil
}

// LocalSettings are the per-network allow* flags.
type LocalSettings struct {
	AllowManaged bool `json:"allowManaged"`
	AllowGlobal  bool `json:"allowGlobal"`
	AllowDefault bool `json:"allowDefault"`
	AllowDNS     bool `json:"allowDNS"`
}

func (s *Store) local(nwid uint64) LocalSettings {
	ls := LocalSettings{AllowManaged: true}
	b, err := os.ReadFile(filepath.Join(s.Dir, fmt.Sprintf("%016x.local.conf", nwid)))
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			on := v == "1" || strings.HasPrefix(v, "t")
			switch k {
			case "allowManaged":
				ls.AllowManaged = on
			case "allowGlobal":
				ls.AllowGlobal = on
			case "allowDefault":
				ls.AllowDefault = on
			case "allowDNS":
				ls.AllowDNS = on
			}
		}
	}
	return ls
}

func (s *Store) saveLocal(nwid uint64, ls LocalSettings) error {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	txt := fmt.Sprintf("allowManaged=%d\nallowGlobal=%d\nallowDefault=%d\nallowDNS=%d\n",
		b(ls.AllowManaged), b(ls.AllowGlobal), b(ls.AllowDefault), b(ls.AllowDNS))
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("networks.d: %w", err)
	}
	return os.WriteFile(filepath.Join(s.Dir, fmt.Sprintf("%016x.local.conf", nwid)), []byte(txt), 0o600)
}

// Handler serves /network and /network/{nwid}.
type Handler struct {
	Layer *vl2.Layer
	Store *Store
}

// NetworkJSON renders a network object as the service API does.
func (h *Handler) NetworkJSON(n *vl2.Network) map[string]any {
	id := fmt.Sprintf("%016x", n.ID())
	c := n.Config()
	ls := h.Store.local(n.ID())
	o := map[string]any{
		"id": id, "nwid": id, "mac": n.MAC().String(), "name": "", "status": n.Status().String(),
		"type": "PRIVATE", "mtu": netconf.DefaultMTU, "dhcp": false, "bridge": false, "broadcastEnabled": false,
		"portError": 0, "netconfRevision": 0, "portDeviceName": "", "allowManaged": ls.AllowManaged,
		"allowGlobal": ls.AllowGlobal, "allowDefault": ls.AllowDefault, "allowDNS": ls.AllowDNS,
		"assignedAddresses": []string{}, "routes": []any{}, "multicastSubscriptions": []any{},
		"dns": map[string]any{"domain": "", "servers": []string{}},
	}
	if c != nil {
		o["name"] = c.Name
		if !c.IsPrivate() {
			o["type"] = "PUBLIC"
		}
		o["mtu"] = c.MTU
		o["broadcastEnabled"] = c.Broadcast()
		o["netconfRevision"] = c.Revision
		addrs := []string{}
		for _, p := range c.StaticIPs {
			addrs = append(addrs, p.String())
		}
		o["assignedAddresses"] = addrs
		routes := []any{}
		for _, r := range c.Routes {
			var via any
			if r.Via.IsValid() {
				via = r.Via.String()
			}
			routes = append(routes, map[string]any{"target": r.Target.String(), "via": via, "flags": r.Flags, "metric": r.Metric})
		}
		o["routes"] = routes
		servers := []string{}
		for _, s := range c.DNS.Servers {
			servers = append(servers, s.String())
		}
		o["dns"] = map[string]any{"domain": c.DNS.Domain, "servers": servers}
		subs := []any{}
		for _, p := range c.StaticIPs {
			g := netconf.ResolutionGroup(p.Addr())
			subs = append(subs, map[string]any{"mac": macString(g.MAC), "adi": g.ADI})
		}
		if c.Broadcast() {
			subs = append(subs, map[string]any{"mac": "ff:ff:ff:ff:ff:ff", "adi": 0})
		}
		o["multicastSubscriptions"] = subs
	}
	if c != nil && c.SSOEnabled {
		o["ssoEnabled"] = true
		o["authenticationURL"] = c.AuthURL
		o["authenticationExpiryTime"] = c.AuthExpiry
	}
	if u := n.AuthURL(); u != "" {
		o["authenticationURL"] = u // from an AUTHENTICATION_REQUIRED error
	}
	return o
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// ServeHTTP implements the routes (authentication is done by the caller).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/network")
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{})
		return
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{})
			return
		}
		out := []any{}
		for _, n := range h.Layer.Networks() {
			out = append(out, h.NetworkJSON(n))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	nwid, err := strconv.ParseUint(rest, 16, 64)
	if err != nil || len(rest) != 16 {
		writeJSON(w, http.StatusNotFound, map[string]any{})
		return
	}
	switch r.Method {
	case http.MethodGet:
		n := h.Layer.Network(nwid)
		if n == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{})
			return
		}
		writeJSON(w, http.StatusOK, h.NetworkJSON(n))
	case http.MethodPost, http.MethodPut:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		n := h.Layer.Network(nwid)
		if n == nil {
			if err := h.Store.Save(nwid, nil); err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
				return
			}
			n = h.Layer.Join(nwid, nil)
		}
		if len(body) > 0 {
			ls := h.Store.local(nwid)
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				set := func(k string, p *bool) {
					if v, ok := m[k].(bool); ok {
						*p = v
					}
				}
				set("allowManaged", &ls.AllowManaged)
				set("allowGlobal", &ls.AllowGlobal)
				set("allowDefault", &ls.AllowDefault)
				set("allowDNS", &ls.AllowDNS)
				_ = h.Store.saveLocal(nwid, ls)
			}
		}
		writeJSON(w, http.StatusOK, h.NetworkJSON(n))
	case http.MethodDelete:
		if !h.Layer.Leave(nwid) {
			writeJSON(w, http.StatusOK, map[string]any{})
			return
		}
		if err := h.Store.Remove(nwid); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{})
	}
}
