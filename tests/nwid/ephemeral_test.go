package nwid

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// TestEphemeral: each `ztnc-run --ephemeral` run is a new member (a new
// node address) that gets an address on the lab network, and leaves
// nothing behind in $TMPDIR.
func TestEphemeral(t *testing.T) {
	run := testutil.ZtncRun(t)
	planet, nwid := labUp(t)
	nodeRe := regexp.MustCompile(`node ([0-9a-f]{10}) joining`)
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			base := testutil.SharedTempDir(t)
			tmp := filepath.Join(base, "tmp")
			if err := os.Mkdir(tmp, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(tmp, 0o777)
			var nodes []string
			for i := 0; i < 2; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				out, err := testutil.RunGroup(ctx, base, []string{path, "TMPDIR=" + tmp},
					u.Wrap(run, "--ephemeral", "--planet", planet, "--nwid", nwid, "--", "sh", "-c", `echo "addrs=$ZTNC_ADDRS"; ls -A "$TMPDIR"`)...)
				cancel()
				if err != nil {
					t.Fatalf("run %d: %v\n%s", i, err, out)
				}
				m := nodeRe.FindSubmatch(out)
				if m == nil || !regexp.MustCompile(`addrs=.*10\.147\.17\.`).Match(out) {
					t.Fatalf("run %d: no node address or no lab address:\n%s", i, out)
				}
				if !strings.Contains(string(out), "ztnc-ephemeral-") {
					t.Errorf("run %d: the temporary HOME was not in $TMPDIR while CMD ran:\n%s", i, out)
				}
				nodes = append(nodes, string(m[1]))
				left, _ := os.ReadDir(tmp)
				if len(left) != 0 {
					t.Errorf("run %d left %d entries in $TMPDIR (%s…)", i, len(left), left[0].Name())
				}
			}
			if nodes[0] == nodes[1] {
				t.Errorf("both --ephemeral runs were node %s; want a fresh identity each", nodes[0])
			}
		})
	}
}

// TestEphemeralBadFlags: --ephemeral with -d, or without --nwid, is a usage error.
func TestEphemeralBadFlags(t *testing.T) {
	run := testutil.ZtncRun(t)
	for _, args := range [][]string{
		{"--ephemeral", "-d", t.TempDir(), "--nwid", "0123456789abcdef", "--", "true"},
		{"--ephemeral", "--local", "10.9.0.1/24", "--", "true"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := testutil.RunGroup(ctx, t.TempDir(), []string{path}, append([]string{run}, args...)...)
		cancel()
		if code := exitCode(err); code != 2 || !strings.Contains(string(out), "--ephemeral") {
			t.Errorf("ztnc-run %v: exit %d, want 2 with a message naming --ephemeral\n%s", args, code, out)
		}
	}
}

// exitCode is err's exit status (0 for nil, -1 when it did not exit).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
