/* getsockname/getpeername, accept/accept4 flags and addresses, SO_* identity
 * options, bind errors. */
#include "common.h"

static const char *typename(int t)
{
	switch (t) {
	case SOCK_STREAM: return "SOCK_STREAM";
	case SOCK_DGRAM: return "SOCK_DGRAM";
	}
	return "?";
}

static const char *protoname(int p)
{
	switch (p) {
	case IPPROTO_TCP: return "IPPROTO_TCP";
	case IPPROTO_UDP: return "IPPROTO_UDP";
	}
	return "?";
}

static void identity(const char *label, int fd)
{
	OUT("%s: SO_TYPE=%s SO_DOMAIN=%s SO_PROTOCOL=%s SO_ACCEPTCONN=%d", label,
	    typename(getint(fd, SOL_SOCKET, SO_TYPE)), famname(getint(fd, SOL_SOCKET, SO_DOMAIN)),
	    protoname(getint(fd, SOL_SOCKET, SO_PROTOCOL)), getint(fd, SOL_SOCKET, SO_ACCEPTCONN));
}

static void fdflags(const char *label, int fd)
{
	int fl = CK(fcntl(fd, F_GETFL)), fd_fl = CK(fcntl(fd, F_GETFD));
	OUT("%s: O_NONBLOCK=%d FD_CLOEXEC=%d", label, !!(fl & O_NONBLOCK), !!(fd_fl & FD_CLOEXEC));
}

int main(void)
{
	watchdog(25);
	struct sockaddr_storage ss, la, ca, pa, aa, xa;
	socklen_t len;

	/* unbound socket */
	int l = CK(socket(AF_INET, SOCK_STREAM, 0));
	len = sizeof ss;
	CK(getsockname(l, (struct sockaddr *)&ss, &len));
	OUT("unbound: %s port=%d len=%d", sa_str(&ss), sa_port(&ss), len);
	len = sizeof ss;
	TRY("getpeername_unbound", ENOTCONN, getpeername(l, (struct sockaddr *)&ss, &len));
	identity("unbound", l);

	/* bind port 0 */
	socklen_t bl = mkaddr(AF_INET, "127.0.0.1", 0, &ss);
	TRY("bind_port0", 0, bind(l, (struct sockaddr *)&ss, bl));
	len = sizeof la;
	CK(getsockname(l, (struct sockaddr *)&la, &len));
	OUT("bound: %s port_nonzero=%d len=%d", sa_str(&la), sa_port(&la) != 0, len);
	TRY("bind_again", EINVAL, bind(l, (struct sockaddr *)&ss, bl));
	len = sizeof ss;
	TRY("getpeername_bound", ENOTCONN, getpeername(l, (struct sockaddr *)&ss, &len));
	CK(listen(l, 16));
	identity("listener", l);
	len = sizeof ss;
	TRY("getpeername_listener", ENOTCONN, getpeername(l, (struct sockaddr *)&ss, &len));

	/* bind conflicts */
	int b = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("bind_inuse", EADDRINUSE, bind(b, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	int one = 1;
	CK(setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	TRY("bind_inuse_reuseaddr_vs_listener", EADDRINUSE, bind(b, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	bl = mkaddr(AF_INET, "192.0.2.1", 0, &ss);
	TRY("bind_nonlocal", EADDRNOTAVAIL, bind(b, (struct sockaddr *)&ss, bl));
	close(b);

	/* listen without bind: autobind to 0.0.0.0:ephemeral */
	b = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("listen_unbound", 0, listen(b, 4));
	sockname(b, &ss);
	OUT("listen_unbound: %s port_nonzero=%d", sa_str(&ss), sa_port(&ss) != 0);
	close(b);

	/* client */
	int c = CK(socket(AF_INET, SOCK_STREAM, 0));
	identity("client_unconnected", c);
	CK(connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	len = sizeof ca;
	CK(getsockname(c, (struct sockaddr *)&ca, &len));
	OUT("client: %s port_nonzero=%d port_differs_from_listener=%d len=%d", sa_str(&ca),
	    sa_port(&ca) != 0, sa_port(&ca) != sa_port(&la), len);
	len = sizeof pa;
	CK(getpeername(c, (struct sockaddr *)&pa, &len));
	OUT("client_peer: %s equals_listener=%d len=%d", sa_str(&pa), sa_eq(&pa, &la), len);
	identity("client", c);

	/* accept4 with flags */
	len = sizeof aa;
	memset(&aa, 0, sizeof aa);
	int a = CK(accept4(l, (struct sockaddr *)&aa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
	OUT("accept4: %s equals_client_name=%d len=%d", sa_str(&aa), sa_eq(&aa, &ca), len);
	fdflags("accept4_flags", a);
	identity("accepted", a);
	sockname(a, &xa);
	OUT("accepted_name: %s equals_listener=%d", sa_str(&xa), sa_eq(&xa, &la));
	peername(a, &xa);
	OUT("accepted_peer: %s equals_client_name=%d", sa_str(&xa), sa_eq(&xa, &ca));
	char ch;
	TRY("accepted_nonblock_read", EAGAIN, read(a, &ch, 1));
	close(a);
	close(c);

	/* plain accept: no flags, accept with NULL address */
	c = tcp_connect(&la);
	sockname(c, &ca);
	len = sizeof aa;
	a = CK(accept(l, (struct sockaddr *)&aa, &len));
	OUT("accept: %s equals_client_name=%d len=%d", sa_str(&aa), sa_eq(&aa, &ca), len);
	fdflags("accept_flags", a);
	close(a);
	close(c);
	c = tcp_connect(&la);
	a = CK(accept(l, NULL, NULL));
	OUT("accept_null_addr: ok");
	close(a);
	close(c);

	/* short address buffer: truncated copy, real length reported */
	c = tcp_connect(&la);
	sockname(c, &ca);
	memset(&aa, 0xAB, sizeof aa);
	len = 4;
	a = CK(accept(l, (struct sockaddr *)&aa, &len));
	unsigned char *p = (unsigned char *)&aa;
	OUT("accept_short_len: len=%d family=%s port_matches=%d byte4_untouched=%d", len,
	    famname(aa.ss_family), ntohs(((struct sockaddr_in *)&aa)->sin_port) == sa_port(&ca), p[4] == 0xAB);
	len = 128;
	CK(getsockname(a, (struct sockaddr *)&xa, &len));
	OUT("getsockname_big_len: len=%d", len);
	len = 0;
	CK(getpeername(a, (struct sockaddr *)&xa, &len));
	OUT("getpeername_zero_len: len=%d", len);
	close(a);
	close(c);

	/* accept4 with invalid flags */
	TRY("accept4_bad_flags", EINVAL, accept4(l, NULL, NULL, 0x1));

	/* socket() type flags */
	int s = CK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	fdflags("socket_flags", s);
	close(s);
	s = CK(socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
	identity("socket_proto_tcp", s);
	close(s);
	s = CK(socket(AF_INET, SOCK_DGRAM, 0));
	identity("udp", s);
	close(s);

	/* accept on a non-blocking listener with nothing pending */
	set_nonblock(l, 1);
	TRY("accept_empty_nonblock", EAGAIN, accept(l, NULL, NULL));
	close(l);
	return finish("tcp_names");
}
