package nwid

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
	"ztnc/zerotier/servicetest"
)

// background starts argv in dir (its own process group). kill kills the
// group (if still running) and returns the combined output; done delivers
// the exit error once (and is closed after). The group is killed at
// cleanup too.
func background(t *testing.T, dir string, argv []string) (pid int, kill func() string, done <-chan error) {
	t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir, c.Env = dir, []string{path}
	var out syncBuffer
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 5 * time.Second
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		ch <- c.Wait()
		close(exited)
		close(ch)
	}()
	kill = func() string {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		return out.String()
	}
	t.Cleanup(func() {
		o := kill()
		if t.Failed() {
			t.Logf("%s:\n%s", strings.Join(argv, " "), o)
		}
	})
	return c.Process.Pid, kill, ch
}

// syncBuffer is a bytes.Buffer safe for the writers and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFile waits for path to exist and returns its content.
func waitFile(t *testing.T, path string, done <-chan error) string {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case err := <-done:
			t.Fatalf("exited before writing %s: %v", path, err)
		case <-deadline:
			t.Fatalf("%s never appeared", path)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitSock waits for the service in home to open its socket.
func waitSock(t *testing.T, home string) string {
	t.Helper()
	sock := filepath.Join(home, "ztnc-run.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service in %s made no ztnc-run.sock", home)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSharedService: with `ztnc service -d S` running, two servers started
// by `ztnc-run -d S` share the service's node: the same virtual address and
// the same loopback. A client of a second service fetches from both; killing
// one server leaves the other serving and the service up; ztnc-run exits
// with its program's status.
func TestSharedService(t *testing.T) {
	run := testutil.ZtncRun(t)
	bin := ztnc(t)
	planet, nwid := labUp(t)
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			base := testutil.SharedTempDir(t)
			svcHome := filepath.Join(base, "svc")
			_, killSvc, svcDone := background(t, base, u.Wrap(bin, "service", "-d", svcHome, "--planet", planet))
			sock := waitSock(t, svcHome)
			// Node B, the fetching side, is a second service.
			homeB := filepath.Join(base, "svc-b")
			background(t, base, u.Wrap(bin, "service", "-d", homeB, "--planet", planet))
			waitSock(t, homeB)
			if st, _ := os.Stat(sock); st.Mode().Perm() != 0o600 {
				t.Errorf("ztnc-run.sock has mode %v, want 0600", st.Mode().Perm())
			}

			// Flags that shape ztnc-run's own stack are refused with a service.
			for _, flags := range [][]string{{"--local", "10.9.0.1/24"}, {"--fallthrough", "all"}} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				out, err := testutil.RunGroup(ctx, base, []string{path}, u.Wrap(append(append([]string{run, "-d", svcHome, "--nwid", nwid}, flags...), "--", "true")...)...)
				cancel()
				if code := exitCode(err); code != 2 || !strings.Contains(string(out), flags[0]+": not with the service") {
					t.Errorf("ztnc-run %v with a service: exit %d, want 2 and a message\n%s", flags, code, out)
				}
			}

			// A network that never gets ready: --wait ends it (125, CMD not
			// run), and the service, which joined it for this ztnc-run, leaves it.
			missing := nwid[:10] + "00dead"
			ran := filepath.Join(base, "ran")
			ctx0, cancel0 := context.WithTimeout(context.Background(), time.Minute)
			out0, err := testutil.RunGroup(ctx0, base, []string{path}, u.Wrap(run, "-d", svcHome, "--nwid", missing, "--wait", "2s", "--", "touch", ran)...)
			cancel0()
			if code := exitCode(err); code != 125 || !strings.Contains(string(out0), missing) || !strings.Contains(string(out0), "--wait") {
				t.Errorf("ztnc-run for a missing network through the service: exit %d, want 125 naming it and --wait\n%s", code, out0)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Error("CMD ran although its network never became ready")
			}
			servicetest.WaitFor(t, "the service to leave the missing network", func() bool {
				out, _ := exec.Command(bin, "listnetworks", "-d", svcHome).CombinedOutput()
				return strings.HasPrefix(string(out), "200 listnetworks ") && !strings.Contains(string(out), missing)
			})

			// Two servers, each its own ztnc-run, on ports 8081 and 8082.
			var addrs [2]string
			var kills [2]func() string
			var pids [2]int
			var dones [2]<-chan error
			for i, port := range []string{"8081", "8082"} {
				www := filepath.Join(base, "www"+port)
				if err := os.Mkdir(www, 0o755); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(www, "f"), []byte("from "+port+"\n"), 0o644)
				af := filepath.Join(base, "addrs"+port)
				script := `echo "$ZTNC_ADDRS" > ` + af + `.tmp && mv ` + af + `.tmp ` + af + `
exec python3 -m http.server ` + port + ` --bind ::`
				pids[i], kills[i], dones[i] = background(t, www, u.Wrap(run, "-d", svcHome, "--nwid", nwid, "--", "sh", "-c", script))
				addrs[i] = strings.TrimSpace(waitFile(t, af, dones[i]))
			}
			if addrs[0] != addrs[1] || addrs[0] == "" {
				t.Fatalf("the two programs got %q and %q; want the service's one address", addrs[0], addrs[1])
			}
			var v4 netip.Addr
			for _, f := range strings.Fields(addrs[0]) {
				if p := netip.MustParsePrefix(f); p.Addr().Is4() {
					v4 = p.Addr()
				}
			}

			// A third program of the service reaches both over the shared
			// loopback, and exits with its own status.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			lo := `for p in 8081 8082; do for i in $(seq 100); do curl -sf http://127.0.0.1:$p/f && break; sleep 0.2; done; done; exit 7`
			out, err := testutil.RunGroup(ctx, base, []string{path}, u.Wrap(run, "-d", svcHome, "--nwid", nwid, "--", "sh", "-c", lo)...)
			if code := exitCode(err); code != 7 || !strings.Contains(string(out), "from 8081") || !strings.Contains(string(out), "from 8082") {
				t.Fatalf("program over the shared loopback: exit %d, want 7 and both files\n%s", code, out)
			}
			if !strings.Contains(string(out), "service node ") {
				t.Errorf("the third program did not go through the service:\n%s", out)
			}

			// Node B fetches from both over the lab network.
			fetch := func(ports ...string) string {
				script := ""
				for _, p := range ports {
					script += `curl -sS --max-time 10 --retry 20 --retry-delay 1 --retry-all-errors http://` + v4.String() + `:` + p + `/f; `
				}
				out, _ := testutil.RunGroup(ctx, base, []string{path}, u.Wrap(run, "-d", homeB, "--nwid", nwid, "--", "sh", "-c", script)...)
				return string(out)
			}
			if out := fetch("8081", "8082"); !strings.Contains(out, "from 8081") || !strings.Contains(out, "from 8082") {
				t.Fatalf("node B did not fetch from both servers of the service:\n%s", out)
			}

			// Kill the first server (ztnc-run and its program): the second
			// keeps serving, the service stays up.
			kills[0]()
			out2 := fetch("8082")
			if !strings.Contains(out2, "from 8082") {
				t.Fatalf("after killing the 8081 server, node B cannot fetch from 8082:\n%s", out2)
			}
			select {
			case err := <-svcDone:
				t.Fatalf("the service exited: %v", err)
			default:
			}
			// The killed server's port is free again for another program
			// (with SO_REUSEADDR, as servers set it: node B's connections to it
			// are in TIME_WAIT, which would refuse a plain bind on Linux too).
			rebind := `import socket; s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", 8081)); s.listen(); print("rebound 8081")`
			if out, err := testutil.RunGroup(ctx, base, []string{path}, u.Wrap(run, "-d", svcHome, "--nwid", nwid, "--", "python3", "-c", rebind)...); err != nil || !strings.Contains(string(out), "rebound 8081") {
				t.Errorf("binding the killed server's port again: %v\n%s", err, out)
			}
			if out, err := exec.Command(bin, "info", "-d", svcHome).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "200 info ") {
				t.Fatalf("ztnc info against the service: %v %s", err, out)
			}
			// The network the first ztnc-run asked for is one the service joined.
			if out, _ := exec.Command(bin, "listnetworks", "-d", svcHome).CombinedOutput(); !strings.Contains(string(out), "200 listnetworks "+nwid+" ") || !strings.Contains(string(out), " OK ") {
				t.Errorf("ztnc listnetworks does not show %s joined and OK:\n%s", nwid, out)
			}

			// Leave the network; the next program joins it again (a new
			// port replaces the old NIC) and the 8082 server, bound to ::,
			// is reachable again.
			if out, err := exec.Command(bin, "leave", nwid, "-d", svcHome).CombinedOutput(); err != nil {
				t.Fatalf("ztnc leave: %v %s", err, out)
			}
			out, err = testutil.RunGroup(ctx, base, []string{path}, u.Wrap(run, "-d", svcHome, "--nwid", nwid, "--", "sh", "-c", `echo "rejoined $ZTNC_ADDRS"`)...)
			if err != nil || !strings.Contains(string(out), "rejoined ") {
				t.Fatalf("a program after leave: %v\n%s", err, out)
			}
			if out := fetch("8082"); !strings.Contains(out, "from 8082") {
				t.Fatalf("after leave and rejoin, node B cannot fetch from 8082:\n%s", out)
			}

			// SIGTERM to the 8082 server's ztnc-run reaches its program;
			// ztnc-run exits with the program's status.
			syscall.Kill(pids[1], syscall.SIGTERM)
			select {
			case err := <-dones[1]:
				if code := exitCode(err); code != 128+int(syscall.SIGTERM) {
					t.Errorf("the 8082 server's ztnc-run exited %d after SIGTERM, want %d", code, 128+int(syscall.SIGTERM))
				}
			case <-time.After(30 * time.Second):
				t.Fatal("SIGTERM did not end the 8082 server's ztnc-run")
			}
			if out, err := exec.Command(bin, "info", "-d", svcHome).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "200 info ") {
				t.Fatalf("ztnc info after both servers ended: %v %s", err, out)
			}

			// The service stops: its program has no network any more, and
			// its ztnc-run says so and ends it.
			marker := filepath.Join(base, "sleeper")
			_, sleeperOut, sleeperDone := background(t, base, u.Wrap(run, "-d", svcHome, "--nwid", nwid, "--", "sh", "-c", "echo up > "+marker+"; exec sleep 300"))
			waitFile(t, marker, sleeperDone)
			// Serving programs, the service set the runtime as ztnc-run
			// sets its own (the environment sets neither GOGC nor GOMAXPROCS).
			if svcOut := killSvc(); !regexp.MustCompile(`msg="runtime set for serving programs" gogc=400 gomaxprocs=\d+`).MatchString(svcOut) {
				t.Errorf("the service did not set its runtime for serving programs:\n%s", svcOut)
			}
			select {
			case err := <-sleeperDone:
				if code := exitCode(err); code != 128+int(syscall.SIGTERM) || !strings.Contains(sleeperOut(), "the service stopped") {
					t.Errorf("ztnc-run after the service stopped: exit %d, want %d and a message:\n%s", code, 128+int(syscall.SIGTERM), sleeperOut())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("ztnc-run did not end its program when the service stopped")
			}
		})
	}
}

// TestSharedServiceAuth: only the service's own uid may use its socket —
// the socket's mode keeps others out, and SO_PEERCRED does if the mode is
// loosened. A refused ztnc-run fails (125) without running CMD and without
// starting a node of its own on the service's HOME.
func TestSharedServiceAuth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another uid")
	}
	run := testutil.ZtncRun(t)
	bin := ztnc(t)
	planet, nwid := labUp(t)
	base := testutil.SharedTempDir(t)
	svcHome := filepath.Join(base, "svc")
	os.Mkdir(svcHome, 0o755) // others may reach the socket's name
	_, _, _ = background(t, base, []string{bin, "service", "-d", svcHome, "--planet", planet})
	sock := waitSock(t, svcHome)
	nobody := testutil.User{Name: "nobody", Uid: testutil.Nobody}
	try := func(what, want string) {
		marker := filepath.Join(base, "ran")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := testutil.RunGroup(ctx, base, []string{path}, nobody.Wrap(run, "-d", svcHome, "--nwid", nwid, "--", "touch", marker)...)
		if code := exitCode(err); code != 125 {
			t.Errorf("%s: ztnc-run as uid 65534 exited %d, want 125\n%s", what, code, out)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("%s: CMD ran", what)
		}
		if strings.Contains(string(out), "joining") {
			t.Errorf("%s: ztnc-run went on to join:\n%s", what, out)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: the message does not say %q:\n%s", what, want, out)
		}
	}
	try("socket mode 0600", "belongs to another user")
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	try("socket mode 0666 (SO_PEERCRED)", "uid 65534 may not use this service")
}
