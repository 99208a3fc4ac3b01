package controller

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"ztnc/zerotier/address"
)

// Handler serves the controller API under /controller and
// /unstable/controller (VL2.md 8.5); authentication is the caller's job.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /controller", func(w http.ResponseWriter, r *http.Request) {
		writeJSON200(w, http.StatusOK, map[string]any{"controller": true, "apiVersion": 4, "clock": c.now().UnixMilli(), "databaseReady": true})
	})
	mux.HandleFunc("GET /controller/network", func(w http.ResponseWriter, r *http.Request) {
		writeJSON200(w, http.StatusOK, c.NetworkIDs())
	})
	mux.HandleFunc("POST /controller/network", c.apiCreateRandom)
	mux.HandleFunc("PUT /controller/network", c.apiCreateRandom)
	mux.HandleFunc("GET /controller/network/{nwid}", func(w http.ResponseWriter, r *http.Request) {
		nwid, ok := parseNWID(r.PathValue("nwid"))
		if !ok {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		rec, err := c.Network(nwid)
		if err != nil {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		writeJSON200(w, http.StatusOK, rec)
	})
	post := func(w http.ResponseWriter, r *http.Request) {
		s := r.PathValue("nwid")
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON200(w, http.StatusBadRequest, map[string]any{})
			return
		}
		if len(body) == 0 {
			body = []byte("{}")
		}
		if strings.HasSuffix(s, "______") && len(s) == 16 {
			if s[:10] != c.me.Address.String() {
				writeJSON200(w, http.StatusBadRequest, map[string]any{})
				return
			}
			c.createRandom(w, body)
			return
		}
		nwid, ok := parseNWID(s)
		if !ok {
			writeJSON200(w, http.StatusBadRequest, map[string]any{})
			return
		}
		rec, err := c.UpdateNetwork(nwid, body)
		if err != nil {
			writeJSON200(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		writeJSON200(w, http.StatusOK, rec)
	}
	mux.HandleFunc("POST /controller/network/{nwid}", post)
	mux.HandleFunc("PUT /controller/network/{nwid}", post)
	mux.HandleFunc("DELETE /controller/network/{nwid}", func(w http.ResponseWriter, r *http.Request) {
		nwid, ok := parseNWID(r.PathValue("nwid"))
		rec, err := c.DeleteNetwork(nwid)
		if !ok || err != nil {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		writeJSON200(w, http.StatusOK, rec)
	})
	mux.HandleFunc("GET /controller/network/{nwid}/member", func(w http.ResponseWriter, r *http.Request) {
		nwid, ok := parseNWID(r.PathValue("nwid"))
		ms, err := c.Members(nwid)
		if !ok || err != nil {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		out := map[string]any{}
		for _, m := range ms {
			out[m.Address] = m.Revision
		}
		writeJSON200(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /controller/network/{nwid}/member/{addr}", func(w http.ResponseWriter, r *http.Request) {
		nwid, a, ok := memberPath(w, r)
		if !ok {
			return
		}
		m, err := c.Member(nwid, a)
		if err != nil {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		writeJSON200(w, http.StatusOK, m)
	})
	postMember := func(w http.ResponseWriter, r *http.Request) {
		nwid, a, ok := memberPath(w, r)
		if !ok {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON200(w, http.StatusBadRequest, map[string]any{})
			return
		}
		if len(body) == 0 {
			body = []byte("{}")
		}
		m, err := c.UpdateMember(nwid, a, body)
		switch {
		case err == ErrNotFound:
			writeJSON200(w, http.StatusNotFound, map[string]any{})
		case err != nil:
			writeJSON200(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		default:
			writeJSON200(w, http.StatusOK, m)
		}
	}
	mux.HandleFunc("POST /controller/network/{nwid}/member/{addr}", postMember)
	mux.HandleFunc("PUT /controller/network/{nwid}/member/{addr}", postMember)
	mux.HandleFunc("DELETE /controller/network/{nwid}/member/{addr}", func(w http.ResponseWriter, r *http.Request) {
		nwid, a, ok := memberPath(w, r)
		if !ok {
			return
		}
		m, err := c.DeleteMember(nwid, a)
		if err != nil {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		writeJSON200(w, http.StatusOK, m)
	})
	mux.HandleFunc("GET /unstable/controller/network", func(w http.ResponseWriter, r *http.Request) {
		var data []any
		for _, id := range c.NetworkIDs() {
			nwid, _ := parseNWID(id)
			rec, err := c.Network(nwid)
			if err != nil {
				continue
			}
			ms, _ := c.Members(nwid)
			auth := 0
			for _, m := range ms {
				if m.Authorized {
					auth++
				}
			}
			o := sortedMap(rec)
			o["meta"] = map[string]any{"totalMemberCount": len(ms), "authorizedMemberCount": auth}
			data = append(data, o)
		}
		if data == nil {
			data = []any{}
		}
		writeJSON200(w, http.StatusOK, map[string]any{"data": data, "meta": map[string]any{"networkCount": len(data)}})
	})
	mux.HandleFunc("GET /unstable/controller/network/{nwid}/member", func(w http.ResponseWriter, r *http.Request) {
		nwid, ok := parseNWID(r.PathValue("nwid"))
		ms, err := c.Members(nwid)
		if !ok || err != nil {
			writeJSON200(w, http.StatusNotFound, map[string]any{})
			return
		}
		auth := 0
		data := []any{}
		for _, m := range ms {
			if m.Authorized {
				auth++
			}
			data = append(data, m)
		}
		writeJSON200(w, http.StatusOK, map[string]any{"data": data, "meta": map[string]any{"totalCount": len(ms), "authorizedCount": auth}})
	})
	return mux
}

func (c *Controller) apiCreateRandom(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON200(w, http.StatusBadRequest, map[string]any{})
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	c.createRandom(w, body)
}

func (c *Controller) createRandom(w http.ResponseWriter, body []byte) {
	rec, err := c.CreateNetwork(body)
	if err != nil {
		writeJSON200(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	writeJSON200(w, http.StatusOK, rec)
}

// memberPath reads a member route's network id and address; when either is
// malformed it answers 404, as ZeroTier One does, and reports false.
func memberPath(w http.ResponseWriter, r *http.Request) (uint64, address.Address, bool) {
	nwid, ok := parseNWID(r.PathValue("nwid"))
	a, err := address.Parse(r.PathValue("addr"))
	if !ok || err != nil {
		writeJSON200(w, http.StatusNotFound, map[string]any{})
		return 0, 0, false
	}
	return nwid, a, true
}

func parseNWID(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}

// sortedMap turns a record into a map (so JSON keys come out sorted, as
// nlohmann::json writes them).
func sortedMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func writeJSON200(w http.ResponseWriter, code int, v any) {
	switch v.(type) {
	case *NetworkRecord, *MemberRecord:
		v = sortedMap(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// NetworkIDs lists our networks.
func (c *Controller) NetworkIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []string{}
	for id := range c.nets {
		out = append(out, fmt.Sprintf("%016x", id))
	}
	sortStrings(out)
	return out
}

// Network returns a copy of a network record.
func (c *Controller) Network(nwid uint64) (*NetworkRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nets[nwid]
	if n == nil {
		return nil, ErrNotFound
	}
	return clone(n), nil
}

// CreateNetwork makes a network with a random suffix under our address.
func (c *Controller) CreateNetwork(body []byte) (*NetworkRecord, error) {
	c.mu.Lock()
	var nwid uint64
	for {
		nwid = uint64(c.me.Address)<<24 | uint64(rand.Uint32()&0xffffff)
		if nwid&0xffffff == 0 {
			nwid |= 1
		}
		if c.nets[nwid] == nil {
			break
		}
	}
	c.mu.Unlock()
	return c.UpdateNetwork(nwid, body)
}

// UpdateNetwork creates or updates a network from a JSON body and pushes
// the change to online members.
func (c *Controller) UpdateNetwork(nwid uint64, body []byte) (*NetworkRecord, error) {
	c.mu.Lock()
	old := c.nets[nwid]
	var rec *NetworkRecord
	if old == nil {
		rec = newNetworkRecord(nwid, c.now().UnixMilli())
	} else {
		rec = clone(old)
	}
	if err := applyJSON(rec, body, networkSettable); err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("controller: network %016x: %w", nwid, err)
	}
	rec.normalize()
	id := fmt.Sprintf("%016x", nwid)
	rec.ID, rec.NWID, rec.Objtype = id, id, "network"
	if err := c.saveNetworkLocked(nwid, rec, old); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	var msgs []outMsg
	if old != nil && old.Revision != rec.Revision {
		msgs = c.pushLocked(nwid, 0)
	}
	out := clone(rec)
	c.mu.Unlock()
	c.flush(msgs)
	return out, nil
}

// DeleteNetwork removes a network (members are cut off by revocations).
func (c *Controller) DeleteNetwork(nwid uint64) (*NetworkRecord, error) {
	c.mu.Lock()
	n := c.nets[nwid]
	if n == nil {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	var all []address.Address
	for a := range c.mems[nwid] {
		all = append(all, a)
	}
	msgs := c.revokeLocked(nwid, all...)
	delete(c.nets, nwid)
	delete(c.mems, nwid)
	id := fmt.Sprintf("%016x", nwid)
	err := removeAll(c.dir, id)
	c.mu.Unlock()
	c.flush(msgs)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Members lists a network's members.
func (c *Controller) Members(nwid uint64) ([]*MemberRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nets[nwid] == nil {
		return nil, ErrNotFound
	}
	var out []*MemberRecord
	for _, m := range c.mems[nwid] {
		out = append(out, clone(m))
	}
	sortMembers(out)
	return out, nil
}

// Member returns one member record.
func (c *Controller) Member(nwid uint64, a address.Address) (*MemberRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.mems[nwid][a]
	if m == nil {
		return nil, ErrNotFound
	}
	return clone(m), nil
}

// UpdateMember creates or updates a member from a JSON body: authorizing
// records the time, deauthorizing revokes its COM at every online member,
// other changes are pushed to the member if it is online.
func (c *Controller) UpdateMember(nwid uint64, a address.Address, body []byte) (*MemberRecord, error) {
	c.mu.Lock()
	if c.nets[nwid] == nil {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	old := c.mems[nwid][a]
	var m *MemberRecord
	if old == nil {
		m = newMemberRecord(nwid, a.String(), c.now().UnixMilli())
	} else {
		m = clone(old)
	}
	wasAuth := m.Authorized
	if err := applyJSON(m, body, memberSettable); err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("controller: member %s: %w", a, err)
	}
	m.normalize()
	m.ID, m.Address, m.NWID, m.Objtype = a.String(), a.String(), fmt.Sprintf("%016x", nwid), "member"
	now := c.now().UnixMilli()
	if m.Authorized && !wasAuth {
		m.LastAuthorizedTime = now
		t := "api"
		m.LastAuthorizedCredentialType, m.LastAuthorizedCredential = &t, nil
	} else if !m.Authorized && wasAuth {
		m.LastDeauthorizedTime = now
	}
	if err := c.saveMemberLocked(nwid, a, m, old); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	var msgs []outMsg
	switch {
	case wasAuth && !m.Authorized:
		msgs = c.revokeLocked(nwid, a)
	case old != nil && old.Revision != m.Revision && m.Authorized:
		msgs = c.pushLocked(nwid, a)
	}
	out := clone(m)
	c.mu.Unlock()
	c.flush(msgs)
	return out, nil
}

// DeleteMember removes a member and revokes its COM.
func (c *Controller) DeleteMember(nwid uint64, a address.Address) (*MemberRecord, error) {
	c.mu.Lock()
	m := c.mems[nwid][a]
	if m == nil {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	delete(c.mems[nwid], a)
	msgs := c.revokeLocked(nwid, a)
	delete(c.seen, memberKey{nwid, a})
	err := removeFile(c.dir, fmt.Sprintf("%016x", nwid), a.String())
	c.mu.Unlock()
	c.flush(msgs)
	if err != nil {
		return nil, err
	}
	return m, nil
}
