# Interface enumeration: every way programs list interfaces shows the
# virtual ones (lo; "local" with ADDR/24 and ADDR6/64), never the host's:
# iproute2 and busybox over netlink, glibc's getifaddrs/if_nameindex and the
# SIOCGIF* ioctls (a C program), Go's net.Interfaces() (a static Go
# program), python3, Node's os.networkInterfaces(),
# Java's NetworkInterface (SIOCGIFCONF plus /proc/net/if_inet6), ifconfig
# (/proc/net/dev). Changes are refused as for any unprivileged user.
. "$(dirname "$0")/lib.sh"
need ip python3 node java gcc busybox
[ "$ADDR" != 127.0.0.1 ] || fail "this case checks ztnc-run's virtual interfaces: there are none on the host"

want_names="lo local"
want_addrs="lo 127.0.0.1/8
lo ::1/128
local $ADDR/24
local $ADDR6/64"

# ip -j addr (netlink RTM_GETLINK/RTM_GETADDR dumps)
got=$(ip -j addr | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    for a in i.get("addr_info", []):
        print(i["ifname"], "%s/%d" % (a["local"], a["prefixlen"]))') || fail "ip -j addr"
check_eq "$want_addrs" "$got" "ip -j addr"
mac=$(ip -j link show local | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])') || fail "ip -j link"
case $mac in ??:??:??:??:??:??) ;; *) fail "MAC of local: $mac" ;; esac
check_eq "10.9.0.0/24 dev local proto kernel scope link" "$(ip route | sed 's/ *$//')" "ip route"
check_eq "fd00:9::/64 dev local proto kernel" "$(ip -6 route | sed 's/ *$//')" "ip -6 route"
if ip addr add 10.1.1.1/24 dev local 2>"$WORK/ipadd.err"; then fail "ip addr add succeeded"; fi
grep -q "Operation not permitted" "$WORK/ipadd.err" || fail "ip addr add: $(cat "$WORK/ipadd.err")"

# busybox: ip over netlink, ifconfig over /proc/net/dev and ioctls
got=$(busybox ip -o addr | awk '{print $2, $4}')
check_eq "$want_addrs" "$got" "busybox ip -o addr"
got=$(busybox ifconfig | awk '/^[a-z]/ {print $1}' | tr '\n' ' ')
check_eq "$want_names " "$got" "busybox ifconfig"
busybox ifconfig local | grep -q "HWaddr $(echo "$mac" | tr a-f A-F)" || fail "busybox ifconfig local: $(busybox ifconfig local)"

# python3
got=$(python3 -c 'import socket; print(socket.if_nameindex())')
check_eq "[(1, 'lo'), (2, 'local')]" "$got" "python3 socket.if_nameindex()"

# Node
got=$(node -e '
const o = require("os").networkInterfaces();
for (const [n, as] of Object.entries(o)) for (const a of as) console.log(n, a.cidr, a.mac);')
check_eq "lo 127.0.0.1/8 00:00:00:00:00:00
lo ::1/128 00:00:00:00:00:00
local $ADDR/24 $mac
local $ADDR6/64 $mac" "$got" "node os.networkInterfaces()"

# Java
cat >"$WORK/Ifs.java" <<'JAVA'
import java.net.*;
import java.util.*;
public class Ifs {
	public static void main(String[] a) throws Exception {
		List<String> out = new ArrayList<>();
		for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
			StringBuilder mac = new StringBuilder();
			byte[] hw = n.getHardwareAddress();
			if (hw != null) for (byte b : hw) mac.append(String.format(mac.length() == 0 ? "%02x" : ":%02x", b));
			for (InterfaceAddress ia : n.getInterfaceAddresses()) {
				String h = ia.getAddress().getHostAddress().replaceAll("%.*", "");
				out.add(n.getName() + " " + n.getIndex() + " " + n.getMTU() + " " + n.isUp() + " " + h + "/" + ia.getNetworkPrefixLength() + " " + mac);
			}
		}
		Collections.sort(out);
		for (String s : out) System.out.println(s);
	}
}
JAVA
got=$(java "$WORK/Ifs.java") || fail "java Ifs.java"
check_eq "lo 1 65536 true 0:0:0:0:0:0:0:1/128 
lo 1 65536 true 127.0.0.1/8 
local 2 2800 true $ADDR/24 $mac
local 2 2800 true fd00:9:0:0:0:0:0:1/64 $mac" "$got" "Java NetworkInterface"

# Go (static, netlink without libc)
got=$("$GOPROGS/ifaces") || fail "Go ifaces"
check_eq "lo 1 65536  127.0.0.1/8
lo 1 65536  ::1/128
local 2 2800 $mac $ADDR/24
local 2 2800 $mac $ADDR6/64" "$got" "Go net.Interfaces()"

# C: getifaddrs, SIOCGIFCONF and the other SIOCGIF* ioctls, if_nameindex
cat >"$WORK/ifaces.c" <<'C'
/* Interface enumeration as C programs do it: getifaddrs (netlink) and the
 * SIOCGIF* ioctls. Prints one line per fact, sorted by the caller. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *addr(const struct sockaddr *sa, char *buf)
{
	if (!sa) return "-";
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, buf, 64);
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, buf, 64);
	if (sa->sa_family == AF_PACKET) {
		const struct sockaddr_ll *ll = (const void *)sa;
		sprintf(buf, "mac%d", ll->sll_halen);
		return buf;
	}
	sprintf(buf, "family%d", sa->sa_family);
	return buf;
}

int main(void)
{
	struct ifaddrs *ifa, *p;
	char a[64], m[64];
	if (getifaddrs(&ifa) < 0) { perror("getifaddrs"); return 1; }
	for (p = ifa; p; p = p->ifa_next)
		printf("getifaddrs %s %s/%s up=%d lo=%d\n", p->ifa_name, addr(p->ifa_addr, a), addr(p->ifa_netmask, m),
		       !!(p->ifa_flags & IFF_UP), !!(p->ifa_flags & IFF_LOOPBACK));
	freeifaddrs(ifa);

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0) { perror("socket"); return 1; }
	struct ifconf ifc = {0};
	if (ioctl(s, SIOCGIFCONF, &ifc) < 0) { perror("SIOCGIFCONF"); return 1; }
	printf("SIOCGIFCONF need=%d\n", ifc.ifc_len);
	struct ifreq reqs[16];
	ifc.ifc_len = sizeof reqs;
	ifc.ifc_req = reqs;
	if (ioctl(s, SIOCGIFCONF, &ifc) < 0) { perror("SIOCGIFCONF"); return 1; }
	for (int i = 0; i < ifc.ifc_len / (int)sizeof(struct ifreq); i++) {
		struct ifreq r;
		const char *n = reqs[i].ifr_name;
		printf("SIOCGIFCONF %s %s\n", n, addr(&reqs[i].ifr_addr, a));
		memset(&r, 0, sizeof r); strncpy(r.ifr_name, n, IFNAMSIZ - 1);
		ioctl(s, SIOCGIFINDEX, &r); int idx = r.ifr_ifindex;
		ioctl(s, SIOCGIFMTU, &r); int mtu = r.ifr_mtu;
		ioctl(s, SIOCGIFNETMASK, &r); addr(&r.ifr_netmask, m);
		ioctl(s, SIOCGIFFLAGS, &r); int up = !!(r.ifr_flags & IFF_UP);
		memset(&r, 0, sizeof r); r.ifr_ifindex = idx;
		ioctl(s, SIOCGIFNAME, &r);
		printf("SIOCGIF %s index=%d name=%s mtu=%d mask=%s up=%d\n", n, idx, r.ifr_name, mtu, m, up);
	}
	struct ifreq r = {0};
	strcpy(r.ifr_name, "eth0");
	printf("SIOCGIFINDEX eth0: %s\n", ioctl(s, SIOCGIFINDEX, &r) < 0 ? strerror(errno) : "found");
	struct if_nameindex *ni = if_nameindex();
	for (struct if_nameindex *q = ni; q && q->if_index; q++)
		printf("if_nameindex %u %s\n", q->if_index, q->if_name);
	if_freenameindex(ni);
	return 0;
}
C
gcc -O1 -Wall -o "$WORK/ifaces" "$WORK/ifaces.c" || fail "gcc ifaces.c"
got=$("$WORK/ifaces" | sort) || fail "ifaces"
check_eq "SIOCGIF lo index=1 name=lo mtu=65536 mask=255.0.0.0 up=1
SIOCGIF local index=2 name=local mtu=2800 mask=255.255.255.0 up=1
SIOCGIFCONF lo 127.0.0.1
SIOCGIFCONF local $ADDR
SIOCGIFCONF need=80
SIOCGIFINDEX eth0: No such device
getifaddrs lo 127.0.0.1/255.0.0.0 up=1 lo=1
getifaddrs lo ::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff up=1 lo=1
getifaddrs lo mac6/- up=1 lo=1
getifaddrs local $ADDR/255.255.255.0 up=1 lo=0
getifaddrs local $ADDR6/ffff:ffff:ffff:ffff:: up=1 lo=0
getifaddrs local mac6/- up=1 lo=0
if_nameindex 1 lo
if_nameindex 2 local" "$got" "C getifaddrs/SIOCGIF*"
log PASS
