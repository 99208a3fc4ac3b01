package runsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"ztnc/netjoin"
	"ztnc/netstack"
	"ztnc/netstack/dns"
	"ztnc/supervisor"
	"ztnc/zerotier/netapi"
	"ztnc/zerotier/service"
	"ztnc/zerotier/vl2"
)

// tuneOnce: the runtime is the process's, set once for all its Servers.
var tuneOnce sync.Once

// Server serves ztnc-run's requests against one node, one stack and one
// supervisor: every program handed over gets the same addresses and loopback.
type Server struct {
	svc  *service.Service
	st   *netstack.Stack
	sup  *supervisor.Supervisor
	dns  *dns.Server // names in the networks' pushed domains; NXDOMAIN for the rest
	log  *slog.Logger
	path string
	fd   int

	// MaxWait bounds how long one request waits for its networks; ztnc-run
	// gives up sooner by its own --wait.
	MaxWait time.Duration

	mu   sync.Mutex
	nics map[uint64]*netjoin.NIC
}

// Listen opens HOME/ztnc-run.sock (mode 0600) for svc's node and starts
// serving it. A socket left by a service that died is replaced; one that
// answers means another service runs in HOME, which is an error.
func Listen(svc *service.Service, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	st, err := netstack.New()
	if err != nil {
		return nil, err
	}
	sup, err := supervisor.New(st, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{svc: svc, st: st, sup: sup, log: log, path: Path(svc.Home), MaxWait: 10 * time.Minute, nics: map[uint64]*netjoin.NIC{}}
	s.dns = dns.NewServer(st, dns.HostNameservers(), log)
	if err := s.dns.Start(); err != nil {
		st.Close()
		return nil, err
	}
	sup.SetPort53Owner(s.dns.Addrs(), s.dns.Stop)
	if err := s.bind(); err != nil {
		s.dns.Stop()
		st.Close()
		return nil, err
	}
	go s.acceptLoop()
	return s, nil
}

func (s *Server) bind() error {
	if c, err := Dial(s.svc.Home); err == nil {
		c.Close()
		return fmt.Errorf("runsvc: another service already answers on %s", s.path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runsvc: socket: %w", err)
	}
	// Bound under a temporary name and made 0600 before it gets its real
	// name, so that no other user can connect in between.
	tmp := filepath.Join(filepath.Dir(s.path), "."+SockName+"."+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	sa, release, err := sockAddr(tmp)
	if err != nil {
		unix.Close(fd)
		return err
	}
	err = unix.Bind(fd, sa)
	release()
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("runsvc: bind %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return fmt.Errorf("runsvc: %w", err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return fmt.Errorf("runsvc: listen: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return fmt.Errorf("runsvc: %w", err)
	}
	s.fd = fd
	return nil
}

// Close stops taking programs and removes the socket. Programs already
// handed over lose their network when the process exits.
func (s *Server) Close() {
	os.Remove(s.path)
	unix.Shutdown(s.fd, unix.SHUT_RDWR) // wakes the blocked accept
	unix.Close(s.fd)
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

func (s *Server) acceptLoop() {
	for {
		c, _, err := unix.Accept4(s.fd, unix.SOCK_CLOEXEC)
		if err != nil {
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err == unix.EMFILE || err == unix.ENFILE {
				s.log.Warn("ztnc-run socket: accept", "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return // closed
		}
		go s.handle(c)
	}
}

// handle serves one ztnc-run: its networks, then its program's listener
// until no process of the program is left.
func (s *Server) handle(c int) {
	defer unix.Close(c)
	cred, err := unix.GetsockoptUcred(c, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return
	}
	req, fds, err := recv(c)
	closeAll(fds)
	if err != nil {
		return
	}
	// Checked after reading the request, so that the answer is not lost
	// to a reset.
	if int(cred.Uid) != os.Geteuid() {
		s.log.Warn("ztnc-run socket: refused a connection from another user", "uid", cred.Uid, "pid", cred.Pid)
		send(c, &Msg{Error: fmt.Sprintf("uid %d may not use this service (it serves uid %d only)", cred.Uid, os.Geteuid())})
		return
	}
	if err := canReach(int(cred.Pid)); err != nil {
		send(c, &Msg{Error: err.Error()})
		return
	}
	ids, err := parseNwids(req.Nwids)
	if err != nil {
		send(c, &Msg{Error: err.Error()})
		return
	}
	addrs, err := s.join(c, ids)
	if err != nil {
		send(c, &Msg{Error: err.Error()})
		return
	}
	if err := send(c, &Msg{Addrs: addrs}); err != nil {
		return
	}
	m, fds, err := recv(c)
	if err != nil {
		return
	}
	if !m.Listener || len(fds) != 1 || !isSeccompListener(fds[0]) {
		closeAll(fds)
		send(c, &Msg{Error: "expected the program's seccomp listener"})
		return
	}
	if err := send(c, &Msg{Serving: true}); err != nil {
		unix.Close(fds[0])
		return
	}
	s.log.Info("serving a program", "pid", cred.Pid, "networks", strings.Join(req.Nwids, ","))
	// Tuned as ztnc-run's own node is, once there is a program to serve:
	// a service that serves none (the lab's root and controller) keeps
	// Go's defaults.
	tuneOnce.Do(func() {
		gc, procs := supervisor.TuneRuntime()
		s.log.Info("runtime set for serving programs", "gogc", gc, "gomaxprocs", procs)
	})
	if err := s.sup.Serve(fds[0]); err != nil {
		s.log.Warn("serving a program", "pid", cred.Pid, "err", err)
	}
	s.log.Debug("program gone", "pid", cred.Pid)
	send(c, &Msg{Done: true})
}

func parseNwids(ss []string) ([]uint64, error) {
	if len(ss) == 0 {
		return nil, errors.New("no network given")
	}
	var ids []uint64
	for _, f := range ss {
		id, err := strconv.ParseUint(f, 16, 64)
		if err != nil || len(f) != 16 {
			return nil, fmt.Errorf("not a 16-digit hex network ID: %q", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// join joins the networks the service is not on yet (remembered in
// networks.d, as the API's join does), reports progress until each has an
// address, and makes sure each is a NIC of the stack.
func (s *Server) join(c int, ids []uint64) ([]string, error) {
	me := s.svc.Node.Address().String()
	if err := send(c, &Msg{Node: me}); err != nil {
		return nil, err
	}
	store := &netapi.Store{Dir: filepath.Join(s.svc.Home, "networks.d")}
	nets := make([]*vl2.Network, len(ids))
	var joined []*vl2.Network // by this request
	for i, id := range ids {
		n := s.svc.VL2.Network(id)
		if n == nil {
			if err := store.Save(id, nil); err != nil {
				return nil, err
			}
			n = s.svc.VL2.Join(id, nil)
			joined = append(joined, n)
		}
		nets[i] = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.MaxWait)
	defer cancel()
	stop := watchHangup(c, cancel)
	defer stop()
	err := netjoin.Wait(ctx, nets, me, func(n *vl2.Network, state string) error {
		return send(c, &Msg{Nwid: fmt.Sprintf("%016x", n.ID()), State: state})
	})
	if err != nil {
		// ztnc-run gave up: a network joined for it that never got
		// ready is left again rather than kept on the service for good.
		s.log.Debug("ztnc-run gave up waiting", "err", err, "joined", len(joined))
		for _, n := range joined {
			if _, ok := netjoin.State(n, me); !ok && s.svc.VL2.Network(n.ID()) == n {
				s.svc.VL2.Leave(n.ID())
				store.Remove(n.ID())
			}
		}
		return nil, err
	}
	var addrs []string
	for _, n := range nets {
		nic, err := s.attach(n)
		if err != nil {
			return nil, err
		}
		for _, p := range nic.Addresses() {
			addrs = append(addrs, p.String())
		}
	}
	return addrs, nil
}

// attach returns n's NIC, making it on first use, and anew when the network
// was left and joined again since (a new port).
func (s *Server) attach(n *vl2.Network) (*netjoin.NIC, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.nics[n.ID()]; cur != nil {
		if cur.Network() == n {
			return cur, nil
		}
		if err := cur.Detach(); err != nil {
			s.log.Warn("detaching a left network", "err", err)
		}
		delete(s.nics, n.ID())
	}
	nic, err := netjoin.Attach(s.st, n)
	if err != nil {
		return nil, err
	}
	s.nics[n.ID()] = nic
	netjoin.FollowDNS(s.dns, n)
	return nic, nil
}

// watchHangup calls hup if the peer closes c before stop is called.
func watchHangup(c int, hup func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		p := []unix.PollFd{{Fd: int32(c), Events: unix.POLLRDHUP}}
		for {
			select {
			case <-done:
				return
			default:
			}
			p[0].Revents = 0
			n, _ := unix.Poll(p, 200)
			if n > 0 && p[0].Revents&(unix.POLLHUP|unix.POLLRDHUP|unix.POLLERR) != 0 {
				hup()
				return
			}
		}
	}()
	return func() { close(done) }
}

// isSeccompListener reports whether fd is a seccomp notification fd.
func isSeccompListener(fd int) bool {
	l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && l == "anon_inode:seccomp notify"
}

// canReach checks that the service may read the memory of the connecting
// ztnc-run, and so of the program it starts (same uid, same pid namespace):
// the kernel's ptrace access check, which Yama's ptrace_scope ≥ 1 tightens
// to ancestors only, and a pid namespace the service cannot see, would
// otherwise make every trapped call of the program fail.
func canReach(pid int) error {
	if pid <= 0 {
		return errors.New("ztnc-run runs in a pid namespace the service cannot see; run the service there")
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		return fmt.Errorf("the service may not read its programs' memory (%v): with Yama ptrace_scope ≥ 1 give the service CAP_SYS_PTRACE, or run ztnc-run with a HOME of its own", err)
	}
	f.Close()
	return nil
}
