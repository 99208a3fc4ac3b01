// Package refinterop runs the 2015 Network Containers test against the real
// thing: ZeroTier One (the binary named by ZT_REF_BIN) is root, controller
// and a member with a kernel tap in one network namespace; ztnc-run --nwid
// runs in another. The reference's kernel fetches a page from a supervised
// HTTP server and pings it, and a supervised curl fetches a page from a
// server on the reference member's tap address.
//
//	ZT_REF_BIN=/path/to/zerotier-one go test ./tests/refinterop/   (as root)
//
// Without ZT_REF_BIN the test is skipped (reported as a skip, not a pass).
package refinterop

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/reflab"
	"ztnc/tests/testutil"
)

// path: system directories only (uid 65534 cannot enter /root).
const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestReferenceMember: the 2015 README's test with a reference member.
func TestReferenceMember(t *testing.T) {
	run := testutil.ZtncRun(t)
	base := testutil.SharedTempDir(t)
	bin := os.Getenv("ZT_REF_BIN")
	if bin == "" {
		t.Skip("ZT_REF_BIN is not set: this test needs a reference zerotier-one binary (ZT_REF_BIN=/path/to/zerotier-one)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("ZT_REF_BIN is set but this test needs root for network namespaces")
	}
	lab, err := reflab.Up(bin, base, fmt.Sprint(os.Getpid()%100000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("zerotier-one log:\n%s", lab.Log(lab.A))
		}
		lab.Close()
	})
	ref, nsZ, planet, nwid, refIP := lab.A, lab.NSB, lab.PlanetFile, lab.NWID, lab.A.IP4
	t.Logf("reference %s: network %s, %s and %s on %s", ref.ID.Address, nwid, ref.IP4, ref.IP6, ref.Dev)
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	www := filepath.Join(base, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "README.md"), readme, 0o644); err != nil {
		t.Fatal(err)
	}
	// A server on the reference member, on its tap's address (the kernel's
	// own network stack), for the supervised curl.
	srv := exec.Command("ip", "netns", "exec", ref.NS, "python3", "-m", "http.server", "8081", "--bind", refIP.String())
	srv.Dir = www
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			dir := testutil.SharedTempDir(t)
			// Node A: a supervised HTTP server (dual-stack bind to ::).
			addrFile := filepath.Join(dir, "addrs")
			serve := `echo "$ZTNC_ADDRS" > ` + addrFile + `.tmp && mv ` + addrFile + `.tmp ` + addrFile + `
exec python3 -m http.server 8080 --bind ::`
			argv := append([]string{"ip", "netns", "exec", nsZ}, u.Wrap(run, "-d", filepath.Join(dir, "home-a"), "--planet", planet, "--nwid", nwid, "--", "sh", "-c", serve)...)
			a := exec.Command(argv[0], argv[1:]...)
			a.Dir, a.Env = www, []string{path}
			var aout bytes.Buffer
			a.Stdout, a.Stderr = &aout, &aout
			a.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := a.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- a.Wait() }()
			defer func() {
				syscall.Kill(-a.Process.Pid, syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					syscall.Kill(-a.Process.Pid, syscall.SIGKILL)
					<-done
				}
				t.Logf("node A (ztnc-run):\n%s", aout.String())
			}()

			// Node B: a supervised curl of the reference member's server,
			// started at once (it joins while A does).
			fetch := `for i in $(seq 150); do curl -sf -o /dev/null http://` + refIP.String() + `:8081/README.md && break; sleep 0.2; done
exec curl -sS --max-time 20 http://` + refIP.String() + `:8081/README.md`
			bargv := append([]string{"ip", "netns", "exec", nsZ}, u.Wrap(run, "-d", filepath.Join(dir, "home-b"), "--planet", planet, "--nwid", nwid, "--", "sh", "-c", fetch)...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			b := exec.CommandContext(ctx, bargv[0], bargv[1:]...)
			b.Env = []string{path}
			var bout, berr bytes.Buffer
			b.Stdout, b.Stderr = &bout, &berr
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}

			var v4, v6 netip.Addr
			waitFor(t, "node A's addresses (ZTNC_ADDRS)", 90*time.Second, func() bool {
				select {
				case err := <-done:
					done <- err
					t.Fatalf("node A exited: %v\n%s", err, aout.String())
				default:
				}
				s, err := os.ReadFile(addrFile)
				if err != nil {
					return false
				}
				for _, f := range strings.Fields(string(s)) {
					if p, err := netip.ParsePrefix(f); err == nil {
						if p.Addr().Is4() {
							v4 = p.Addr()
						} else {
							v6 = p.Addr()
						}
					}
				}
				return true
			})
			if !v4.IsValid() || !v6.IsValid() {
				t.Fatalf("node A's ZTNC_ADDRS: want an IPv4 and an RFC4193 IPv6 address, got %v and %v", v4, v6)
			}

			// The reference member's kernel: curl and ping the supervised server.
			url := "http://" + v4.String() + ":8080/README.md"
			var got []byte
			waitFor(t, "curl from the reference member to "+url, 60*time.Second, func() bool {
				got, err = exec.Command("ip", "netns", "exec", ref.NS, "curl", "-sf", "--max-time", "5", url).Output()
				return err == nil
			})
			if !bytes.Equal(got, readme) {
				t.Fatalf("the reference member fetched %d bytes from %s, want README.md's %d", len(got), url, len(readme))
			}
			out, err := exec.Command("ip", "netns", "exec", ref.NS, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "5", v4.String()).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "3 received") {
				t.Fatalf("ping %s from the reference member: %v\n%s", v4, err, out)
			}
			url6 := "http://[" + v6.String() + "]:8080/README.md"
			waitFor(t, "curl over IPv6 from the reference member to "+url6, 60*time.Second, func() bool {
				got, err = exec.Command("ip", "netns", "exec", ref.NS, "curl", "-sfg", "--max-time", "5", url6).Output()
				return err == nil
			})
			if !bytes.Equal(got, readme) {
				t.Fatalf("the reference member fetched %d bytes from %s, want %d", len(got), url6, len(readme))
			}
			out, err = exec.Command("ip", "netns", "exec", ref.NS, "ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "5", v6.String()).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "3 received") {
				t.Fatalf("ping -6 %s from the reference member: %v\n%s", v6, err, out)
			}

			// The supervised curl on node B got the reference's page.
			if err := b.Wait(); err != nil {
				t.Fatalf("node B (supervised curl of %s:8081): %v\n%s", refIP, err, berr.String())
			}
			if !bytes.Equal(bout.Bytes(), readme) {
				t.Fatalf("node B's curl got %d bytes from the reference member, want README.md's %d\n%s", bout.Len(), len(readme), berr.String())
			}
		})
	}
}
