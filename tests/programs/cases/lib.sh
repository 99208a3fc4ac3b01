# Shared helpers for the case scripts (POSIX sh; sourced, not executed).
#
# Environment (set by programs_test.go):
#   ADDR   IPv4 address the servers bind and the clients use
#          (10.9.0.1 under ztnc-run, 127.0.0.1 when validating on the host)
#   ADDR6  IPv6 address likewise (fd00:9::1 under ztnc-run, ::1 on the host)
#   PORT   a TCP/UDP port > 1024 for the case's server
#   PORT2, PORT3  two more such ports
#   WORK   a scratch directory writable by root and uid 65534
#   GOPROGS  directory holding the static Go test programs (go-static case)

set -u

: "${ADDR:?ADDR not set}" "${ADDR6:?ADDR6 not set}" "${PORT:?PORT not set}" "${WORK:?WORK not set}"

CASE=$(basename "$0" .sh)

log() { echo "[$CASE] $*" >&2; }

fail() {
	echo "[$CASE] FAIL: $*" >&2
	exit 1
}

# need PROG...: fail clearly when a program is missing.
need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || fail "required program '$p' not found in PATH=$PATH"
	done
}

# try_until TRIES CMD...: run CMD (output discarded) every 0.1 s until it
# succeeds, at most TRIES times and for at most WAIT_SECS (default 25)
# seconds; return 1 when it never does. CMD should bound its own run time.
try_until() {
	_tries=$1
	shift
	_i=0
	_end=$(($(date +%s) + ${WAIT_SECS:-25}))
	while [ "$_i" -lt "$_tries" ] && [ "$(date +%s)" -le "$_end" ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		_i=$((_i + 1))
		sleep 0.1
	done
	return 1
}

# wait_until TRIES CMD...: try_until, failing the case when CMD never succeeds.
wait_until() {
	try_until "$@" || fail "gave up after $1 tries / ${WAIT_SECS:-25} s waiting for: $*"
}

# running PID: true while PID exists and is not a zombie (kill -0 alone
# succeeds on an unreaped child).
running() {
	[ -r "/proc/$1/stat" ] || return 1
	_state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_state" ] && [ "$_state" != Z ] && [ "$_state" != X ]
}

# wait_up PID TRIES CMD...: like wait_until, but fail at once when the
# server PID has died meanwhile.
wait_up() {
	_pid=$1
	_tries=$2
	shift 2
	_i=0
	_end=$(($(date +%s) + ${WAIT_SECS:-25}))
	while [ "$_i" -lt "$_tries" ] && [ "$(date +%s)" -le "$_end" ]; do
		if "$@" >/dev/null 2>&1; then
			log "server answers (after $_i retries)"
			return 0
		fi
		running "$_pid" || fail "server (pid $_pid) exited before answering"
		_i=$((_i + 1))
		sleep 0.1
	done
	fail "gave up after $_i tries / ${WAIT_SECS:-25} s waiting for: $*"
}

# alive PID: fail when the background server died (typically at startup).
alive() {
	running "$1" || fail "server (pid $1) is not running any more; see logs above"
}

# sha FILE: the SHA-256 of FILE, hex.
sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# check_sha WANT FILE WHAT
check_sha() {
	_got=$(sha "$2")
	[ "$_got" = "$1" ] || fail "$3: sha256 mismatch: got $_got, want $1 ($(wc -c <"$2") bytes received)"
	log "ok: $3 (sha256 $_got)"
}

# check_eq WANT GOT WHAT
check_eq() {
	[ "$2" = "$1" ] || fail "$3: got '$2', want '$1'"
	_lines=$(printf '%s\n' "$2" | wc -l)
	if [ "$_lines" -gt 8 ]; then
		log "ok: $3 ($_lines lines as expected, sha256 $(printf '%s' "$2" | sha256sum | cut -d' ' -f1))"
	else
		log "ok: $3 = '$2'"
	fi
}

# mkblob FILE BYTES: a file of pseudo-random (non-compressible) content.
mkblob() {
	head -c "$2" /dev/urandom >"$1" || fail "cannot create $1"
}

# dump_logs FILE...: print server logs (called on failure paths).
dump_logs() {
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "----- $f -----" >&2
		tail -n 50 "$f" >&2
	done
}

# Cleanup: the scripts register what to stop with on_exit; it runs on every
# exit so that validation on the host leaves nothing behind (under ztnc-run,
# ztnc-run also kills leftovers).
_on_exit_cmds=""
on_exit() { _on_exit_cmds="$_on_exit_cmds
$*"; }
_run_exit() {
	_st=$?
	set +e
	eval "$_on_exit_cmds"
	exit $_st
}
trap _run_exit EXIT
trap 'exit 130' INT TERM

# stop_pid PID: TERM, then wait up to 5 s, then KILL.
stop_pid() {
	[ -n "${1:-}" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	_i=0
	while running "$1" && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# stop_pidfile FILE: stop_pid on the pid stored in FILE.
stop_pidfile() {
	[ -s "$1" ] && stop_pid "$(cat "$1")"
	return 0
}

# probe ARGS...: a quick curl for readiness polling (short timeout).
probe() {
	curl --noproxy '*' -sS --fail --max-time 3 "$@"
}

# fetch ARGS...: curl with defaults suitable for the checks: no proxy, fail
# on HTTP errors, bounded time.
fetch() {
	curl --noproxy '*' -sS --fail --max-time 20 "$@"
}
