// Package capture reads vectors/hello-capture.txt (a tcpdump -XX listing of
// a real ZeroTier One 1.14.1 HELLO / OK(HELLO) exchange plus the two nodes'
// secret identities) for tests in several packages.
package capture

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"ztnc/zerotier/identity"
)

// Capture is the parsed listing.
type Capture struct {
	A, B    *identity.Identity // root A and member B, with secret keys
	Packets [][]byte           // ZeroTier packets (UDP payloads) in wire order
	Plain   [][]byte           // documented verb+payload of each, decrypted
}

// SharedKeyHex is the 48-byte A-B peer key stated in the listing.
const SharedKeyHex = "526368c0fe5a50ff5bb5356950f70ae6bbf38ffbeeeef8903371c55cf560640acde95cc23bffeec1a92d334033c83311"

// Load parses the file at path.
func Load(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &Capture{}
	var frame []byte
	var plain []byte
	inPlain := false
	flush := func() {
		if len(frame) > 0x2a {
			c.Packets = append(c.Packets, frame[0x2a:]) // Ethernet+IPv4+UDP = 42 bytes
		}
		frame = nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "A = ") && c.A == nil:
			c.A, err = identity.Parse(strings.TrimPrefix(trim, "A = "))
		case strings.HasPrefix(trim, "B = ") && c.B == nil:
			c.B, err = identity.Parse(strings.TrimPrefix(trim, "B = "))
		case strings.Contains(line, " IP ") && strings.Contains(line, "UDP"):
			flush()
			frame = []byte{}
		case strings.HasPrefix(trim, "0x") && frame != nil:
			// "0x0010:  00a5 e740 ...  ascii": the hex groups sit between
			// the offset and the two-space gap before the ASCII column.
			rest := strings.TrimLeft(strings.SplitN(trim, ":", 2)[1], " ")
			if i := strings.Index(rest, "  "); i >= 0 {
				rest = rest[:i]
			}
			var bs []byte
			if bs, err = hex.DecodeString(strings.ReplaceAll(rest, " ", "")); err == nil {
				frame = append(frame, bs...)
			}
		case strings.HasPrefix(trim, "----") && frame != nil:
			flush()
		case strings.HasPrefix(trim, "verb+payload"):
			inPlain, plain = true, nil
		case inPlain && isHex(trim):
			bs, _ := hex.DecodeString(trim)
			plain = append(plain, bs...)
		case inPlain:
			c.Plain = append(c.Plain, plain)
			inPlain = false
		}
		if err != nil {
			return nil, fmt.Errorf("capture: %q: %w", line, err)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if c.A == nil || c.B == nil || len(c.Packets) != 4 || len(c.Plain) != 4 {
		return nil, fmt.Errorf("capture: found a=%v b=%v packets=%d plaintexts=%d", c.A != nil, c.B != nil, len(c.Packets), len(c.Plain))
	}
	for i, want := range []int{137, 59, 137, 59} {
		if len(c.Packets[i]) != want || len(c.Plain[i]) != want-27 {
			return nil, fmt.Errorf("capture: packet %d is %d bytes, plaintext %d", i+1, len(c.Packets[i]), len(c.Plain[i]))
		}
	}
	return c, nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
