package supervisor

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSkipIov(t *testing.T) {
	v := []iovec{{100, 3}, {200, 0}, {300, 5}}
	for _, c := range []struct {
		off  uint64
		want []iovec
	}{
		{0, v},
		{2, []iovec{{102, 1}, {200, 0}, {300, 5}}},
		{3, []iovec{{300, 5}}},
		{4, []iovec{{301, 4}}},
		{8, nil},
		{9, nil},
	} {
		got := skipIov(v, c.off)
		if len(got) == 0 && len(c.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("skipIov(%d) = %v, want %v", c.off, got, c.want)
		}
	}
}

func TestRoutingOpt(t *testing.T) {
	if !routingOpt(unix.IPPROTO_IP, unix.IP_OPTIONS) || !routingOpt(unix.IPPROTO_IPV6, unix.IPV6_RTHDR) {
		t.Error("source routing options not refused")
	}
	if routingOpt(unix.IPPROTO_IP, unix.IP_TTL) || routingOpt(unix.SOL_SOCKET, unix.IP_OPTIONS) {
		t.Error("a harmless option refused")
	}
}
