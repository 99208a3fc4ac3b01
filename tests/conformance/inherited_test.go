package conformance

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// TestInheritedHostSocket: ztnc-run started with a host UDP socket as stdin
// (no --fallthrough). The program may use it as its owner gave it, but it
// must not reach another host address with it: sendto and connect on it
// are checked against the (empty) fall-through policy.
func TestInheritedHostSocket(t *testing.T) {
	prog := `import socket, sys
s = socket.socket(fileno=0)
port = int(sys.argv[1])
for what, f in (("sendto", lambda: s.sendto(b"escaped-sendto", ("127.0.0.1", port))),
                ("connect+send", lambda: (s.connect(("127.0.0.1", port)), s.send(b"escaped-connect")))):
    try:
        f()
        print(what, "went")
    except OSError as e:
        print(what, "refused", e.errno)
`
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			h := startHostServersOn(t, "127.0.0.1")
			_, up := h.ports()
			own, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer own.Close()
			f, err := own.File()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			argv := u.Wrap(testutil.UnderZtnc(t, "python3", "-c", prog, fmt.Sprint(up))...)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin = f
			done := make(chan struct{})
			var out []byte
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(progTimeout):
				cmd.Process.Kill()
				<-done
				t.Fatalf("timed out:\n%s", out)
			}
			if strings.Contains(string(out), "went") {
				t.Errorf("a call on the inherited host socket went through:\n%s", out)
			}
			if !strings.Contains(string(out), "sendto refused") {
				t.Errorf("the program did not run as expected (%v):\n%s", err, out)
			}
			if l := h.leaks(t); len(l) > 0 {
				t.Errorf("traffic reached the host's 127.0.0.1 without --fallthrough:\n  %s", strings.Join(l, "\n  "))
			}
		})
	}
}
