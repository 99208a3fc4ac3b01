package vl2

// HoldDeliveries holds every port's deliveries (node.Config.HoldDeliveries:
// the socket reader calls it before handling the datagrams of one read and
// the returned release after), so that the stack behind a port may merge
// the frames of one read (netstack's receive offload).
func (l *Layer) HoldDeliveries() (release func()) {
	l.lock()
	ports := make([]*Port, 0, len(l.nets))
	for _, n := range l.nets {
		ports = append(ports, n.port)
	}
	l.unlock()
	var releases []func()
	for _, p := range ports {
		p.mu.Lock()
		h, r := p.hold, p.release
		p.mu.Unlock()
		if h != nil {
			h()
			releases = append(releases, r)
		}
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}
