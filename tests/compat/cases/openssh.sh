# OpenSSH in its normal mode (not -d: it forks per connection, privilege
# separation on, a config of our own on a high port) <- ssh runs a command,
# sftp uploads and downloads a 1 MiB file, scp copies one; hashes compared.
#
# As root: sshd runs as root, its pre-authentication child chrooted to
# /run/sshd as the unprivileged "sshd" user; ssh logs in as root.
# As uid 65534: sshd runs as nobody (it cannot switch users then, so it
# serves only its own; privilege separation still splits the monitor from
# the network child, without the chroot). nobody's passwd entry has no shell
# and no home, so sshd and ssh see one with /bin/sh and a home in WORK
# through nss_wrapper (libnss-wrapper), as containers running sshd under an
# arbitrary uid do.
. "$(dirname "$0")/lib.sh"
S=$WORK/sshd

# nobody_env: run "$@" with nss_wrapper's passwd for uid 65534.
nss() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	else
		LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so NSS_WRAPPER_PASSWD=$S/passwd NSS_WRAPPER_GROUP=$S/group "$@"
	fi
}

server() {
	need /usr/sbin/sshd ssh-keygen
	mkdir -p "$S/files" "$S/home" || fail mkdir
	ssh-keygen -q -t ed25519 -N '' -f "$S/hostkey" || fail "host key"
	ssh-keygen -q -t ed25519 -N '' -f "$S/userkey" || fail "user key"
	if [ "$(id -u)" = 0 ]; then
		mkdir -p /run/sshd # privilege separation's empty chroot
		echo root >"$S/user"
	else
		[ -r /usr/lib/x86_64-linux-gnu/libnss_wrapper.so ] || fail "libnss_wrapper.so missing (libnss-wrapper)"
		echo "nobody:x:65534:65534:nobody:$S/home:/bin/sh" >"$S/passwd"
		echo "nogroup:x:65534:" >"$S/group"
		echo nobody >"$S/user"
	fi
	cat >"$S/sshd_config" <<CONF
Port $PORT
ListenAddress $A4
ListenAddress $A6
HostKey $S/hostkey
AuthorizedKeysFile $S/userkey.pub
PidFile $S/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
LogLevel DEBUG1
CONF
	nss /usr/sbin/sshd -t -f "$S/sshd_config" >"$S/configtest.log" 2>&1 || fail "sshd -t: $(cat "$S/configtest.log")"
	# -D keeps sshd in the foreground (for the harness to stop it); -e logs
	# to stderr. Neither changes how it serves connections.
	nss /usr/sbin/sshd -D -e -f "$S/sshd_config" >"$S/sshd.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 sh -c "grep -q 'Server listening on $A4 port $PORT' '$S/sshd.log' && grep -q 'Server listening on $A6 port $PORT' '$S/sshd.log'"
}

client() {
	need ssh sftp scp sha256sum
	user=$(cat "$S/user")
	opts="-F /dev/null -i $S/userkey -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20"
	got=$(nss timeout 60 ssh $opts -p "$PORT" "$user@$SRV" 'echo "hello from $(id -un) on $(echo $SSH_CONNECTION | cut -d" " -f3), client $(echo $SSH_CONNECTION | cut -d" " -f1)"; ps -eo args | grep -c "^sshd: .*\[priv\]"; true') ||
		fail "ssh: $got"
	check_eq "hello from $user on $SRV, client $ME" "$(echo "$got" | head -1)" "ssh runs a command"
	if [ "$user" = root ]; then
		# Root sessions skip post-auth separation (OpenSSH's rule); the
		# pre-auth child dropped to the sshd user, as sshd logs at DEBUG1.
		grep -q "permanently_set_uid: $(id -u sshd)/[0-9]* \[preauth\]" "$S/sshd.log" ||
			fail "sshd's log shows no pre-authentication child running as sshd ($(id -u sshd))"
		log "ok: privilege separation: the pre-auth child ran as uid $(id -u sshd) (sshd)"
	else
		[ "$(echo "$got" | tail -1)" -ge 1 ] || fail "no privilege-separation monitor ('sshd: … [priv]') on node A"
		log "ok: privilege separation: a 'sshd: $user [priv]' monitor serves the session"
	fi
	mkblob "$WORK/up.$FAM" 1048576
	want=$(sha "$WORK/up.$FAM")
	rm -f "$S/files/up.$FAM" "$WORK/down.$FAM"
	printf 'put %s %s\nget %s %s\n' "$WORK/up.$FAM" "$S/files/up.$FAM" "$S/files/up.$FAM" "$WORK/down.$FAM" >"$WORK/batch.$FAM"
	timed "sftp 1 MiB up + down" nss timeout 120 sftp $opts -P "$PORT" -b "$WORK/batch.$FAM" "$user@$SRVH" >"$WORK/sftp.$FAM" 2>&1 ||
		fail "sftp: $(cat "$WORK/sftp.$FAM")"
	check_sha "$want" "$S/files/up.$FAM" "file uploaded by sftp"
	check_sha "$want" "$WORK/down.$FAM" "file downloaded by sftp"
	rm -f "$WORK/scp.$FAM"
	timed "scp 1 MiB" nss timeout 120 scp $opts -P "$PORT" "$user@$SRVH:$S/files/up.$FAM" "$WORK/scp.$FAM" >"$WORK/scp.$FAM.out" 2>&1 ||
		fail "scp: $(cat "$WORK/scp.$FAM.out")"
	check_sha "$want" "$WORK/scp.$FAM" "file copied by scp"
}

main "$@"
