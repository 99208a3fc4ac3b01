/* Run only under `ztnc-run --local 10.9.0.1/24 --fallthrough 127.0.0.1/32`:
 * once a socket has become a host socket, it must still reach nothing but
 * what the policy allows, whatever the program tries (another address, the
 * AF_UNSPEC trick, source routing, Fast Open, listen, and a second thread
 * swapping the sockaddr while the supervisor checks it).
 * argv: <TCP echo port on 127.0.0.1> <UDP echo port on 127.0.0.1>
 *       <TCP port on 127.0.0.2> <UDP port on 127.0.0.2> [race iterations]
 * The Go test's servers on 127.0.0.2 must see nothing. */
#include "common.h"

static int tport, uport, leak_t, leak_u;
static struct sockaddr_in swap_addr;
static atomic_int stop;

/* The fd-number race: a thread points fd number dst at the host socket src
 * and back at the program's own socket orig, in a tight loop, while the main
 * thread makes calls on dst that the supervisor may judge need no check. */
struct swap_fd { int src, orig, dst; };
static atomic_int stop_fd;

static void *fd_swapper(void *arg)
{
	struct swap_fd *w = arg;
	while (!atomic_load(&stop_fd)) {
		dup2(w->src, w->dst);
		dup2(w->orig, w->dst);
	}
	return NULL;
}

/* race_fd runs call(dst) n times with src swapped in and out of dst and
 * returns how many succeeded: each success is an escape (the calls fail on
 * orig, and on src the supervisor must refuse them). */
static int race_fd(int src, int dst, int n, long (*call)(int))
{
	struct swap_fd w = {src, CK(dup(dst)), dst};
	pthread_t th;
	atomic_store(&stop_fd, 0);
	pthread_create(&th, NULL, fd_swapper, &w);
	int ok = 0;
	for (int i = 0; i < n; i++)
		if (call(dst) >= 0)
			ok++;
	atomic_store(&stop_fd, 1);
	pthread_join(th, NULL);
	CK(dup2(w.orig, dst));
	close(w.orig);
	return ok;
}

static struct sockaddr_storage race_u, race_t;

static long race_sendmsg(int fd)
{
	struct iovec v = {"R", 1};
	struct msghdr m = {.msg_name = &race_u, .msg_namelen = sizeof(struct sockaddr_in), .msg_iov = &v, .msg_iovlen = 1};
	return sendmsg(fd, &m, MSG_DONTWAIT);
}

static long race_sendto(int fd)
{
	return sendto(fd, "S", 1, MSG_DONTWAIT, (struct sockaddr *)&race_u, sizeof(struct sockaddr_in));
}

static long race_sendmmsg(int fd)
{
	struct iovec v = {"M", 1};
	struct mmsghdr m = {.msg_hdr = {.msg_name = &race_u, .msg_namelen = sizeof(struct sockaddr_in), .msg_iov = &v, .msg_iovlen = 1}};
	return sendmmsg(fd, &m, 1, MSG_DONTWAIT);
}

static long race_connect_u(int fd)
{
	return connect(fd, (struct sockaddr *)&race_u, sizeof(struct sockaddr_in));
}

static long race_connect_t(int fd)
{
	return connect(fd, (struct sockaddr *)&race_t, sizeof(struct sockaddr_in));
}

static long race_listen(int fd)
{
	return listen(fd, 1);
}

static void *swapper(void *arg)
{
	(void)arg;
	struct sockaddr_in ok = {AF_INET, htons(uport), {htonl(0x7f000001)}};
	struct sockaddr_in bad = {AF_INET, htons(leak_u), {htonl(0x7f000002)}};
	while (!atomic_load(&stop)) {
		memcpy((void *)&swap_addr, &bad, sizeof bad);
		memcpy((void *)&swap_addr, &ok, sizeof ok);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6)
		DIE("usage: fallthrough_escape TPORT UPORT LEAKT LEAKU [RACE-ITERATIONS]");
	tport = atoi(argv[1]), uport = atoi(argv[2]), leak_t = atoi(argv[3]), leak_u = atoi(argv[4]);
	watchdog(60);
	struct sockaddr_storage ok_u, bad_u, ok_t, bad_t, closed_t;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", uport, &ok_u);
	mkaddr(AF_INET, "127.0.0.2", leak_u, &bad_u);
	mkaddr(AF_INET, "127.0.0.1", tport, &ok_t);
	mkaddr(AF_INET, "127.0.0.2", leak_t, &bad_t);
	mkaddr(AF_INET, "127.0.0.1", 1, &closed_t);

	/* UDP: the first send makes it a host socket. */
	int u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	TRY("udp sendto allowed", 0, sendto(u, "a", 1, 0, (struct sockaddr *)&ok_u, l));
	TRY("udp sendto other", ENETUNREACH, sendto(u, "b", 1, 0, (struct sockaddr *)&bad_u, l));
	struct sockaddr_in unspec = *(struct sockaddr_in *)&bad_u;
	unspec.sin_family = AF_UNSPEC;
	TRY("udp sendto AF_UNSPEC other", ENETUNREACH, sendto(u, "c", 1, 0, (struct sockaddr *)&unspec, l));
	struct iovec iov = {"d", 1};
	struct msghdr m = {.msg_name = &bad_u, .msg_namelen = l, .msg_iov = &iov, .msg_iovlen = 1};
	TRY("udp sendmsg other", ENETUNREACH, sendmsg(u, &m, 0));
	struct mmsghdr mm = {.msg_hdr = m};
	TRY("udp sendmmsg other", ENETUNREACH, sendmmsg(u, &mm, 1, 0));
	/* IP_RETOPTS with a loose source route through 127.0.0.2 */
	union { char buf[CMSG_SPACE(8)]; struct cmsghdr a; } cb;
	memset(&cb, 0, sizeof cb);
	struct cmsghdr *cm = &cb.a;
	cm->cmsg_level = IPPROTO_IP, cm->cmsg_type = IP_RETOPTS, cm->cmsg_len = CMSG_LEN(8);
	unsigned char *o = CMSG_DATA(cm);
	o[0] = 131, o[1] = 7, o[2] = 4, o[3] = 127, o[4] = 0, o[5] = 0, o[6] = 2, o[7] = 1;
	struct msghdr ms = {.msg_name = &ok_u, .msg_namelen = l, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cb.buf, .msg_controllen = sizeof cb.buf};
	TRY("udp sendmsg source-routed", EINVAL, sendmsg(u, &ms, 0));
	TRY("udp setsockopt source route", ENOPROTOOPT, setsockopt(u, IPPROTO_IP, IP_OPTIONS, o, 8));
	TRY("udp connect other", ENETUNREACH, connect(u, (struct sockaddr *)&bad_u, l));
	TRY("udp listen", EOPNOTSUPP, listen(u, 1));

	/* A second thread swaps the address under the supervisor's check. */
	pthread_t th;
	memcpy(&swap_addr, &ok_u, sizeof swap_addr);
	pthread_create(&th, NULL, swapper, NULL);
	int sent = 0, refused = 0, other = 0;
	for (int i = 0; i < 3000; i++) {
		long r = sendto(u, "r", 1, MSG_DONTWAIT, (struct sockaddr *)&swap_addr, sizeof swap_addr);
		if (r == 1)
			sent++;
		else if (errno == ENETUNREACH)
			refused++;
		else if (errno != EAGAIN)
			other++;
	}
	/* and while a virtual socket becomes a host one */
	for (int i = 0; i < 200; i++) {
		int v = CK(socket(AF_INET, SOCK_DGRAM, 0));
		long r = sendto(v, "s", 1, 0, (struct sockaddr *)&swap_addr, sizeof swap_addr);
		(void)r;
		close(v);
		v = CK(socket(AF_INET, SOCK_DGRAM, 0));
		connect(v, (struct sockaddr *)&swap_addr, sizeof swap_addr);
		send(v, "t", 1, MSG_DONTWAIT);
		close(v);
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	OUT("race: sent=%d refused=%d other=%d", sent > 0, refused > 0, other);
	EXPECT(other == 0);
	close(u);

	/* TCP: a refused connect leaves a closed host socket behind. */
	int t = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("tcp connect refused", ECONNREFUSED, connect(t, (struct sockaddr *)&closed_t, l));
	TRY("tcp connect other", ENETUNREACH, connect(t, (struct sockaddr *)&bad_t, l));
	TRY("tcp fastopen other", EOPNOTSUPP, sendto(t, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&bad_t, l));
	TRY("tcp listen", EINVAL, listen(t, 1));
	/* Fast Open by socket option: a later send with an address would connect */
	setsockopt(t, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &(int){1}, sizeof(int));
	sendto(t, "y", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&bad_t, l);
	TRY("tcp connect after fastopen send", ECONNREFUSED, connect(t, (struct sockaddr *)&closed_t, l));
	setsockopt(t, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &(int){0}, sizeof(int));
	TRY("tcp connect allowed", 0, connect(t, (struct sockaddr *)&ok_t, l));
	close(t);

	/* The fd-number race. hu: a host UDP socket; ht: a host TCP socket whose
	 * connect failed (so it can connect again). Swapped onto a virtual TCP
	 * socket, an AF_UNIX datagram socket and an AF_UNIX stream socket, they
	 * must never send or connect to 127.0.0.2, nor listen. */
	int n = argc > 5 ? atoi(argv[5]) : 4000;
	race_u = bad_u, race_t = bad_t;
	int hu = CK(socket(AF_INET, SOCK_DGRAM, 0));
	TRY("race: udp becomes a host socket", 0, sendto(hu, "h", 1, 0, (struct sockaddr *)&ok_u, l));
	int ht = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("race: tcp becomes a host socket", ECONNREFUSED, connect(ht, (struct sockaddr *)&closed_t, l));
	int ht2 = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("race: another tcp becomes a host socket", ECONNREFUSED, connect(ht2, (struct sockaddr *)&closed_t, l));
	struct sockaddr_storage vl;
	int vls = tcp_listener(AF_INET, "10.9.0.1", 4, &vl);
	int vt = tcp_connect(&vl);
	int ud[2], us[2];
	CK(socketpair(AF_UNIX, SOCK_DGRAM, 0, ud));
	CK(socketpair(AF_UNIX, SOCK_STREAM, 0, us));
	int ux = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	struct { const char *what; int src, dst; long (*call)(int); } races[] = {
		{"udp sendmsg over virtual tcp", hu, vt, race_sendmsg},
		{"udp sendmsg over unix dgram", hu, ud[0], race_sendmsg},
		{"udp sendto over unix stream", hu, us[0], race_sendto},
		{"udp sendmmsg over unix dgram", hu, ud[0], race_sendmmsg},
		{"udp connect over unix dgram", hu, ud[0], race_connect_u},
		{"tcp listen over unix stream", ht, ux, race_listen},
		{"tcp connect over unix stream", ht2, ux, race_connect_t},
	};
	int escaped = 0;
	for (size_t i = 0; i < sizeof races / sizeof races[0]; i++) {
		int k = race_fd(races[i].src, races[i].dst, n, races[i].call);
		fprintf(stderr, "race %s: %d of %d escaped\n", races[i].what, k, n);
		escaped += k;
	}
	/* fd 3 with MSG_NOSIGNAL|MSG_CONFIRM is how ztnc-run's init stage hands
	 * its seccomp listener over, untrapped: on a host socket put there it
	 * must not send anywhere either */
	int keep3 = fcntl(3, F_DUPFD_CLOEXEC, 10);
	CK(dup2(hu, 3));
	{
		struct iovec v = {"H", 1};
		struct msghdr hm = {.msg_name = &bad_u, .msg_namelen = l, .msg_iov = &v, .msg_iovlen = 1};
		long r = sendmsg(3, &hm, MSG_NOSIGNAL | MSG_CONFIRM);
		OUT("udp sendmsg on fd 3 with the hand-off flags: %s", r >= 0 ? "sent" : "refused");
		EXPECT(r < 0);
	}
	if (keep3 >= 0)
		dup2(keep3, 3), close(keep3);
	else
		close(3);
	/* a UDP socket connected by the race sends there without a trapped call */
	send(hu, "C", 1, MSG_DONTWAIT);
	OUT("race: dup2 escapes=%s", escaped ? "some" : "none");
	EXPECT(escaped == 0);
	close(hu), close(ht), close(ht2), close(vt), close(vls), close(ux);
	close(ud[0]), close(ud[1]), close(us[0]), close(us[1]);

	/* The virtual network stays virtual: a listener on 10.9.0.1 (no such
	 * address on the host) is reached. */
	struct sockaddr_storage lst;
	int ls = tcp_listener(AF_INET, "10.9.0.1", 4, &lst);
	int c = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("inside connect", 0, connect(c, (struct sockaddr *)&lst, salen(&lst)));
	TRY("inside accept", 0, accept(ls, NULL, NULL));
	/* and the private loopback too: 127.0.0.3 is not in the policy */
	struct sockaddr_storage lo;
	int ll = tcp_listener(AF_INET, "127.0.0.3", 4, &lo);
	int c2 = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("virtual loopback connect", 0, connect(c2, (struct sockaddr *)&lo, salen(&lo)));
	TRY("virtual loopback accept", 0, accept(ll, NULL, NULL));
	return finish("fallthrough_escape");
}
