package compat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"ztnc/tests/testutil"
)

// goBin is the go command that runs this test.
func goBin() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// sharedDir is a temporary directory uid 65534 can read, removed at cleanup.
func sharedDir(t *testing.T) string {
	d := testutil.SharedTempDir(t)
	os.Chmod(d, 0o755)
	return d
}

// buildGoProgs builds the programs suite's static Go HTTP server and client
// (CGO_ENABLED=0) for the go-static case.
func buildGoProgs(t *testing.T) ([]string, error) {
	dir := sharedDir(t)
	cmd := exec.Command(goBin(), "build", "-trimpath", "-o", dir+string(os.PathSeparator),
		"./tests/programs/goprogs/httpserver", "./tests/programs/goprogs/httpclient")
	cmd.Dir = testutil.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build of the static Go programs: %v\n%s", err, out)
	}
	for _, p := range []string{"httpserver", "httpclient"} {
		if err := testutil.CheckStatic(filepath.Join(dir, p)); err != nil {
			return nil, err
		}
	}
	return []string{"GOPROGS=" + dir}, nil
}

// buildMongo builds FerretDB (the MongoDB wire protocol server, SQLite
// backend, through its embeddable package) and the Go mongo-driver client
// from the nested module in mongo/,
// which keeps their many dependencies out of ztnc's go.mod. The binaries are
// cached under the user's cache directory, keyed by the module's files and
// the Go version, since FerretDB takes minutes to build.
func buildMongo(t *testing.T) ([]string, error) {
	src := filepath.Join(testutil.RepoRoot(), "tests", "compat", "mongo")
	h := sha256.New()
	io.WriteString(h, runtime.Version())
	for _, f := range []string{"go.mod", "go.sum", "ferretserver/main.go", "mongoclient/main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		cacheRoot = os.TempDir()
	}
	cache := filepath.Join(cacheRoot, "ztnc-compat", "mongo-"+hex.EncodeToString(h.Sum(nil))[:16])
	bins := []string{"ferretserver", "mongoclient"}
	if !allExist(cache, bins) {
		tmp := cache + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return nil, err
		}
		t.Logf("building FerretDB and the mongo client into %s (cached for later runs)", cache)
		cmd := exec.Command(goBin(), "build", "-trimpath", "-o", tmp+string(os.PathSeparator),
			"./ferretserver", "./mongoclient")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building FerretDB and the mongo client in %s: %v\n%s", src, err, out)
		}
		os.RemoveAll(cache)
		if err := os.Rename(tmp, cache); err != nil {
			return nil, err
		}
	}
	// A copy uid 65534 can run (the cache may be under /root).
	dir := sharedDir(t)
	for _, b := range bins {
		if err := copyFile(filepath.Join(cache, b), filepath.Join(dir, b)); err != nil {
			return nil, err
		}
	}
	return []string{"MONGO=" + dir}, nil
}

func allExist(dir string, names []string) bool {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", from, err)
	}
	return out.Close()
}
