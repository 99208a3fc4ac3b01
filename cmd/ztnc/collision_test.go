package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ztnc/zerotier/api"
	"ztnc/zerotier/identity"
	"ztnc/zerotier/message"
	"ztnc/zerotier/packet"
	"ztnc/zerotier/servicetest"
)

// TestServiceRestartsAfterCollision: `ztnc service` (this binary as a
// child) is told by its root that its address collides; like zerotier-one
// it sets identity.secret aside as identity.secret.saved_after_collision
// and comes back with a new identity, still serving.
func TestServiceRestartsAfterCollision(t *testing.T) {
	ids := servicetest.Identities(t, "testdata/identities.json")
	root, planet := servicetest.Root(t, ids[0])
	home := t.TempDir()
	if err := ids[2].WriteFiles(home); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(home, identity.SecretFileName))
	self, _ := filepath.Abs(os.Args[0])
	c := exec.Command(self, "-test.run=^$")
	c.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"service", "-d", home, "--planet", planet}, "\x1f"))
	var logs bytes.Buffer
	c.Stdout, c.Stderr = &logs, &logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
		if t.Failed() {
			t.Logf("ztnc service log:\n%s", logs.String())
		}
	})
	var port int
	servicetest.WaitFor(t, "the service's port file", func() bool {
		p, err := api.ReadPort(home)
		port = p
		return err == nil
	})
	servicetest.WaitFor(t, "the root knowing the service", func() bool {
		_, ok := root.Node.Peer(ids[2].Address)
		return ok
	})

	k, _ := ids[0].Agree(ids[2])
	keys, _ := packet.NewKeys(&k)
	id, _ := packet.RandomID()
	e := message.Error{InRe: message.InRe{Verb: packet.VerbHello, ID: 1}, Code: packet.ErrorIdentityCollision}
	p := packet.New(id, ids[2].Address, ids[0].Address, packet.VerbError, e.Append(nil))
	if err := p.Armor(keys, packet.CipherPoly1305Salsa2012); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(p); err != nil {
		t.Fatal(err)
	}

	saved := filepath.Join(home, identity.SecretFileName+".saved_after_collision")
	var now *identity.Identity
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(saved); err == nil && bytes.Equal(b, old) {
			if id, err := identity.ReadFile(filepath.Join(home, identity.PublicFileName)); err == nil {
				now = id
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no new identity after the collision")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if now.Address == ids[2].Address {
		t.Fatal("same address after the collision")
	}
	servicetest.WaitFor(t, "the restarted service answering as "+now.Address.String(), func() bool {
		rc, out, _ := runCapture("info", "-d", home)
		return rc == 0 && strings.HasPrefix(out, "200 info "+now.Address.String()+" ")
	})
	if c.ProcessState != nil {
		t.Fatal("service exited")
	}
}
