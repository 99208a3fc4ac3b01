package supervisor

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The slow path's memory access must fault where the kernel's copy would:
// /proc/PID/mem alone would read a PROT_NONE page and write a read-only one.
func TestProcMemProtections(t *testing.T) {
	page := os.Getpagesize()
	m, base := testPages(t, 3)
	copy(m, "hello")
	if err := unix.Mprotect(m[page:2*page], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mprotect(m[2*page:], unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	b := make([]byte, 5)
	if e := procMem(pid, base, b, false); e != 0 || string(b) != "hello" {
		t.Fatalf("reading a readable page: %v %q", e, b)
	}
	if e := procMem(pid, base, []byte("HELLO"), true); e != 0 || string(m[:5]) != "HELLO" {
		t.Fatalf("writing a writable page: %v %q", e, m[:5])
	}
	if e := procMem(pid, base+uint64(page)-2, make([]byte, 4), false); e != unix.EFAULT {
		t.Errorf("reading into a PROT_NONE page: %v, want EFAULT", e)
	}
	if e := procMem(pid, base+2*uint64(page), []byte{1}, true); e != unix.EFAULT {
		t.Errorf("writing a read-only page: %v, want EFAULT", e)
	}
	if e := procMem(pid, base+2*uint64(page), make([]byte, 1), false); e != 0 {
		t.Errorf("reading a read-only page: %v", e)
	}
	if e := procMem(pid, 0, b, false); e != unix.EFAULT {
		t.Errorf("NULL: %v", e)
	}
	// The text fallback for kernels without PROCMAP_QUERY agrees.
	fd, err := unix.Open("/proc/self/maps", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if !mappedText(fd, base, base+5, true) {
		t.Error("mappedText: a writable page refused")
	}
	unix.Seek(fd, 0, 0)
	if mappedText(fd, base+uint64(page), base+uint64(page)+1, false) {
		t.Error("mappedText: a PROT_NONE page accepted")
	}
}

// testPages maps n writable pages of our own for a memory access test, and
// their address.
func testPages(t *testing.T, n int) ([]byte, uint64) {
	t.Helper()
	m, err := unix.Mmap(-1, 0, n*os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return m, uint64(uintptr(unsafe.Pointer(&m[0])))
}
