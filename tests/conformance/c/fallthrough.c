/* Fall-through conformance: connections and datagrams to echo servers on
 * the host's 127.0.0.1, run on the host kernel and under
 * `ztnc-run --fallthrough 127.0.0.0/8`; the outputs must be the same.
 * argv: <TCP echo port> <UDP echo port> <a closed TCP port>
 *       <TCP echo port on ::1> <UDP echo port on ::1> */
#include "common.h"

static int tport, uport, closedport, tport6, uport6;

static void echo_check(const char *label, int fd)
{
	char buf[64] = {0};
	TRY(label, 0, write(fd, "hello", 5));
	long n = 0;
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, 5000) == 1)
		n = read(fd, buf, sizeof buf - 1);
	OUT("%s echo: %ld %s", label, n, buf);
}

static void tcp_blocking(void)
{
	struct sockaddr_storage to, ss;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", tport, &to);
	int fd = CK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int one = 1;
	struct timeval tv = {3, 0};
	CK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	CK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	CK(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
	CK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	int idle = 77, rcvbuf = 100000;
	CK(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
	CK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf));
	TRY("tcp blocking connect", 0, connect(fd, (struct sockaddr *)&to, l));
	OUT("options after connect: nodelay=%d reuseaddr=%d keepalive=%d keepidle=%d",
	    getint(fd, IPPROTO_TCP, TCP_NODELAY) != 0, getint(fd, SOL_SOCKET, SO_REUSEADDR) != 0,
	    getint(fd, SOL_SOCKET, SO_KEEPALIVE) != 0, getint(fd, IPPROTO_TCP, TCP_KEEPIDLE));
	struct timeval got = {0};
	socklen_t tl = sizeof got;
	CK(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &got, &tl));
	OUT("rcvtimeo after connect: %ld.%06ld", (long)got.tv_sec, (long)got.tv_usec);
	OUT("rcvbuf after connect: %d", getint(fd, SOL_SOCKET, SO_RCVBUF));
	OUT("type=%d domain=%s protocol=%d cloexec=%d", getint(fd, SOL_SOCKET, SO_TYPE),
	    famname(getint(fd, SOL_SOCKET, SO_DOMAIN)), getint(fd, SOL_SOCKET, SO_PROTOCOL),
	    (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	peername(fd, &ss);
	OUT("peer: %s port-matches=%d", sa_str(&ss), sa_port(&ss) == tport);
	sockname(fd, &ss);
	OUT("local: %s port-nonzero=%d", sa_str(&ss), sa_port(&ss) != 0);
	TRY("tcp connect again", EISCONN, connect(fd, (struct sockaddr *)&to, l));
	echo_check("tcp blocking", fd);
	/* SO_RCVTIMEO carried: a read with nothing to read times out. */
	char b[8];
	struct timeval short_tv = {0, 200000};
	CK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof short_tv));
	TRY("read past rcvtimeo", EAGAIN, read(fd, b, sizeof b));
	TRY("shutdown wr", 0, shutdown(fd, SHUT_WR));
	TRY("read eof", 0, read(fd, b, sizeof b));
	close(fd);
}

static void tcp_nonblocking(void)
{
	struct sockaddr_storage to;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", tport, &to);
	int fd = CK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	errno = 0;
	int r = connect(fd, (struct sockaddr *)&to, l);
	OUT("tcp nonblocking connect: %s", r == 0 ? "ok" : (errno == EINPROGRESS ? "EINPROGRESS" : en(errno)));
	EXPECT(r == 0 || errno == EINPROGRESS);
	struct pollfd p = {fd, POLLOUT, 0};
	int pr = poll(&p, 1, 5000);
	OUT("poll: %d revents=%#x", pr, p.revents);
	OUT("so_error: %s", en(getint(fd, SOL_SOCKET, SO_ERROR)));
	OUT("still nonblocking: %d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	char b[8];
	TRY("read nothing yet", EAGAIN, read(fd, b, sizeof b));
	struct pollfd q = {fd, POLLOUT, 0};
	poll(&q, 1, 5000);
	echo_check("tcp nonblocking", fd);
	close(fd);
}

static void tcp_refused(void)
{
	struct sockaddr_storage to;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", closedport, &to);
	int fd = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("refused blocking", ECONNREFUSED, connect(fd, (struct sockaddr *)&to, l));
	close(fd);
	fd = CK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	errno = 0;
	int r = connect(fd, (struct sockaddr *)&to, l);
	OUT("refused nonblocking: %s", r == 0 ? "ok" : (errno == EINPROGRESS ? "EINPROGRESS" : en(errno)));
	struct pollfd p = {fd, POLLOUT, 0};
	poll(&p, 1, 5000);
	OUT("refused poll: out=%d err=%d", (p.revents & POLLOUT) != 0, (p.revents & POLLERR) != 0);
	OUT("refused so_error: %s", en(getint(fd, SOL_SOCKET, SO_ERROR)));
	OUT("refused so_error again: %s", en(getint(fd, SOL_SOCKET, SO_ERROR)));
	close(fd);
}

static void tcp_bound(void)
{
	struct sockaddr_storage to, any, ss;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", tport, &to);
	socklen_t al = mkaddr(AF_INET, "0.0.0.0", 0, &any);
	int fd = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("bind any:0", 0, bind(fd, (struct sockaddr *)&any, al));
	TRY("connect after bind", 0, connect(fd, (struct sockaddr *)&to, l));
	sockname(fd, &ss);
	OUT("bound local: %s", sa_str(&ss));
	echo_check("tcp bound", fd);
	close(fd);
	al = mkaddr(AF_INET, "127.0.0.1", 0, &any);
	fd = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("bind 127.0.0.1:0", 0, bind(fd, (struct sockaddr *)&any, al));
	TRY("connect after bind loopback", 0, connect(fd, (struct sockaddr *)&to, l));
	sockname(fd, &ss);
	OUT("bound local: %s", sa_str(&ss));
	close(fd);
}

static void tcp_v6_mapped(void)
{
	struct sockaddr_storage to;
	socklen_t l = mkaddr(AF_INET6, "::ffff:127.0.0.1", tport, &to);
	int fd = CK(socket(AF_INET6, SOCK_STREAM, 0));
	TRY("v6 socket to v4-mapped", 0, connect(fd, (struct sockaddr *)&to, l));
	struct sockaddr_storage ss;
	peername(fd, &ss);
	OUT("v6 peer: %s", sa_str(&ss));
	echo_check("tcp v6-mapped", fd);
	close(fd);
}

static void udp_echo_recv(const char *label, int fd, int want_from)
{
	char buf[64] = {0};
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	struct pollfd p = {fd, POLLIN, 0};
	long n = -1;
	if (poll(&p, 1, 5000) == 1)
		n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &fl);
	OUT("%s: %ld %s from %s port-matches=%d", label, n, buf, n >= 0 ? sa_str(&from) : "-",
	    n >= 0 && sa_port(&from) == want_from);
}

static void udp(void)
{
	struct sockaddr_storage to, ss;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", uport, &to);
	int fd = CK(socket(AF_INET, SOCK_DGRAM, 0));
	TRY("udp sendto", 0, sendto(fd, "dgram1", 6, 0, (struct sockaddr *)&to, l));
	udp_echo_recv("udp recvfrom", fd, uport);
	sockname(fd, &ss);
	OUT("udp local: %s port-nonzero=%d", sa_str(&ss), sa_port(&ss) != 0);
	TRY("udp sendto again", 0, sendto(fd, "dgram2", 6, 0, (struct sockaddr *)&to, l));
	udp_echo_recv("udp recvfrom again", fd, uport);
	close(fd);

	/* connected UDP: connect, send, recv */
	fd = CK(socket(AF_INET, SOCK_DGRAM, 0));
	TRY("udp connect", 0, connect(fd, (struct sockaddr *)&to, l));
	TRY("udp send", 0, send(fd, "dgram3", 6, 0));
	udp_echo_recv("udp connected recv", fd, uport);
	peername(fd, &ss);
	OUT("udp peer: %s port-matches=%d", sa_str(&ss), sa_port(&ss) == uport);
	close(fd);

	/* sendmsg and sendmmsg, as resolvers do */
	fd = CK(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0));
	struct iovec iov = {"dgram4", 6};
	struct msghdr m = {.msg_name = &to, .msg_namelen = l, .msg_iov = &iov, .msg_iovlen = 1};
	TRY("udp sendmsg", 0, sendmsg(fd, &m, 0));
	udp_echo_recv("udp after sendmsg", fd, uport);
	struct iovec iv[2] = {{"dgram5", 6}, {"dgram6", 6}};
	struct mmsghdr mm[2] = {
		{.msg_hdr = {.msg_name = &to, .msg_namelen = l, .msg_iov = &iv[0], .msg_iovlen = 1}},
		{.msg_hdr = {.msg_name = &to, .msg_namelen = l, .msg_iov = &iv[1], .msg_iovlen = 1}},
	};
	long n = sendmmsg(fd, mm, 2, 0);
	OUT("udp sendmmsg: %ld lens=%u,%u", n, mm[0].msg_len, mm[1].msg_len);
	udp_echo_recv("udp mmsg 1", fd, uport);
	udp_echo_recv("udp mmsg 2", fd, uport);
	char b[8];
	TRY("udp nothing left", EAGAIN, recv(fd, b, sizeof b, 0));
	close(fd);
}

static void ipv6(void)
{
	struct sockaddr_storage to, ss;
	socklen_t l = mkaddr(AF_INET6, "::1", tport6, &to);
	int fd = CK(socket(AF_INET6, SOCK_STREAM, 0));
	int one = 1;
	CK(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	TRY("tcp6 connect ::1", 0, connect(fd, (struct sockaddr *)&to, l));
	OUT("tcp6 v6only after connect: %d", getint(fd, IPPROTO_IPV6, IPV6_V6ONLY));
	peername(fd, &ss);
	OUT("tcp6 peer: %s port-matches=%d", sa_str(&ss), sa_port(&ss) == tport6);
	echo_check("tcp6", fd);
	close(fd);
	l = mkaddr(AF_INET6, "::1", uport6, &to);
	fd = CK(socket(AF_INET6, SOCK_DGRAM, 0));
	TRY("udp6 sendto ::1", 0, sendto(fd, "dgram6", 6, 0, (struct sockaddr *)&to, l));
	udp_echo_recv("udp6 recvfrom", fd, uport6);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 6)
		DIE("usage: fallthrough TCPPORT UDPPORT CLOSEDPORT TCP6PORT UDP6PORT");
	tport = atoi(argv[1]), uport = atoi(argv[2]), closedport = atoi(argv[3]);
	tport6 = atoi(argv[4]), uport6 = atoi(argv[5]);
	watchdog(25);
	signal(SIGPIPE, SIG_IGN);
	tcp_blocking();
	tcp_nonblocking();
	tcp_refused();
	tcp_bound();
	tcp_v6_mapped();
	udp();
	ipv6();
	return finish("fallthrough");
}
