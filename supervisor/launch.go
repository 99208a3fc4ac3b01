package supervisor

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// handoffFd is where the init stage finds its end of the hand-off socket.
const handoffFd = 3

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
	// From here on only untrapped calls: write/read/close/execve. The parent
	// copies the listener with pidfd_getfd, then acks.
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(nfd))
	if _, err := unix.Write(handoffFd, b[:]); err != nil {
		os.Exit(125)
	}
	if n, err := unix.Read(handoffFd, b[:1]); n != 1 || err != nil {
		os.Exit(125) // the parent is gone
	}
	unix.Close(int(nfd))
	unix.Close(handoffFd)
	err = unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "ztnc-run: exec %s: %v\n", path, err)
	if errors.Is(err, unix.ENOENT) {
		os.Exit(127)
	}
	os.Exit(126)
}

// dropNetCaps takes CAP_NET_ADMIN and CAP_NET_RAW out of the bounding set,
// so that even a root program cannot reconfigure the host's interfaces
// through netlink or interface ioctls (which work on any socket, AF_UNIX
// included). Without CAP_SETPCAP (not root) there is nothing to drop.
func dropNetCaps() {
	for _, c := range []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW} {
		unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0)
		unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_LOWER, c, 0, 0)
	}
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
	var b [4]byte
	if _, err := readFull(parent, b[:]); err != nil {
		// The init stage already said why on stderr; report its status.
		werr := cmd.Wait()
		return nil, -1, &InitError{Err: werr, Cmd: cmd}
	}
	num := int(binary.LittleEndian.Uint32(b[:]))
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		return fail(fmt.Errorf("pidfd_open: %w", err))
	}
	lfd, err := unix.PidfdGetfd(pidfd, num, 0)
	unix.Close(pidfd)
	if err != nil {
		return fail(fmt.Errorf("pidfd_getfd of the seccomp listener: %w", err))
	}
	unix.CloseOnExec(lfd)
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

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
