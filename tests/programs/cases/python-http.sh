# python3 -m http.server <-> curl over IPv4: file contents by hash.
. "$(dirname "$0")/lib.sh"
need python3 curl sha256sum

mkdir -p "$WORK/www/sub" || fail "mkdir"
mkblob "$WORK/www/blob.bin" 300000
printf 'hello from http.server\n' >"$WORK/www/sub/hello.txt"
want=$(sha "$WORK/www/blob.bin")

python3 -m http.server --bind "$ADDR" --directory "$WORK/www" "$PORT" >"$WORK/server.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
on_exit '[ $_st -eq 0 ] || dump_logs "$WORK/server.log"'

wait_up $srv 200 probe -o /dev/null "http://$ADDR:$PORT/sub/hello.txt"

fetch -o "$WORK/got.bin" "http://$ADDR:$PORT/blob.bin" || fail "curl blob.bin"
check_sha "$want" "$WORK/got.bin" "blob.bin via http.server"

got=$(fetch "http://$ADDR:$PORT/sub/hello.txt") || fail "curl hello.txt"
check_eq "hello from http.server" "$got" "hello.txt"

# A missing file must give a 404 (curl --fail exits 22).
code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 20 "http://$ADDR:$PORT/nope") 
check_eq 404 "$code" "status of a missing file"

# The directory listing names the files.
fetch "http://$ADDR:$PORT/" | grep -q 'blob.bin' || fail "directory listing lacks blob.bin"
log PASS
