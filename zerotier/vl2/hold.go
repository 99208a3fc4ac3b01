package vl2

// HoldDeliveries holds every port's deliveries (node.Config.HoldDeliveries:
// the socket reader calls it before handling the datagrams of one read and
// the returned release after), so that the stack behind a port may merge
// the frames of one read (netstack's receive offload).
func (l *Layer) HoldDeliveries() (release func()) {
	s := l.holds.Load()
	if s == nil {
		return nil
	}
	for _, h := range s.holds {
		h()
	}
	return s.release
}

// holdSet is the holders of the joined networks' ports, with a release for
// exactly those: kept ready because the reader holds for every read, most
// of them one datagram.
type holdSet struct {
	holds   []func()
	release func()
}

// refreshHolds rebuilds the hold set; called after a port's holder is set
// and after the networks change (not under l.mu or a port's mu). Refreshes
// run one at a time, so the last one stored saw the latest state.
func (l *Layer) refreshHolds() {
	l.holdMu.Lock()
	defer l.holdMu.Unlock()
	l.mu.Lock()
	ports := make([]*Port, 0, len(l.nets))
	for _, n := range l.nets {
		ports = append(ports, n.port)
	}
	l.mu.Unlock()
	s := &holdSet{}
	var releases []func()
	for _, p := range ports {
		p.mu.Lock()
		h, r := p.hold, p.release
		p.mu.Unlock()
		if h != nil {
			s.holds = append(s.holds, h)
			releases = append(releases, r)
		}
	}
	if len(s.holds) == 0 {
		l.holds.Store(nil)
		return
	}
	s.release = func() {
		for _, r := range releases {
			r()
		}
	}
	l.holds.Store(s)
}
