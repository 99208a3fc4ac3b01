package programs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// listenPrivScript serves with python3 -m http.server under ztnc-run, says
// READY with the server's pid once curl reaches it, waits for $WORK/go (the
// test's host-side connection attempts), and fetches again. It also checks
// that getsockname on a listening socket still answers the virtual address:
// the program never sees the supervisor's AF_UNIX listener.
const listenPrivScript = `
set -e
mkdir -p "$WORK/www"
echo secret >"$WORK/www/f"
python3 -m http.server --bind "$ADDR" --directory "$WORK/www" "$PORT" >"$WORK/server.log" 2>&1 &
srv=$!
i=0
until curl --noproxy '*' -sf --max-time 5 -o /dev/null "http://$ADDR:$PORT/f"; do
	i=$((i+1)); [ $i -lt 300 ] || { echo "server never answered"; cat "$WORK/server.log"; exit 1; }
	sleep 0.1
done
python3 -c 'import socket,sys
s=socket.socket(); s.bind((sys.argv[1],0)); s.listen()
print("SOCKNAME", s.getsockname()[0])' "$ADDR"
echo "READY $srv"
i=0
until [ -e "$WORK/go" ]; do
	i=$((i+1)); [ $i -lt 1200 ] || { echo "no go"; exit 1; }
	sleep 0.1
done
got=$(curl --noproxy '*' -sf --max-time 20 "http://$ADDR:$PORT/f")
kill $srv
[ "$got" = secret ] || { echo "after: got '$got'"; exit 1; }
echo PASS
`

// connectScript tries to connect to every AF_UNIX name in argv ("@" starts
// an abstract one) and prints CONNECTED or REFUSED for each.
const connectScript = `import socket, sys
for n in sys.argv[1:]:
    a = "\0" + n[1:] if n.startswith("@") else n
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(a)
        print("CONNECTED", n)
    except OSError as e:
        print("REFUSED", n, e)
    s.close()
`

// TestListenersPrivate: the AF_UNIX listeners that stand in for a supervised
// server's listening sockets must not be reachable by host processes — as
// root or as another uid — which would bypass the virtual network, while a
// supervised client still reaches the server.
func TestListenersPrivate(t *testing.T) {
	if onHost() {
		t.Skip("ZTNC_PROGRAMS_ON_HOST=1: nothing supervised to check")
	}
	var python string
	for _, p := range []string{"python3", "curl"} {
		path, err := lookPath(p)
		if err != nil {
			t.Fatalf("%s not found (apt-get install python3 curl): %v", p, err)
		}
		if p == "python3" {
			python = path
		}
	}
	attackers := testutil.Users()
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) { listenersPrivate(t, u, attackers, python) })
	}
}

func listenersPrivate(t *testing.T, u testutil.User, attackers []testutil.User, python string) {
	dir := testutil.SharedTempDir(t)
	work := testutil.SharedTempDir(t)
	script := filepath.Join(dir, "serve.sh")
	if err := os.WriteFile(script, []byte(listenPrivScript), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "connect.py")
	if err := os.WriteFile(probe, []byte(connectScript), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	argv := u.Wrap(testutil.UnderZtnc(t, "sh", script)...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + scriptPATH, "HOME=" + work, "TMPDIR=" + work, "LANG=C.UTF-8",
		"ADDR=10.9.0.1", fmt.Sprint("PORT=", port), "WORK=" + work,
		"ZTNC_SLOW_PATH=" + os.Getenv("ZTNC_SLOW_PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	go func() {
		<-ctx.Done()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()

	var out bytes.Buffer
	sc := bufio.NewScanner(pr)
	srv := 0
	sockname := ""
	for srv == 0 && sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if v, ok := strings.CutPrefix(line, "SOCKNAME "); ok {
			sockname = v
		}
		if v, ok := strings.CutPrefix(line, "READY "); ok {
			srv, _ = strconv.Atoi(v)
		}
	}
	if srv == 0 {
		cmd.Wait()
		t.Fatalf("the supervised server never came up; output:\n%s", out.String())
	}
	if sockname != "10.9.0.1" {
		t.Errorf("getsockname of a supervised listening socket: %q, want 10.9.0.1", sockname)
	}

	names, err := programListeners(srv)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no AF_UNIX listener found in the fds of the supervised server (pid %d)", srv)
	}
	t.Logf("the server's listeners, as /proc/net/unix names them: %q", names)
	for _, n := range names {
		if strings.HasPrefix(n, "@") {
			t.Errorf("listener %q has an abstract name: any process of the network namespace can connect", n)
		}
	}
	for _, a := range attackers {
		pargv := a.Wrap(append([]string{python, probe}, names...)...)
		b, err := exec.CommandContext(ctx, pargv[0], pargv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("host probe as %s: %v\n%s", a.Name, err, b)
		}
		t.Logf("host process as %s:\n%s", a.Name, b)
		if bytes.Contains(b, []byte("CONNECTED")) {
			t.Errorf("a host process as %s connected to the supervised server's listener, bypassing the virtual network:\n%s", a.Name, b)
		}
		if got := bytes.Count(b, []byte("REFUSED")); got != len(names) {
			t.Errorf("host probe as %s: %d of %d names tried:\n%s", a.Name, got, len(names), b)
		}
	}

	if err := os.WriteFile(filepath.Join(work, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "PASS") {
		t.Errorf("supervised curl after the host probes: %v; output:\n%s", err, out.String())
	}
}

// programListeners returns the /proc/net/unix names ("" if unnamed) of the
// listening AF_UNIX sockets that process pid has open.
func programListeners(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inos := map[string]bool{}
	for _, f := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, f.Name()))
		if err != nil {
			continue
		}
		if v, ok := strings.CutPrefix(l, "socket:["); ok {
			inos[strings.TrimSuffix(v, "]")] = true
		}
	}
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	var names []string
	for i, line := range strings.Split(string(b), "\n") {
		// Num RefCount Protocol Flags Type St Inode [Path]
		f := strings.Fields(line)
		if i == 0 || len(f) < 7 || !inos[f[6]] {
			continue
		}
		const acceptCon = 0x10000 // __SO_ACCEPTCON: a listening socket
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		if flags&acceptCon == 0 {
			continue
		}
		name := ""
		if len(f) > 7 {
			name = f[7]
		}
		names = append(names, name)
	}
	return names, nil
}
