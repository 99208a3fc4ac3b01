package service_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ztnc/zerotier/identity"
	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/service"
	"ztnc/zerotier/servicetest"
)

// TestCollisionSetsIdentityAside: the root reports IDENTITY_COLLISION to a
// leaf; the leaf's service reports ErrIdentityCollision on Done, and after
// SetAsideIdentity (what `ztnc service` then does, like zerotier-one) the
// restarted service has a new address while the old secret is kept, 0600,
// in identity.secret.saved_after_collision.
func TestCollisionSetsIdentityAside(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	root, planetFile := servicetest.Root(t, ids[0])
	home := t.TempDir()
	if err := ids[1].WriteFiles(home); err != nil {
		t.Fatal(err)
	}
	oldSecret, err := os.ReadFile(filepath.Join(home, identity.SecretFileName))
	if err != nil {
		t.Fatal(err)
	}
	leaf := servicetest.Leaf(t, home, planetFile)
	servicetest.WaitFor(t, "leaf online", func() bool { return leaf.Node.Online() })

	k, err := ids[0].Agree(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := packet.NewKeys(&k)
	id, _ := packet.RandomID()
	e := message.Error{InRe: message.InRe{Verb: packet.VerbHello, ID: 7}, Code: packet.ErrorIdentityCollision}
	p := packet.New(id, ids[1].Address, root.Node.Address(), packet.VerbError, e.Append(nil))
	if err := p.Armor(keys, packet.CipherPoly1305Salsa2012); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(leaf.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-leaf.Done():
		if !errors.Is(err, service.ErrIdentityCollision) {
			t.Fatalf("Done: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("collision not reported on Done")
	}
	leaf.Close()
	if err := service.SetAsideIdentity(home); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(home, identity.SecretFileName+".saved_after_collision")
	if b, err := os.ReadFile(saved); err != nil || !bytes.Equal(b, oldSecret) {
		t.Fatalf("saved secret: %v", err)
	}
	if m := mode(t, saved); m != 0o600 {
		t.Errorf("saved secret has mode %v", m)
	}
	for _, f := range []string{identity.SecretFileName, identity.PublicFileName} {
		if _, err := os.Stat(filepath.Join(home, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", f, err)
		}
	}
	again := servicetest.Leaf(t, home, planetFile)
	if again.Node.Address() == ids[1].Address {
		t.Fatal("restart kept the colliding address")
	}
	if err := service.SetAsideIdentity(t.TempDir()); err == nil {
		t.Fatal("SetAsideIdentity without an identity succeeded")
	}
}
