package supervisor

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// writeMemV writes its pieces in order and, when one faults, stops there
// with EFAULT, the pieces before it written and those after not, as
// separate writes would; empty pieces are skipped, even at NULL.
func TestWriteMemV(t *testing.T) {
	page := os.Getpagesize()
	m, base := testPages(t, 2)
	if err := unix.Mprotect(m[page:], unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()

	ok := []memWrite{{base, []byte("data")}, {0, nil}, {base + 100, []byte("name")}, {base + 200, []byte{7}}}
	if e := writeMemV(pid, ok); e != 0 {
		t.Fatalf("writable pieces: %v", e)
	}
	if string(m[:4]) != "data" || string(m[100:104]) != "name" || m[200] != 7 {
		t.Fatalf("written: %q %q %d", m[:4], m[100:104], m[200])
	}

	clear(m[:page])
	bad := []memWrite{{base, []byte("first")}, {base + uint64(page), []byte("read-only")}, {base + 300, []byte("after")}}
	if e := writeMemV(pid, bad); e != unix.EFAULT {
		t.Fatalf("a read-only piece: %v, want EFAULT", e)
	}
	if string(m[:5]) != "first" || m[300] != 0 {
		t.Fatalf("after the fault: first %q, after %q; want the first written and not the one after", m[:5], m[300:305])
	}

	if e := writeMemV(pid, []memWrite{{base, []byte("x")}, {0, []byte("y")}}); e != unix.EFAULT {
		t.Fatalf("a NULL piece: %v, want EFAULT", e)
	}

	many := make([]memWrite, maxMemWrites+3) // more than one call takes
	for i := range many {
		many[i] = memWrite{base + 400 + uint64(i), []byte{byte(i + 1)}}
	}
	if e := writeMemV(pid, many); e != 0 {
		t.Fatalf("%d pieces: %v", len(many), e)
	}
	for i := range many {
		if m[400+i] != byte(i+1) {
			t.Fatalf("%d pieces: byte %d is %d", len(many), i, m[400+i])
		}
	}
}
