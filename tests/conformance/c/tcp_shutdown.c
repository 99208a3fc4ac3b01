/* Half-close, reset, and a large bidirectional transfer with checksums. */
#include "common.h"

static void pair(int l, const struct sockaddr_storage *la, int *c, int *a)
{
	*c = tcp_connect(la);
	*a = CK(accept(l, NULL, NULL));
}

/* Waits up to 5 s until fd reports both POLLERR and POLLHUP (a reset can
 * show one a moment before the other: poll would return on the first);
 * returns its revents then, or at the deadline. */
static int wait_err_hup(int fd)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int ev = wait_poll(fd, POLLIN | POLLOUT | POLLRDHUP, 0);
		if ((ev & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP))
			return ev;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 5)
			return ev;
		msleep(1);
	}
}

/* --- bulk transfer --- */
#define BULK (8u << 20)

static uint8_t gen(uint64_t *st)
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint8_t)(*st >> 56);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

struct job {
	int fd;
	uint64_t seed;
	uint64_t sum;
	size_t bytes;
};

static void *sender(void *arg)
{
	struct job *j = arg;
	static __thread uint8_t buf[70000];
	uint64_t st = j->seed, h = 14695981039346656037ULL;
	size_t sent = 0, k = 0;
	while (sent < BULK) {
		size_t n = 1 + (k++ * 7919) % sizeof buf; /* varying write sizes */
		if (n > BULK - sent)
			n = BULK - sent;
		for (size_t i = 0; i < n; i++)
			buf[i] = gen(&st);
		h = fnv(h, buf, n);
		write_all(j->fd, buf, n);
		sent += n;
	}
	CK(shutdown(j->fd, SHUT_WR));
	j->sum = h;
	j->bytes = sent;
	return NULL;
}

static void *receiver(void *arg)
{
	struct job *j = arg;
	static __thread uint8_t buf[65536];
	uint64_t h = 14695981039346656037ULL;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(j->fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			DIE("bulk read");
		if (r == 0)
			break;
		h = fnv(h, buf, r);
		got += r;
	}
	j->sum = h;
	j->bytes = got;
	return NULL;
}

int main(void)
{
	watchdog(25);
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_storage la;
	int l = tcp_listener(AF_INET, "127.0.0.1", 16, &la);
	int c, a;
	char buf[64];

	/* 1. SHUT_WR: the peer sees EOF, the other direction still works */
	pair(l, &la, &c, &a);
	write_all(c, "ping", 4);
	TRY("shut_wr", 0, shutdown(c, SHUT_WR));
	size_t n = read_full(a, buf, sizeof buf);
	OUT("shut_wr: peer_read=%zu data=%.4s then_eof=1", n, buf);
	EXPECT(n == 4);
	TRY("peer_read_after_eof", 0, read(a, buf, sizeof buf));
	write_all(a, "pong", 4);
	n = read(c, buf, sizeof buf);
	OUT("shut_wr: reverse_read=%zd data=%.4s", n, buf);
	TRY("write_after_shut_wr", EPIPE, write(c, "x", 1));
	int ev = wait_poll(a, POLLIN | POLLOUT | POLLRDHUP, 0);
	OUT("shut_wr: peer_revents=%s", pollstr(ev));
	TRY("peer_shut_wr", 0, shutdown(a, SHUT_WR));
	n = read(c, buf, sizeof buf);
	OUT("shut_wr: read_after_peer_shut_wr=%zd", n);
	EXPECT(n == 0);
	close(c);
	close(a);

	/* 2. SHUT_RD on one side does not send anything; SHUT_RDWR */
	pair(l, &la, &c, &a);
	TRY("shut_rdwr", 0, shutdown(c, SHUT_RDWR));
	n = read(a, buf, sizeof buf);
	OUT("shut_rdwr: peer_read=%zd", n);
	TRY("shut_rdwr_read_local", 0, read(c, buf, sizeof buf));
	close(c);
	close(a);

	/* 3. shutdown errors */
	int s = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("shutdown_unconnected", ENOTCONN, shutdown(s, SHUT_WR));
	TRY("shutdown_bad_how", EINVAL, shutdown(s, 7));
	close(s);

	/* 4. RST via SO_LINGER {1,0} */
	pair(l, &la, &c, &a);
	struct linger lg = { 1, 0 };
	CK(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	socklen_t ll = sizeof lg;
	memset(&lg, 0, sizeof lg);
	CK(getsockopt(a, SOL_SOCKET, SO_LINGER, &lg, &ll));
	OUT("linger: onoff=%d linger=%d len=%d", lg.l_onoff != 0, lg.l_linger, ll);
	close(a);
	TRY("read_after_rst", ECONNRESET, read(c, buf, sizeof buf));
	TRY("read_after_rst_again", 0, read(c, buf, sizeof buf));
	TRY("write_after_rst", EPIPE, write(c, "x", 1));
	close(c);

	/* 5. close with unread data also resets */
	pair(l, &la, &c, &a);
	write_all(c, "unread", 6);
	ev = wait_poll(a, POLLIN, 10000);
	EXPECT(ev & POLLIN);
	close(a);
	TRY("close_with_unread_data_peer_read", ECONNRESET, read(c, buf, sizeof buf));
	close(c);

	/* 6. RST seen by a blocked poll/read on the other side: the reader
	 * gets the reset after consuming data sent before it */
	pair(l, &la, &c, &a);
	write_all(a, "abc", 3);
	CK(setsockopt(a, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger)));
	close(a);
	ev = wait_poll(c, POLLIN, 10000);
	OUT("rst_with_data: revents_has_in=%d", !!(ev & POLLIN));
	close(c);

	/* 7. the server shuts down its writing side and closes; the client
	 * reads EOF, then writes: the closed server answers with RST, which
	 * in CLOSE-WAIT makes Linux report POLLERR|POLLHUP and EPIPE. */
	pair(l, &la, &c, &a);
	CK(shutdown(a, SHUT_WR));
	close(a);
	TRY("write_after_close_eof", 0, read(c, buf, sizeof buf));
	ev = wait_poll(c, POLLIN | POLLOUT | POLLRDHUP, 0);
	OUT("write_after_close: revents_at_eof=%s", pollstr(ev));
	TRY("write_after_close_first", 0, write(c, "x", 1));
	ev = wait_err_hup(c);
	OUT("write_after_close: revents_after_rst=%s", pollstr(ev));
	TRY("write_after_close_again", EPIPE, write(c, "x", 1));
	close(c);

	/* 8. bulk: 8 MiB each way at once */
	pair(l, &la, &c, &a);
	struct job up = { .fd = c, .seed = 1 }, down = { .fd = a, .seed = 2 };
	struct job upr = { .fd = a }, downr = { .fd = c };
	pthread_t t[4];
	pthread_create(&t[0], NULL, sender, &up);
	pthread_create(&t[1], NULL, sender, &down);
	pthread_create(&t[2], NULL, receiver, &upr);
	pthread_create(&t[3], NULL, receiver, &downr);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	OUT("bulk: c2s_bytes=%zu c2s_sum_ok=%d s2c_bytes=%zu s2c_sum_ok=%d", upr.bytes, upr.sum == up.sum,
	    downr.bytes, downr.sum == down.sum);
	EXPECT(upr.bytes == BULK && upr.sum == up.sum && downr.bytes == BULK && downr.sum == down.sum);
	close(c);
	close(a);
	return finish("tcp_shutdown");
}
