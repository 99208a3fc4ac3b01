// Package testutil holds what the end-to-end suites share: finding the
// binaries, running a command under ztnc-run, and running it again as an
// unprivileged user when the suite runs as root.
package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Nobody is the unprivileged uid/gid the suites use when started as root.
const Nobody = 65534

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ZtncRun returns the path of the ztnc-run binary ($ZTNC_RUN, else bin/ztnc-run)
// and fails the test when it is missing: the suites never skip for that.
func ZtncRun(t testing.TB) string {
	t.Helper()
	p := os.Getenv("ZTNC_RUN")
	if p == "" {
		p = filepath.Join(RepoRoot(), "bin", "ztnc-run")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ztnc-run not found at %s (run `make build` first): %v", p, err)
	}
	return p
}

// User is who a case runs as.
type User struct {
	Name string // "root" or "nobody"
	Uid  int    // -1: as the test process itself
}

// Users lists the identities every end-to-end case runs under: the current
// user, plus uid 65534 with no capabilities when the suite runs as root.
func Users() []User {
	if os.Geteuid() == 0 {
		return []User{{"root", -1}, {"nobody", Nobody}}
	}
	return []User{{"user", -1}}
}

// Wrap returns argv that runs argv as u: through setpriv with every
// capability dropped for the unprivileged user.
func (u User) Wrap(argv ...string) []string {
	if u.Uid < 0 {
		return argv
	}
	pre := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--"}
	return append(pre, argv...)
}

// UnderZtnc returns argv that runs cmd under `ztnc-run --local 10.9.0.1/24
// --local fd00:9::1/64` (the suites' standard virtual network).
func UnderZtnc(t testing.TB, cmd ...string) []string {
	argv := []string{ZtncRun(t), "--local", "10.9.0.1/24", "--local", "fd00:9::1/64", "--"}
	return append(argv, cmd...)
}

// Command builds an exec.Cmd for argv with a deadline.
func Command(ctx context.Context, argv ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.WaitDelay = 5 * time.Second
	return c
}

// SharedTempDir is t.TempDir made readable and writable by the unprivileged
// user too (mode 0777), so both identities can use it.
func SharedTempDir(t testing.TB) string {
	d := t.TempDir()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o777)
	}
	return d
}
