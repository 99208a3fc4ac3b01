package conformance

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ztnc/tests/testutil"
)

// Interface ioctls and netlink work on any socket, AF_UNIX and netlink
// included, which ztnc-run leaves to the kernel: even as root, a supervised
// program must not be able to change the host's network configuration.
func TestNoHostReconfiguration(t *testing.T) {
	for _, u := range testutil.Users() {
		t.Run(u.Name, func(t *testing.T) {
			const name = "ztnctest0"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			argv := u.Wrap(testutil.UnderZtnc(t, "sh", "-c",
				"ip link add "+name+" type dummy && echo ADDED; exit 0")...)
			out, err := testutil.Command(ctx, argv...).CombinedOutput()
			defer exec.Command("ip", "link", "del", name).Run()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if strings.Contains(string(out), "ADDED") {
				t.Fatalf("a supervised program reconfigured the host's network:\n%s", out)
			}
			if exec.Command("ip", "link", "show", name).Run() == nil {
				t.Fatalf("interface %s appeared on the host", name)
			}
			if !strings.Contains(string(out), "Operation not permitted") {
				t.Fatalf("expected EPERM from the kernel, got:\n%s", out)
			}
		})
	}
}
