# OpenSSH: sshd in its normal mode (-D only keeps it in the foreground;
# privilege separation on, a config of our own on a high port) <- ssh runs a
# command (as root), sftp uploads and downloads a 1 MiB file, scp copies one,
# over IPv4 and IPv6; hashes compared. Run as root only: sshd lets no one
# into uid 65534's locked account.
. "$(dirname "$0")/lib.sh"
need /usr/sbin/sshd ssh sftp scp ssh-keygen sha256sum

S=$WORK/sshd
mkdir -p "$S/files" || fail "mkdir"
ssh-keygen -q -t ed25519 -N '' -f "$S/hostkey" || fail "host key"
ssh-keygen -q -t ed25519 -N '' -f "$S/userkey" || fail "user key"
me=$(id -un)
{
	echo "Port $PORT"
	echo "ListenAddress $ADDR"
	echo "ListenAddress $ADDR6"
	echo "HostKey $S/hostkey"
	echo "AuthorizedKeysFile $S/userkey.pub"
	echo "PidFile $S/sshd.pid"
	echo "UsePAM no"
	echo "StrictModes no"
	echo "PermitRootLogin prohibit-password"
	echo "PasswordAuthentication no"
	echo "Subsystem sftp internal-sftp"
} >"$S/sshd_config"
mkdir -p /run/sshd # privilege separation's empty chroot

/usr/sbin/sshd -D -e -f "$S/sshd_config" >"$S/sshd.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
on_exit '[ $_st -eq 0 ] || dump_logs "$S/sshd.log"'

opts="-F /dev/null -i $S/userkey -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
answers() { timeout 5 sftp $opts -P "$PORT" -b /dev/null "$me@$ADDR" >/dev/null 2>&1; }
wait_up $srv 100 answers

check_eq "hello from sshd $ADDR" "$(ssh $opts -p "$PORT" "root@$ADDR" 'echo hello from sshd $(echo $SSH_CONNECTION | cut -d" " -f3)')" "ssh runs a command"

mkblob "$WORK/up.bin" 1048576
want=$(sha "$WORK/up.bin")
for host in "$ADDR" "[$ADDR6]"; do
	rm -f "$S/files/up.bin" "$WORK/down.bin"
	printf 'put %s %s\nget %s %s\n' "$WORK/up.bin" "$S/files/up.bin" "$S/files/up.bin" "$WORK/down.bin" >"$WORK/batch"
	sftp $opts -P "$PORT" -b "$WORK/batch" "$me@$host" >"$WORK/sftp.out" 2>&1 || { cat "$WORK/sftp.out" >&2; fail "sftp to $host"; }
	check_sha "$want" "$S/files/up.bin" "file uploaded by sftp to $host"
	check_sha "$want" "$WORK/down.bin" "file downloaded by sftp from $host"
done

rm -f "$WORK/scp.bin"
scp $opts -P "$PORT" "$me@$ADDR:$S/files/up.bin" "$WORK/scp.bin" >"$WORK/scp.out" 2>&1 || { cat "$WORK/scp.out" >&2; fail "scp"; }
check_sha "$want" "$WORK/scp.bin" "file copied by scp"
log PASS
