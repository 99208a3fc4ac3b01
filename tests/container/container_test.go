// Package container checks that the static ztnc-run works as the entrypoint
// of a FROM scratch image in the real Docker engine, with what an
// unprivileged container has: a non-root user, every capability dropped,
// Docker's default seccomp profile (which refuses pidfd_getfd and
// process_vm_readv without CAP_SYS_PTRACE), no /dev/net/tun, no NET_ADMIN.
// Images are built from scratch out of static binaries: nothing is pulled.
package container

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	out, err := tryRun(ctx, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func tryRun(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// unprivileged are the docker run options every container here gets: no
// capability, a non-root user; Docker's default seccomp profile and devices
// (no /dev/net/tun) by not asking for anything else. Never a pull.
var unprivileged = []string{"--pull=never", "--cap-drop=ALL", "--user", "65534:65534", "--security-opt", "no-new-privileges"}

// buildImage builds a FROM scratch image of the static ztnc-run, busybox and
// index.html, with entrypoint, and returns its tag.
func buildImage(t *testing.T, ctx context.Context, entrypoint, index string) string {
	t.Helper()
	static := staticZtncRun(t)
	dir := t.TempDir()
	copyFile(t, static, filepath.Join(dir, "ztnc-run"))
	copyFile(t, "/bin/busybox", filepath.Join(dir, "busybox"))
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(index), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`FROM scratch
COPY ztnc-run /ztnc-run
COPY busybox /busybox
COPY index.html /www/index.html
USER 65534:65534
ENTRYPOINT `+entrypoint+"\n"), 0o644)
	tag := fmt.Sprintf("ztnc-test-scratch:%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), os.Getpid())
	run(t, ctx, "docker", "build", "-q", "-t", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// TestScratchImage: a server and a client in one unprivileged container on a
// --local network, with no network at all from Docker.
func TestScratchImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	want := "served from a FROM scratch image\n"
	tag := buildImage(t, ctx, `["/ztnc-run", "--local", "10.9.0.1/24", "--"]`, want)
	script := `/busybox httpd -p 10.9.0.1:8080 -h /www
for i in $(/busybox seq 50); do /busybox wget -q -O - http://10.9.0.1:8080/index.html && exit 0; /busybox sleep 0.1; done
exit 1`
	args := append([]string{"run", "--rm", "--network", "none"}, unprivileged...)
	out := run(t, ctx, "docker", append(args, tag, "/busybox", "sh", "-c", script)...)
	if out != want {
		t.Fatalf("fetched %q, want %q", out, want)
	}
}

// TestScratchImageOnLab: examples/Dockerfile's image — ENTRYPOINT
// ["/ztnc-run", "--nwid", NWID, "--"], its identity in a volume — joins a
// ZeroTier network of a lab on the host (reached at the Docker bridge's
// gateway) and serves HTTP on port 80; a second container of that image,
// started with --ephemeral (a fresh identity), fetches it over the network.
func TestScratchImageOnLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gw := bridgeGateway(t, ctx)
	ztnc := filepath.Join(testutil.RepoRoot(), "bin", "ztnc")
	lab := testutil.SharedTempDir(t)
	out := run(t, ctx, ztnc, "lab", "up", "--dir", lab, "--endpoint", gw)
	t.Cleanup(func() { exec.Command(ztnc, "lab", "down", "--dir", lab).Run() })
	m := regexp.MustCompile(`ZT_NC_NWID=([0-9a-f]{16})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ztnc lab up printed no network id:\n%s", out)
	}
	nwid := m[1]
	want := "served from a container on a ZeroTier network\n"
	tag := buildExample(t, ctx, nwid, want)

	// The server's identity lives in a volume owned by the container's user.
	data := testutil.SharedTempDir(t)
	if err := os.Chown(data, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	planet := filepath.Join(lab, "planet")
	name := fmt.Sprintf("ztnc-test-server-%d", os.Getpid())
	args := append([]string{"run", "-d", "--name", name}, unprivileged...)
	args = append(args, "-v", data+":/data", "-v", planet+":/planet:ro", "-e", "ZTNC_PLANET=/planet",
		tag, "/busybox", "sh", "-c", `echo "ADDRS=$ZTNC_ADDRS"; exec /busybox httpd -f -p 80 -h /www`)
	run(t, ctx, "docker", args...)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	inspect := run(t, ctx, "docker", "inspect", "--format", "secopt={{.HostConfig.SecurityOpt}} capadd={{.HostConfig.CapAdd}} devices={{.HostConfig.Devices}} privileged={{.HostConfig.Privileged}}", name)
	if strings.Contains(inspect, "seccomp") || !strings.Contains(inspect, "capadd=[]") ||
		!strings.Contains(inspect, "devices=[]") || !strings.Contains(inspect, "privileged=false") {
		t.Fatalf("the server container is not as unprivileged as meant: %s", inspect)
	}

	var addr string
	for deadline := time.Now().Add(2 * time.Minute); addr == ""; {
		logs, _ := tryRun(ctx, "docker", "logs", name)
		if m := regexp.MustCompile(`ADDRS=.*?(10\.147\.17\.\d+)/24`).FindStringSubmatch(logs); m != nil {
			addr = m[1]
			break
		}
		state, _ := tryRun(ctx, "docker", "inspect", "--format", "{{.State.Running}}", name)
		if strings.TrimSpace(state) != "true" || time.Now().After(deadline) {
			t.Fatalf("the server container never reported its address (running: %s):\n%s", state, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if fi, err := os.Stat(filepath.Join(data, "identity.secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the server's identity is not in its volume with mode 0600: %v %v", fi, err)
	}

	// The client: a fresh identity (--ephemeral, in a tmpfs /tmp), the same
	// unprivileged container, and a look at what it was given.
	script := fmt.Sprintf(`set -e
/busybox grep CapEff /proc/self/status
[ ! -e /dev/net/tun ] && echo "no tun"
/busybox timeout 30 /busybox wget -q -O - http://%s/index.html`, addr)
	args = append([]string{"run", "--rm", "--tmpfs", "/tmp"}, unprivileged...)
	args = append(args, "-v", planet+":/planet:ro", "-e", "ZTNC_PLANET=/planet", "--entrypoint", "/ztnc-run",
		tag, "--ephemeral", "--nwid", nwid, "--", "/busybox", "sh", "-c", script)
	out = run(t, ctx, "docker", args...)
	wantOut := "CapEff:\t0000000000000000\nno tun\n" + want
	if !strings.HasSuffix(out, wantOut) {
		t.Fatalf("the client container printed:\n%s\nwant it to end with:\n%s", out, wantOut)
	}
}

// buildExample builds examples/Dockerfile, joined to nwid instead of its
// placeholder network, serving index.
func buildExample(t *testing.T, ctx context.Context, nwid, index string) string {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "examples", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = `"--nwid", "8056c2e21c000001"`
	if !bytes.Contains(df, []byte(placeholder)) {
		t.Fatalf("examples/Dockerfile has no %s to replace", placeholder)
	}
	df = bytes.Replace(df, []byte(placeholder), []byte(fmt.Sprintf(`"--nwid", %q`, nwid)), 1)
	dir := t.TempDir()
	copyFile(t, staticZtncRun(t), filepath.Join(dir, "ztnc-run-static"))
	copyFile(t, "/bin/busybox", filepath.Join(dir, "busybox"))
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte(index), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644)
	tag := fmt.Sprintf("ztnc-test-example:%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), os.Getpid())
	run(t, ctx, "docker", "build", "-q", "-t", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// staticZtncRun is `make static`'s output, checked to be static, with the
// Docker engine reachable.
func staticZtncRun(t *testing.T) string {
	t.Helper()
	static := os.Getenv("ZTNC_RUN_STATIC")
	if static == "" {
		static = filepath.Join(testutil.RepoRoot(), "bin", "ztnc-run-static")
	}
	if _, err := os.Stat(static); err != nil {
		t.Fatalf("static ztnc-run not found at %s (run `make static`): %v", static, err)
	}
	for _, p := range []string{static, "/bin/busybox"} {
		if err := testutil.CheckStatic(p); err != nil {
			t.Fatalf("%s must be a static binary for a FROM scratch image: %v", p, err)
		}
	}
	out, err := exec.Command("docker", "info", "--format", "{{json .SecurityOptions}}").CombinedOutput()
	if err != nil {
		t.Fatalf("the Docker engine is not reachable (docker info: %v)\n%s", err, out)
	}
	// The point is Docker's own default profile (which refuses pidfd_getfd
	// and process_vm_readv), not one a daemon was configured with.
	if !strings.Contains(string(out), "name=seccomp,profile=default") && !strings.Contains(string(out), "name=seccomp,profile=builtin") {
		t.Fatalf("the Docker daemon does not use its default seccomp profile: %s", out)
	}
	return static
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// bridgeGateway is the host's address on Docker's default bridge: what its
// containers reach the host at.
func bridgeGateway(t *testing.T, ctx context.Context) string {
	t.Helper()
	if gw := strings.TrimSpace(run(t, ctx, "docker", "network", "inspect", "bridge", "--format",
		"{{range .IPAM.Config}}{{.Gateway}}{{end}}")); gw != "" {
		return gw
	}
	name := strings.TrimSpace(run(t, ctx, "docker", "network", "inspect", "bridge", "--format",
		`{{index .Options "com.docker.network.bridge.name"}}`))
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatalf("Docker's bridge interface %q: %v", name, err)
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatalf("Docker's bridge %s has no IPv4 address", name)
	return ""
}
