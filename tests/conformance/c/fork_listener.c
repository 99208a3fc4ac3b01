/* A listener shared by forked workers (prefork style): blocking accept,
 * per-worker epoll, EPOLLEXCLUSIVE, and workers that exec'd themselves. Every
 * connection must be served exactly once. */
#include "common.h"
#include <sys/prctl.h>

#define WORKERS 4
#define CONNS 40
#define BATCH 8

static int report_fd;

static void serve(int a)
{
	uint32_t id, rep[2];
	if (read_full(a, &id, 4) != 4)
		_exit(4);
	int fl = fcntl(a, F_GETFL);
	rep[0] = id;
	rep[1] = (fl & O_NONBLOCK) ? 0 : 1;
	write_all(a, rep, sizeof rep);
	write_all(report_fd, &id, 4);
	close(a);
}

static void worker(int l, const char *mode)
{
	if (!strcmp(mode, "blocking")) {
		for (;;) {
			int a = accept(l, NULL, NULL);
			if (a < 0 && errno == EINTR)
				continue;
			if (a < 0)
				_exit(3);
			serve(a);
		}
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		_exit(5);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l };
	if (!strcmp(mode, "epollexclusive"))
		ev.events |= EPOLLEXCLUSIVE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0)
		_exit(6);
	for (;;) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(7);
		if (n == 0 || !(got.events & EPOLLIN))
			_exit(8);
		int a = accept4(l, NULL, NULL, 0);
		if (a < 0 && (errno == EAGAIN || errno == EINTR))
			continue; /* another worker took it */
		if (a < 0)
			_exit(9);
		serve(a);
	}
}

static void run(const char *self, const char *mode)
{
	struct sockaddr_storage la;
	int l = tcp_listener(AF_INET, "127.0.0.1", 128, &la);
	int exec_mode = !strcmp(mode, "exec");
	if (strcmp(mode, "blocking") && !exec_mode)
		set_nonblock(l, 1);
	int p[2];
	CK(pipe(p));
	pid_t pids[WORKERS];
	for (int i = 0; i < WORKERS; i++) {
		pids[i] = CK(fork());
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(p[0]);
			if (exec_mode) {
				char lfd[16], rfd[16];
				snprintf(lfd, sizeof lfd, "%d", l);
				snprintf(rfd, sizeof rfd, "%d", p[1]);
				execl(self, self, "--worker", lfd, rfd, (char *)NULL);
				_exit(10);
			}
			report_fd = p[1];
			worker(l, mode);
			_exit(0);
		}
	}
	close(p[1]);

	int seen[CONNS] = { 0 }, replies_ok = 1, blocking = 1;
	for (int b = 0; b < CONNS; b += BATCH) {
		int fds[BATCH];
		for (int i = 0; i < BATCH; i++) {
			fds[i] = tcp_connect(&la);
			uint32_t id = b + i;
			write_all(fds[i], &id, 4);
		}
		for (int i = 0; i < BATCH; i++) {
			uint32_t rep[2];
			if (read_full(fds[i], rep, sizeof rep) != sizeof rep || rep[0] != (uint32_t)(b + i))
				replies_ok = 0;
			blocking &= rep[1] == 1;
			close(fds[i]);
		}
	}
	/* the reports: each id exactly once */
	int once = 1;
	for (int i = 0; i < CONNS; i++) {
		uint32_t id;
		if (read_full(p[0], &id, 4) != 4 || id >= CONNS) {
			once = 0;
			break;
		}
		seen[id]++;
	}
	for (int i = 0; i < CONNS; i++)
		once &= seen[i] == 1;
	/* the workers are idle: still alive? */
	int alive = 0;
	for (int i = 0; i < WORKERS; i++)
		alive += waitpid(pids[i], NULL, WNOHANG) == 0;
	for (int i = 0; i < WORKERS; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	/* nothing more was reported */
	char extra[64];
	ssize_t x = read(p[0], extra, sizeof extra);
	close(p[0]);
	close(l);
	OUT("%s: workers=%d alive=%d connections=%d replies_ok=%d served_exactly_once=%d extra_bytes=%zd accepted_blocking=%d",
	    mode, WORKERS, alive, CONNS, replies_ok, once, x, blocking);
	EXPECT(alive == WORKERS && replies_ok && once && x == 0 && blocking);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--worker")) {
		report_fd = atoi(argv[3]);
		worker(atoi(argv[2]), "blocking");
		return 0;
	}
	watchdog(25);
	signal(SIGPIPE, SIG_IGN);
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		DIE("readlink");
	self[n] = 0;
	run(self, "blocking");
	run(self, "epoll");
	run(self, "epollexclusive");
	run(self, "exec");
	return finish("fork_listener");
}
