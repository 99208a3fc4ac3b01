package node

import (
	"fmt"
	"time"

	"ztnc/zerotier/address"
)

// Orbit joins moon id (zerotier-cli orbit): from moons.d if the file is
// there, else through seed, one of the moon's roots, which the ping check
// then contacts until the moon arrives in its OK(HELLO). A moon held at
// once makes its roots upstreams immediately. It reports whether the moon
// is now held.
func (n *Node) Orbit(id uint64, seed address.Address) (bool, error) {
	held, err := n.topo.Orbit(id, seed)
	if err != nil {
		return false, fmt.Errorf("node: orbit %016x: %w", id, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.syncUpstreamsLocked(time.Now()); err != nil {
		return held, err
	}
	// Ask at once: the next tick's ping check sends the seed (or the new
	// roots) a full HELLO, which lists the wanted moon. 1.14 waits for the
	// seed's regular HELLO, up to 224 s when the seed is already a root.
	if pr := n.peers[seed]; pr != nil && !held {
		pr.LastFullHello = time.Time{}
	}
	n.lastPing = time.Time{}
	return held, nil
}

// Deorbit leaves moon id: its roots are upstreams no more (their peer
// entries stay as for any peer) and moons.d loses its file.
func (n *Node) Deorbit(id uint64) error {
	if err := n.topo.Deorbit(id); err != nil {
		return fmt.Errorf("node: deorbit %016x: %w", id, err)
	}
	return nil
}
