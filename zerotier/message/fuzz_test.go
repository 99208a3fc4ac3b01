package message

import (
	"errors"
	"testing"

	"ztnc/zerotier/packet"
)

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("unwrapped error: %v", err)
	}
}

// FuzzParseHello decodes arbitrary HELLO payloads with and without a key.
func FuzzParseHello(f *testing.F) {
	c, keys := load(f)
	for _, i := range []int{0, 2} {
		f.Add([]byte(packet.Packet(c.Packets[i]).Payload()))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := packet.New(1, 2, 0x9e0d8d7c71, packet.VerbHello, payload)
		_, err := ParseHello(p, nil)
		checkErr(t, err)
		_, err = ParseHello(p, keys)
		checkErr(t, err)
	})
}

// FuzzParseOK decodes arbitrary OK payloads as OK(HELLO) and OK(WHOIS).
func FuzzParseOK(f *testing.F) {
	c, keys := load(f)
	for _, i := range []int{1, 3} {
		p := packet.Packet(append([]byte(nil), c.Packets[i]...))
		if err := p.Dearmor(keys); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(p.Payload()))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, body, err := ParseOK(packet.New(1, 2, 3, packet.VerbOK, payload))
		checkErr(t, err)
		if err != nil {
			return
		}
		_, err = ParseOKHello(body)
		checkErr(t, err)
		_, err = ParseOKWhois(body)
		checkErr(t, err)
	})
}

// FuzzParseVerbs runs the small decoders on arbitrary payloads.
func FuzzParseVerbs(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0x27, 0x09, 4, 10, 0, 0, 1})
	f.Add([]byte{0, 1, 0, 0, 0, 4, 6, 1, 2, 3, 4, 0, 1})
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, err := ParseWhois(payload)
		checkErr(t, err)
		_, err = ParseRendezvous(payload)
		checkErr(t, err)
		_, err = ParsePushDirectPaths(payload)
		checkErr(t, err)
		_, err = ParseUserMessage(payload)
		checkErr(t, err)
		_, err = ParseError(packet.New(1, 2, 3, packet.VerbError, payload))
		checkErr(t, err)
	})
}
