package api

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"ztnc/zerotier/address"
	"ztnc/zerotier/world"
)

// The /moon endpoints as ZeroTier One 1.14 serves them (OneService.cpp):
// GET /moon lists held moons (not pending seeds); GET /moon/<id> one moon or
// {}; POST or PUT /moon/<id> with {"seed":"<10 hex>"} orbits (the answer is
// the moon, or a "waiting" placeholder while the seed is asked); DELETE
// /moon/<id> deorbits, {"result":true}. <id> is 10 hex digits.
func (s *Server) moonRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /moon", s.auth(s.moonList))
	mux.HandleFunc("GET /moon/{id}", s.auth(s.moonGet))
	mux.HandleFunc("POST /moon/{id}", s.auth(s.moonOrbit))
	mux.HandleFunc("PUT /moon/{id}", s.auth(s.moonOrbit))
	mux.HandleFunc("DELETE /moon/{id}", s.auth(s.moonDeorbit))
}

func moonJSON(m *world.World) obj {
	roots := []any{}
	for _, r := range m.Roots {
		eps := []string{}
		for _, ep := range r.StableEndpoints {
			eps = append(eps, apString(ep))
		}
		roots = append(roots, obj{"identity": r.Identity.String(), "stableEndpoints": eps})
	}
	return obj{
		"id": fmt.Sprintf("%016x", m.ID), "timestamp": m.Timestamp,
		"signature":             hex.EncodeToString(m.Signature[:]),
		"updatesMustBeSignedBy": hex.EncodeToString(m.UpdatesMustBeSignedBy[:]),
		"roots":                 roots, "waiting": false,
	}
}

// moonID parses the path's world ID. 1.14 routes only exactly 10 hex
// digits (a moon's ID is by convention its first root's address); other
// forms get 404 there and here.
func moonID(r *http.Request) (uint64, bool) {
	s := r.PathValue("id")
	if len(s) != 10 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 16, 64)
	return id, err == nil
}

func (s *Server) findMoon(id uint64) *world.World {
	for _, m := range s.Node.Topology().Moons() {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (s *Server) moonList(w http.ResponseWriter, r *http.Request) {
	out := []any{}
	for _, m := range s.Node.Topology().Moons() {
		out = append(out, moonJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) moonGet(w http.ResponseWriter, r *http.Request) {
	id, ok := moonID(r)
	if !ok {
		writeJSON(w, http.StatusNotFound, obj{})
		return
	}
	if m := s.findMoon(id); m != nil {
		writeJSON(w, http.StatusOK, moonJSON(m))
		return
	}
	writeJSON(w, http.StatusOK, obj{})
}

func (s *Server) moonOrbit(w http.ResponseWriter, r *http.Request) {
	id, ok := moonID(r)
	if !ok {
		writeJSON(w, http.StatusNotFound, obj{})
		return
	}
	// Like 1.14, a body that is not JSON, or has no usable seed, means
	// seed 0: only a moons.d copy can then be orbited.
	var seed address.Address
	var body struct {
		Seed string `json:"seed"`
	}
	if b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16)); err == nil && json.Unmarshal(b, &body) == nil {
		if a, err := address.Parse(body.Seed); err == nil {
			seed = a
		}
	}
	if m := s.findMoon(id); m != nil {
		writeJSON(w, http.StatusOK, moonJSON(m))
		return
	}
	held, err := s.Node.Orbit(id, seed)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, obj{"error": err.Error()})
		return
	}
	if held {
		if m := s.findMoon(id); m != nil {
			writeJSON(w, http.StatusOK, moonJSON(m))
			return
		}
	}
	if seed == 0 {
		writeJSON(w, http.StatusOK, obj{})
		return
	}
	writeJSON(w, http.StatusOK, obj{
		"id": fmt.Sprintf("%016x", id), "roots": []any{}, "timestamp": 0,
		"signature": nil, "updatesMustBeSignedBy": nil, "waiting": true,
	})
}

func (s *Server) moonDeorbit(w http.ResponseWriter, r *http.Request) {
	id, ok := moonID(r)
	if !ok {
		writeJSON(w, http.StatusNotFound, obj{})
		return
	}
	if err := s.Node.Deorbit(id); err != nil {
		writeJSON(w, http.StatusInternalServerError, obj{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, obj{"result": true})
}
