package dns

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

type lab struct {
	dir, planet, nwid string
	port              int
}

// labUp starts `ztnc lab up` in a temporary directory, stopped at the end.
func labUp(t *testing.T) lab {
	t.Helper()
	bin := filepath.Join(filepath.Dir(testutil.ZtncRun(t)), "ztnc")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("ztnc not built next to ztnc-run (make build): %v", err)
	}
	l := lab{dir: filepath.Join(testutil.SharedTempDir(t), "lab")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "lab", "up", "--dir", l.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("ztnc lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, bin, "lab", "down", "--dir", l.dir).CombinedOutput(); err != nil {
			t.Errorf("ztnc lab down: %v\n%s", err, out)
		}
	})
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(string(out)), "export ")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "ZTNC_PLANET":
			l.planet = v
		case "ZT_NC_NWID":
			l.nwid = v
		}
	}
	var st struct {
		Port int `json:"port"`
	}
	b, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || l.planet == "" || len(l.nwid) != 16 || st.Port == 0 {
		t.Fatalf("ztnc lab up printed %q, lab.json %q: %v", out, b, err)
	}
	l.port = st.Port
	return l
}

// post sends body to the lab controller's API at path.
func (l lab) post(t *testing.T, path, body string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(l.dir, "home", "authtoken.secret"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d%s", l.port, path), strings.NewReader(body))
	req.Header.Set("X-ZT1-Auth", strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %s %s", path, resp.Status, b)
	}
}

// TestDNSLab: the lab controller pushes a DNS domain and server (a dnsmasq
// under ztnc-run on node A); on node B getent, curl, a static Go program
// and busybox nslookup resolve a name in it and fetch from A, and a name
// outside fails at once with NXDOMAIN.
func TestDNSLab(t *testing.T) {
	need(t, "dnsmasq", "dig", "getent", "curl", "busybox", "python3")
	run := testutil.ZtncRun(t)
	resolve := resolveProg(t)
	l := labUp(t)
	work := testutil.SharedTempDir(t)
	os.WriteFile(filepath.Join(work, "hello.txt"), []byte("hello from ztnc\n"), 0o644)
	addrFile := filepath.Join(work, "addr")
	serveA := dnsmasqOn + `
for p in $ZTNC_ADDRS; do case $p in *.*.*.*/*) a=${p%/*};; esac; done
serve_dns "$a" lab.zt
python3 -m http.server 8080 --bind "$a" --directory "$WORK" >/dev/null 2>&1 &
echo "$a" > "$WORK/addr.tmp" && mv "$WORK/addr.tmp" "$WORK/addr"
wait`
	startBackground(t, testutil.User{Name: "self", Uid: -1}, work, []string{"WORK=" + work},
		run, "--planet", l.planet, "--nwid", l.nwid, "-d", filepath.Join(work, "homeA"), "--", "sh", "-c", serveA)
	var a string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			a = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node A never served DNS (see its log)")
		}
	}
	l.post(t, "/controller/network/"+l.nwid, `{"dns":{"domain":"lab.zt","servers":["`+a+`"]}}`)
	// Programs handed to a shared `ztnc service` resolve the same way.
	t.Run("service", func(t *testing.T) {
		home := filepath.Join(testutil.SharedTempDir(t), "homeS")
		ztnc := filepath.Join(filepath.Dir(run), "ztnc")
		startBackground(t, testutil.User{Name: "self", Uid: -1}, work, nil, ztnc, "service", "-d", home, "--planet", l.planet)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(home, "ztnc-run.sock")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("ztnc service made no ztnc-run.sock")
			}
		}
		script := `echo "getent: $(getent hosts web.lab.zt | tr -s ' ')"; getent hosts nope.invalid.example; echo "getent unknown: $?"`
		out := runScript(t, testutil.User{Name: "self", Uid: -1}, work, nil, script, run, "-d", home, "--nwid", l.nwid, "--")
		expectLines(t, out, "getent: "+a+" web.lab.zt", "getent unknown: 2")
		if !strings.Contains(out, "service node") {
			t.Errorf("the program was not handed to the service:\n%s", out)
		}
	})
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			home := filepath.Join(testutil.SharedTempDir(t), "homeB")
			out := runScript(t, u, work, []string{"RESOLVE=" + resolve}, clientChecks("lab.zt", a, "8080"),
				run, "--planet", l.planet, "--nwid", l.nwid, "-d", home, "--")
			expectLines(t, out, clientWant(a, "web.lab.zt")...)
		})
	}
}
