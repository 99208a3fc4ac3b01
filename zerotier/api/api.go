// Package api is the node's local HTTP API, shaped like ZeroTier One's
// service API (VL2.md 8.6): GET /status, /peer, /peer/<address>, /health,
// authenticated with the token from authtoken.secret given as the X-ZT1-Auth
// header, ?auth= or "Authorization: Bearer". JSON objects have ZeroTier's
// field names and types; keys come out sorted, as nlohmann::json writes them.
// GET /debug/counters (authenticated) adds ztnc's drop counters.
package api

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"ztnc/zerotier/address"
	"ztnc/zerotier/message"
	"ztnc/zerotier/node"
)

// Settings are the service facts /status reports under config.settings.
type Settings struct {
	HomeDir     string
	PrimaryPort uint16
}

// Server serves the API for one node.
type Server struct {
	Node     *node.Node
	Token    string
	Settings Settings
	// Networks serves /network... and Controller /controller... and
	// /unstable/controller... (after authentication) when set.
	Networks   http.Handler
	Controller http.Handler
	// VL2Counters adds the VL2 layer's counters to /debug/counters.
	VL2Counters func() map[string]uint64
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health) // no token, as in ZeroTier One
	mux.HandleFunc("GET /status", s.auth(s.status))
	mux.HandleFunc("GET /peer", s.auth(s.peers))
	mux.HandleFunc("GET /peer/{addr}", s.auth(s.peer))
	mux.HandleFunc("GET /debug/counters", s.auth(s.counters))
	s.moonRoutes(mux)
	for pat, h := range map[string]http.Handler{"/network": s.Networks, "/network/": s.Networks,
		"/controller": s.Controller, "/controller/": s.Controller, "/unstable/controller/": s.Controller} {
		if h != nil {
			mux.HandleFunc(pat, s.auth(h.ServeHTTP))
		}
	}
	mux.HandleFunc("/", s.auth(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusNotFound, obj{}) }))
	return mux
}

type obj = map[string]any

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-ZT1-Auth")
		if tok == "" {
			tok = r.URL.Query().Get("auth")
		}
		if tok == "" {
			tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		if s.Token == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.Token)) != 1 {
			writeJSON(w, http.StatusUnauthorized, obj{})
			return
		}
		h(w, r)
	}
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

func version() string {
	return fmt.Sprintf("%d.%d.%d", message.VersionMajor, message.VersionMinor, message.VersionRevision)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, obj{
		"online": s.Node.Online(), "versionMajor": message.VersionMajor, "versionMinor": message.VersionMinor,
		"versionRev": message.VersionRevision, "versionBuild": 0, "version": version(), "clock": time.Now().UnixMilli(),
	})
}

// apString is InetAddress::toString: "ip/port".
func apString(ap netip.AddrPort) string { return ap.Addr().String() + "/" + fmt.Sprint(ap.Port()) }

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	n := s.Node
	listening := []string{}
	for _, ap := range n.LocalAddrs() {
		listening = append(listening, apString(ap))
	}
	surface := []string{}
	for _, ap := range n.SurfaceAddresses() {
		surface = append(surface, apString(ap))
	}
	planet := n.Topology().Planet()
	writeJSON(w, http.StatusOK, obj{
		"address":           n.Address().String(),
		"publicIdentity":    n.Identity().String(),
		"online":            n.Online(),
		"tcpFallbackActive": false,
		"versionMajor":      message.VersionMajor,
		"versionMinor":      message.VersionMinor,
		"versionRev":        message.VersionRevision,
		"versionBuild":      0,
		"version":           version(),
		"clock":             time.Now().UnixMilli(),
		"config": obj{"settings": obj{
			"allowTcpFallbackRelay": false, "forceTcpRelay": false,
			"primaryPort": s.Settings.PrimaryPort, "secondaryPort": 0, "tertiaryPort": 0,
			"homeDir": s.Settings.HomeDir, "listeningOn": listening, "surfaceAddresses": surface,
			"portMappingEnabled": false, "softwareUpdate": "disable", "softwareUpdateChannel": "release",
		}},
		"planetWorldId":        planet.ID,
		"planetWorldTimestamp": planet.Timestamp,
	})
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func peerJSON(p node.PeerInfo) obj {
	paths := []any{}
	for _, pa := range p.Paths {
		paths = append(paths, obj{
			"address": apString(pa.Address), "lastSend": ms(pa.LastSend), "lastReceive": ms(pa.LastReceive),
			"trustedPathId": 0, "active": pa.Active, "expired": pa.Expired, "preferred": pa.Preferred,
			"localSocket": pa.LocalSocket, "localPort": pa.LocalPort,
		})
	}
	return obj{
		"address": p.Address.String(), "versionMajor": p.Major, "versionMinor": p.Minor, "versionRev": p.Revision,
		"version": fmt.Sprintf("%d.%d.%d", p.Major, p.Minor, p.Revision), "latency": p.Latency, "role": p.Role,
		"isBonded": false, "tunneled": false, "paths": paths,
	}
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	out := []any{}
	for _, p := range s.Node.Peers() {
		out = append(out, peerJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) peer(w http.ResponseWriter, r *http.Request) {
	a, err := address.Parse(r.PathValue("addr"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, obj{})
		return
	}
	p, ok := s.Node.Peer(a)
	if !ok {
		writeJSON(w, http.StatusNotFound, obj{})
		return
	}
	writeJSON(w, http.StatusOK, peerJSON(p))
}

func (s *Server) counters(w http.ResponseWriter, r *http.Request) {
	c := s.Node.Counters.Snapshot()
	if s.VL2Counters != nil {
		for k, v := range s.VL2Counters() {
			c["vl2."+k] = v
		}
	}
	writeJSON(w, http.StatusOK, c)
}
