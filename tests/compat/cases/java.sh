# Java (Debian's OpenJDK 17), both ends started as `java File.java`: a
# com.sun.net.httpserver server (a thread pool, dual-stack) <- a
# java.net.http.HttpClient client: a 1 MiB file by hash, a 1 MiB POST the
# server hashes, 20 concurrent requests, and the peer address the server saw.
. "$(dirname "$0")/lib.sh"
JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java

server() {
	[ -x $JAVA ] || fail "$JAVA missing (openjdk-17-jdk-headless)"
	mkblob "$WORK/file.bin" 1048576
	sha "$WORK/file.bin" >"$WORK/file.sha"
	cat >"$WORK/Server.java" <<'JAVA'
import com.sun.net.httpserver.*;
import java.net.*;
import java.nio.file.*;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.Executors;

public class Server {
    public static void main(String[] args) throws Exception {
        byte[] file = Files.readAllBytes(Path.of(args[1]));
        HttpServer s = HttpServer.create(new InetSocketAddress(Integer.parseInt(args[0])), 64);
        s.setExecutor(Executors.newFixedThreadPool(8));
        s.createContext("/file", x -> { x.sendResponseHeaders(200, file.length); try (var o = x.getResponseBody()) { o.write(file); } });
        s.createContext("/hash", x -> {
            try {
                byte[] body = x.getRequestBody().readAllBytes();
                byte[] r = (body.length + " " + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body)) + "\n").getBytes();
                x.sendResponseHeaders(200, r.length);
                try (var o = x.getResponseBody()) { o.write(r); }
            } catch (java.security.NoSuchAlgorithmException e) { throw new RuntimeException(e); }
        });
        s.createContext("/peer", x -> {
            byte[] r = (x.getRemoteAddress().getAddress().getHostAddress() + "\n").getBytes();
            x.sendResponseHeaders(200, r.length);
            try (var o = x.getResponseBody()) { o.write(r); }
        });
        s.start();
        System.out.println("listening on " + s.getAddress());
    }
}
JAVA
	cd "$WORK" || fail cd
	$JAVA "$WORK/Server.java" "$PORT" "$WORK/file.bin" >"$WORK/java-server.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	WAIT_SECS=90 wait_up $srv 900 probe -o /dev/null "http://$A4:$PORT/peer"
}

client() {
	[ -x $JAVA ] || fail "$JAVA missing (openjdk-17-jdk-headless)"
	cat >"$WORK/Client.java" <<'JAVA'
import java.net.*;
import java.net.http.*;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.CompletableFuture;

public class Client {
    static String sha(byte[] b) throws Exception { return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b)); }
    public static void main(String[] args) throws Exception {
        String base = args[0], want = args[1];
        InetAddress me = InetAddress.getByName(args[2]);
        HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(20)).build();
        HttpRequest get = HttpRequest.newBuilder(URI.create(base + "/file")).timeout(Duration.ofSeconds(30)).build();
        HttpResponse<byte[]> r = c.send(get, HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200 || !sha(r.body()).equals(want)) throw new Exception("GET /file: " + r.statusCode() + " sha256 " + sha(r.body()));
        System.out.println("ok: HttpClient GET /file, " + r.body().length + " bytes, sha256 " + want);
        byte[] up = new byte[1 << 20];
        new Random(42).nextBytes(up);
        HttpResponse<String> p = c.send(HttpRequest.newBuilder(URI.create(base + "/hash")).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofByteArray(up)).build(), HttpResponse.BodyHandlers.ofString());
        if (!p.body().equals(up.length + " " + sha(up) + "\n")) throw new Exception("POST /hash: " + p.body());
        System.out.println("ok: HttpClient POST of 1 MiB, hashed by the server");
        List<CompletableFuture<HttpResponse<byte[]>>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) fs.add(c.sendAsync(get, HttpResponse.BodyHandlers.ofByteArray()));
        for (var f : fs) { var x = f.get(); if (x.statusCode() != 200 || !sha(x.body()).equals(want)) throw new Exception("a concurrent GET failed"); }
        System.out.println("ok: 20 concurrent GETs, every body by hash");
        String peer = c.send(HttpRequest.newBuilder(URI.create(base + "/peer")).build(), HttpResponse.BodyHandlers.ofString()).body().trim();
        if (!InetAddress.getByName(peer).equals(me)) throw new Exception("the server saw " + peer + ", not " + me);
        System.out.println("ok: the server saw the client as " + peer);
    }
}
JAVA
	cd "$WORK" || fail cd
	timed "java Client.java" $JAVA "$WORK/Client.java" "http://$SRVH:$PORT" "$(cat "$WORK/file.sha")" "$ME" || fail "java client"
}

main "$@"
