// Package container checks that the static ztnc-run works as the entrypoint
// of a FROM scratch image in the real Docker engine: a non-root user, every
// capability dropped but SYS_PTRACE (which only unlocks pidfd_getfd in
// Docker's default seccomp profile; a non-root user gains no privilege from
// it), Docker's default seccomp profile, no tun device.
package container

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestScratchImage(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	dir := t.TempDir()
	copyFile(t, static, filepath.Join(dir, "ztnc-run"))
	copyFile(t, "/bin/busybox", filepath.Join(dir, "busybox"))
	want := "served from a FROM scratch image\n"
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(want), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`FROM scratch
COPY ztnc-run /ztnc-run
COPY busybox /busybox
COPY index.html /www/index.html
USER 65534:65534
ENTRYPOINT ["/ztnc-run", "--local", "10.9.0.1/24", "--"]
`), 0o644)
	tag := "ztnc-test-scratch:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	run(t, ctx, "docker", "build", "-q", "-t", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	script := `/busybox httpd -p 10.9.0.1:8080 -h /www
for i in $(/busybox seq 50); do /busybox wget -q -O - http://10.9.0.1:8080/index.html && exit 0; /busybox sleep 0.1; done
exit 1`
	out := run(t, ctx, "docker", "run", "--rm", "--network", "none", "--cap-drop=ALL", "--cap-add=SYS_PTRACE",
		tag, "/busybox", "sh", "-c", script)
	if out != want {
		t.Fatalf("fetched %q, want %q", out, want)
	}
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
