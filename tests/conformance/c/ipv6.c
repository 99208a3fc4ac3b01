/* IPv6: TCP and UDP over ::1, dual-stack listeners, IPV6_V6ONLY. */
#include "common.h"

static void echo(int c, int a)
{
	char b = 0;
	write_all(c, "6", 1);
	EXPECT(read_full(a, &b, 1) == 1 && b == '6');
	write_all(a, "v", 1);
	EXPECT(read_full(c, &b, 1) == 1 && b == 'v');
}

int main(void)
{
	watchdog(25);
	struct sockaddr_storage la, ca, aa, xa, sa, from;
	socklen_t len;
	char buf[256];

	/* 1. TCP over ::1 */
	int l = tcp_listener(AF_INET6, "::1", 16, &la);
	len = sizeof xa;
	CK(getsockname(l, (struct sockaddr *)&xa, &len));
	struct sockaddr_in6 *l6 = (void *)&la;
	OUT("listener6: %s port_nonzero=%d len=%d flowinfo=%u scope=%u", sa_str(&la), sa_port(&la) != 0, len,
	    l6->sin6_flowinfo, l6->sin6_scope_id);
	OUT("listener6: V6ONLY=%d", getint(l, IPPROTO_IPV6, IPV6_V6ONLY));
	int c = tcp_connect(&la);
	sockname(c, &ca);
	OUT("client6: %s port_nonzero=%d", sa_str(&ca), sa_port(&ca) != 0);
	peername(c, &xa);
	OUT("client6_peer: equals_listener=%d", sa_eq(&xa, &la));
	len = sizeof aa;
	int a = CK(accept(l, (struct sockaddr *)&aa, &len));
	OUT("accept6: %s equals_client_name=%d len=%d", sa_str(&aa), sa_eq(&aa, &ca), len);
	echo(c, a);
	OUT("tcp6: echo=ok");
	close(a);
	close(c);
	close(l);

	/* 2. UDP over ::1 */
	int s = udp_socket(AF_INET6, "::1", &sa);
	int u = udp_socket(AF_INET6, "::1", &ca);
	CK(sendto(u, "hello6", 6, 0, (struct sockaddr *)&sa, sizeof(struct sockaddr_in6)));
	len = sizeof from;
	ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
	OUT("udp6: len=%zd data=%.6s %s src_matches=%d fromlen=%d", n, buf, sa_str(&from), sa_eq(&from, &ca), len);
	close(u);

	/* 3. dual-stack UDP: an IPv4 sender seen as v4-mapped */
	int s46 = CK(socket(AF_INET6, SOCK_DGRAM, 0));
	int zero = 0, one = 1;
	CK(setsockopt(s46, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero));
	socklen_t bl = mkaddr(AF_INET6, "::", 0, &xa);
	CK(bind(s46, (struct sockaddr *)&xa, bl));
	sockname(s46, &xa);
	struct sockaddr_storage to4;
	mkaddr(AF_INET, "127.0.0.1", sa_port(&xa), &to4);
	struct sockaddr_storage u4a;
	u = udp_socket(AF_INET, "127.0.0.1", &u4a);
	CK(sendto(u, "four", 4, 0, (struct sockaddr *)&to4, sizeof(struct sockaddr_in)));
	len = sizeof from;
	n = recvfrom(s46, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
	OUT("udp_dualstack: len=%zd %s port_matches=%d fromlen=%d", n, sa_str(&from), sa_port(&from) == sa_port(&u4a), len);
	/* reply to the v4-mapped address reaches the IPv4 socket */
	CK(sendto(s46, "back", 4, 0, (struct sockaddr *)&from, len));
	len = sizeof from;
	n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
	OUT("udp_dualstack_reply: len=%zd %s port_matches=%d", n, sa_str(&from), sa_port(&from) == sa_port(&xa));
	close(u);
	close(s46);
	close(s);

	/* 4. dual-stack TCP listener on :: accepting an IPv4 client */
	l = CK(socket(AF_INET6, SOCK_STREAM, 0));
	OUT("default_V6ONLY=%d", getint(l, IPPROTO_IPV6, IPV6_V6ONLY));
	CK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero));
	bl = mkaddr(AF_INET6, "::", 0, &xa);
	CK(bind(l, (struct sockaddr *)&xa, bl));
	TRY("set_v6only_after_bind", EINVAL, setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	CK(listen(l, 16));
	sockname(l, &la);
	OUT("dualstack_listener: %s", sa_str(&la));
	mkaddr(AF_INET, "127.0.0.1", sa_port(&la), &to4);
	c = tcp_connect(&to4);
	sockname(c, &ca);
	len = sizeof aa;
	a = CK(accept(l, (struct sockaddr *)&aa, &len));
	OUT("dualstack_accept: %s port_matches_client=%d len=%d", sa_str(&aa), sa_port(&aa) == sa_port(&ca), len);
	sockname(a, &xa);
	OUT("dualstack_accepted_name: %s port_matches_listener=%d", sa_str(&xa), sa_port(&xa) == sa_port(&la));
	peername(a, &xa);
	OUT("dualstack_accepted_peer: %s", sa_str(&xa));
	OUT("dualstack_accepted: SO_DOMAIN=%s", famname(getint(a, SOL_SOCKET, SO_DOMAIN)));
	echo(c, a);
	OUT("dualstack: echo=ok");
	close(a);
	close(c);

	/* 5. an AF_INET6 client to a v4-mapped address reaches an IPv4 listener */
	struct sockaddr_storage l4a;
	int l4 = tcp_listener(AF_INET, "127.0.0.1", 16, &l4a);
	struct sockaddr_storage mapped;
	mkaddr(AF_INET6, "::ffff:127.0.0.1", sa_port(&l4a), &mapped);
	c = CK(socket(AF_INET6, SOCK_STREAM, 0));
	TRY("connect_v4mapped", 0, connect(c, (struct sockaddr *)&mapped, sizeof(struct sockaddr_in6)));
	sockname(c, &ca);
	OUT("v4mapped_client: %s", sa_str(&ca));
	len = sizeof aa;
	a = CK(accept(l4, (struct sockaddr *)&aa, &len));
	OUT("v4mapped_accepted: %s port_matches_client=%d len=%d", sa_str(&aa), sa_port(&aa) == sa_port(&ca), len);
	echo(c, a);
	close(a);
	close(c);

	/* 6. V6ONLY socket to a v4-mapped address */
	c = CK(socket(AF_INET6, SOCK_STREAM, 0));
	CK(setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	TRY("v6only_connect_v4mapped", ENETUNREACH, connect(c, (struct sockaddr *)&mapped, sizeof(struct sockaddr_in6)));
	close(c);
	close(l4);

	/* 7. IPV6_V6ONLY=1 listener on :: leaves the IPv4 port alone. The IPv4 port is
	 * taken first, by a socket that never listens: on a busy host another program's
	 * IPv4 socket could hold a port the kernel hands a V6ONLY bind, so the test owns
	 * the port instead of hoping it is free afterwards. */
	int b4 = CK(socket(AF_INET, SOCK_STREAM, 0));
	bl = mkaddr(AF_INET, "127.0.0.1", 0, &to4);
	CK(bind(b4, (struct sockaddr *)&to4, bl));
	sockname(b4, &sa);
	int l6o = CK(socket(AF_INET6, SOCK_STREAM, 0));
	CK(setsockopt(l6o, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	OUT("v6only_listener: V6ONLY=%d", getint(l6o, IPPROTO_IPV6, IPV6_V6ONLY));
	bl = mkaddr(AF_INET6, "::", sa_port(&sa), &xa);
	TRY("bind_v6only_same_port_as_v4", 0, bind(l6o, (struct sockaddr *)&xa, bl));
	CK(listen(l6o, 16));
	sockname(l6o, &la);
	OUT("v6only_listener: port_matches_v4=%d", sa_port(&la) == sa_port(&sa));
	mkaddr(AF_INET, "127.0.0.1", sa_port(&la), &to4);
	/* the IPv4 side of the port has a bound socket but no listener */
	c = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("v6only_listener_ipv4_client", ECONNREFUSED, connect(c, (struct sockaddr *)&to4, sizeof(struct sockaddr_in)));
	close(c);
	/* but ::1 works */
	mkaddr(AF_INET6, "::1", sa_port(&la), &xa);
	c = tcp_connect(&xa);
	a = CK(accept(l6o, NULL, NULL));
	echo(c, a);
	OUT("v6only_listener_ipv6_client: echo=ok");
	close(a);
	close(c);
	/* and the IPv4 socket can listen on the port the V6ONLY listener shares */
	TRY("listen_v4_same_port_as_v6only", 0, listen(b4, 4));
	close(b4);
	close(l6o);

	/* 8. a dual-stack socket takes the IPv4 port too */
	b4 = CK(socket(AF_INET, SOCK_STREAM, 0));
	l = CK(socket(AF_INET6, SOCK_STREAM, 0));
	CK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero));
	bl = mkaddr(AF_INET6, "::", 0, &xa);
	CK(bind(l, (struct sockaddr *)&xa, bl));
	CK(listen(l, 4));
	sockname(l, &la);
	mkaddr(AF_INET, "127.0.0.1", sa_port(&la), &to4);
	TRY("bind_v4_same_port_as_dualstack", EADDRINUSE, bind(b4, (struct sockaddr *)&to4, sizeof(struct sockaddr_in)));
	close(b4);
	close(l);
	return finish("ipv6");
}
