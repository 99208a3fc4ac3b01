package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitArg marks the re-executed init stage: `ztnc-run __ztnc_init CMD ARGS…`.
// Go cannot run code between fork and exec, so the filter is installed by a
// fresh copy of ztnc-run that then execs the target.
const InitArg = "__ztnc_init"

// handoffFd is where the init stage finds its end of the hand-off socket,
// and handoffFlags the sendmsg flags that mark the hand-off (see buildFilter).
const (
	handoffFd    = 3
	handoffFlags = unix.MSG_NOSIGNAL | unix.MSG_CONFIRM
)

// IsInitStage reports whether this process is the init stage.
func IsInitStage() bool { return len(os.Args) > 2 && os.Args[1] == InitArg }

// RunInitStage installs the filter, lets the parent take the listener, and
// execs the target. It returns only by exiting.
func RunInitStage() {
	runtime.LockOSThread()
	argv := os.Args[2:]
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: %s: %v\n", argv[0], err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			os.Exit(127)
		}
		os.Exit(126)
	}
	dropNetCaps()
	f, err := buildFilter()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: %v\n", err)
		os.Exit(125)
	}
	nfd, err := loadFilter(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: loading seccomp filter: %v\n", err)
		os.Exit(125)
	}
	// From here on only untrapped calls: the hand-off sendmsg, read, close,
	// execve. The parent acks once it holds the listener, so that no trapped
	// call of the target can come before someone serves them.
	var b [1]byte
	if err := unix.Sendmsg(handoffFd, []byte{1}, unix.UnixRights(nfd), nil, handoffFlags); err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: handing the seccomp listener over: %v\n", err)
		os.Exit(125)
	}
	if n, err := unix.Read(handoffFd, b[:]); n != 1 || err != nil {
		os.Exit(125) // the parent is gone
	}
	unix.Close(int(nfd))
	unix.Close(handoffFd)
	seal, err := buildSealFilter()
	if err == nil {
		_, err = loadFilterFlags(seal, 0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ztnc-run: sealing the seccomp hand-off: %v\n", err)
		os.Exit(125)
	}
	err = unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "ztnc-run: exec %s: %v\n", path, err)
	if errors.Is(err, unix.ENOENT) {
		os.Exit(127)
	}
	os.Exit(126)
}

// dropNetCaps takes CAP_NET_ADMIN out of the bounding set, so that even a
// root program cannot reconfigure the host's interfaces through netlink or
// interface ioctls (which work on any socket, AF_UNIX included). CAP_NET_RAW
// stays: raw and packet sockets are refused by the supervisor anyway, and
// dropping it would make the kernel refuse to exec ping (file capability
// cap_net_raw+ep). Without CAP_SETPCAP (not root) there is nothing to drop.
func dropNetCaps() {
	unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_NET_ADMIN, 0, 0, 0)
	unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_LOWER, unix.CAP_NET_ADMIN, 0, 0)
}

// Start launches argv under the filter and returns the running command and
// the seccomp listener fd, which the caller serves.
func Start(argv []string, env []string) (*exec.Cmd, int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, -1, fmt.Errorf("finding ztnc-run's own binary: %w", err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("hand-off socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(pair[0]), "handoff")
	child := os.NewFile(uintptr(pair[1]), "handoff-child")
	defer parent.Close()
	cmd := exec.Command(self, append([]string{InitArg}, argv...)...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{child}
	// The target must never outlive ztnc-run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		child.Close()
		return nil, -1, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	child.Close()
	fail := func(err error) (*exec.Cmd, int, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, -1, err
	}
	lfd, err := recvFD(parent)
	if err == io.EOF {
		// The init stage already said why on stderr; report its status.
		werr := cmd.Wait()
		return nil, -1, &InitError{Err: werr, Cmd: cmd}
	}
	if err != nil {
		return fail(fmt.Errorf("receiving the seccomp listener: %w", err))
	}
	if _, err := parent.Write([]byte{1}); err != nil {
		unix.Close(lfd)
		return fail(fmt.Errorf("releasing the init stage: %w", err))
	}
	return cmd, lfd, nil
}

// InitError is returned by Start when the init stage exited before handing
// over its listener (command not found, filter refused, …).
type InitError struct {
	Err error
	Cmd *exec.Cmd
}

func (e *InitError) Error() string { return fmt.Sprintf("init stage: %v", e.Err) }

// recvFD receives one fd passed with SCM_RIGHTS; io.EOF if the sender quit.
func recvFD(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	}); err != nil {
		return -1, err
	}
	if rerr != nil {
		return -1, rerr
	}
	if n == 0 {
		return -1, io.EOF
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("no fd in the hand-off message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("no fd in the hand-off message (%v)", err)
	}
	return fds[0], nil
}
