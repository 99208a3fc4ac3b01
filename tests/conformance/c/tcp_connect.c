/* TCP connect: blocking and non-blocking, success and refusal, EISCONN. */
#include "common.h"

static void echo_check(const char *label, int c, int a)
{
	char b = 0;
	write_all(c, "x", 1);
	EXPECT(read_full(a, &b, 1) == 1 && b == 'x');
	write_all(a, "y", 1);
	EXPECT(read_full(c, &b, 1) == 1 && b == 'y');
	OUT("%s: echo=ok", label);
}

int main(void)
{
	watchdog(25);
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_storage la, closed, ss;
	int l = tcp_listener(AF_INET, "127.0.0.1", 16, &la);

	/* A port that is bound but not listening: connecting to it is refused.
	 * Keeping the socket open keeps the port ours. */
	int hold = CK(socket(AF_INET, SOCK_STREAM, 0));
	socklen_t hl = mkaddr(AF_INET, "127.0.0.1", 0, &ss);
	CK(bind(hold, (struct sockaddr *)&ss, hl));
	sockname(hold, &closed);

	/* 1. blocking connect */
	int c = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("blocking_connect", 0, connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	int a = CK(accept(l, NULL, NULL));
	echo_check("blocking_connect", c, a);

	/* 2. a second connect on the connected socket */
	TRY("connect_again", EISCONN, connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	TRY("connect_again_other_addr", EISCONN, connect(c, (struct sockaddr *)&closed, sizeof(struct sockaddr_in)));
	OUT("connect_again: so_error=%s", en(sockerr(c)));
	close(a);
	close(c);

	/* 3. blocking connect to a closed port */
	c = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("connect_closed", ECONNREFUSED, connect(c, (struct sockaddr *)&closed, sizeof(struct sockaddr_in)));
	OUT("connect_closed: so_error_after=%s", en(sockerr(c)));
	close(c);

	/* 4. non-blocking connect: EINPROGRESS (or 0), POLLOUT, SO_ERROR 0 */
	c = CK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	errno = 0;
	int r = connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in));
	int e = errno;
	OUT("nb_connect: initial=%s", (r == 0 || e == EINPROGRESS) ? "inprogress_or_0" : en(e));
	EXPECT(r == 0 || e == EINPROGRESS);
	int ev = wait_poll(c, POLLOUT, 10000);
	OUT("nb_connect: revents=%s", pollstr(ev));
	EXPECT(ev == POLLOUT);
	OUT("nb_connect: so_error=%s", en(sockerr(c)));
	a = CK(accept(l, NULL, NULL));
	set_nonblock(c, 0);
	echo_check("nb_connect", c, a);
	/* Linux: the first connect() after the handshake reports its completion
	 * (0), the next one EISCONN. */
	TRY("nb_connect_again", 0, connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	TRY("nb_connect_again2", EISCONN, connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
	close(a);
	close(c);

	/* 5. non-blocking connect to a closed port */
	c = CK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	errno = 0;
	r = connect(c, (struct sockaddr *)&closed, sizeof(struct sockaddr_in));
	e = errno;
	OUT("nb_connect_closed: initial=%s", (r < 0 && (e == EINPROGRESS || e == ECONNREFUSED)) ? "inprogress_or_refused" : en(e));
	EXPECT(r < 0 && (e == EINPROGRESS || e == ECONNREFUSED));
	ev = wait_poll(c, POLLOUT, 10000);
	/* Under ztnc-run a refused connect's readiness can arrive in two steps
	 * microseconds apart, POLLERR|POLLHUP just before POLLOUT (README "Known
	 * differences"): gather it. On Linux it is all there at once. */
	for (int i = 0; i < 100 && (ev & (POLLERR | POLLHUP)) && !(ev & POLLOUT); i++) {
		msleep(1); /* POLLERR|POLLHUP stay set: poll again a moment later */
		ev |= wait_poll(c, POLLOUT, 0);
	}
	OUT("nb_connect_closed: revents=%s", pollstr(ev));
	EXPECT(ev & POLLERR);
	if (e == EINPROGRESS) {
		int se = sockerr(c);
		OUT("nb_connect_closed: so_error=%s", en(se));
		EXPECT(se == ECONNREFUSED);
	} else {
		OUT("nb_connect_closed: so_error=%s", "ECONNREFUSED");
	}
	OUT("nb_connect_closed: so_error_again=%s", en(sockerr(c)));
	close(c);

	/* 6. connect on a listening socket */
	TRY("connect_on_listener", EISCONN, connect(l, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));

	/* 7. after all that the listener is still fine */
	c = tcp_connect(&la);
	a = CK(accept(l, NULL, NULL));
	echo_check("final", c, a);
	close(a);
	close(c);

	/* 8. bytes written before connect are not the connection's: Linux fails
	 * the write (EPIPE; not compared: under ztnc-run it succeeds), and the
	 * server receives only what was written after the connect. */
	for (int nb = 0; nb < 2; nb++) {
		const char *label = nb ? "write_before_nb_connect" : "write_before_connect";
		c = CK(socket(AF_INET, SOCK_STREAM, 0));
		(void)!write(c, "LEAK", 4);
		if (nb) {
			set_nonblock(c, 1);
			r = connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in));
			EXPECT(r == 0 || errno == EINPROGRESS);
			wait_poll(c, POLLOUT, 10000);
			EXPECT(sockerr(c) == 0);
			set_nonblock(c, 0);
		} else {
			CK(connect(c, (struct sockaddr *)&la, sizeof(struct sockaddr_in)));
		}
		a = CK(accept(l, NULL, NULL));
		write_all(c, "hello", 5);
		CK(shutdown(c, SHUT_WR));
		char got[64];
		size_t n = read_full(a, got, sizeof got);
		int same = n == 5 && memcmp(got, "hello", 5) == 0;
		OUT("%s: server got %zu bytes, the ones after connect=%d", label, n, same);
		EXPECT(same);
		close(a);
		close(c);
	}
	return finish("tcp_connect");
}
