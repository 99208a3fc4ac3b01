// Package dictionary is ZeroTier One's Dictionary (node/Dictionary.hpp): the
// key=value text format of network configs and config-request metadata
// (VL2.md 4.1). Lines are separated by LF; values are escaped so any bytes
// fit; numbers are 16-digit lowercase hex; the first matching key wins.
package dictionary

import (
	"bytes"
	"fmt"
)

// Entry is one key=value line.
type Entry struct {
	Key   string
	Value []byte
}

// Dict is an ordered list of entries. Order matters on the wire (a 1.14
// controller writes keys in a fixed order) and for lookups (first wins).
type Dict struct {
	Entries []Entry
}

// Parse reads a serialized dictionary. Like the reference it stops at the
// first NUL (the C string end), treats CR like LF as a line end, and skips
// lines without '='. Any input is a dictionary (possibly empty), as in the
// reference, so it never fails.
func Parse(b []byte) *Dict {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	d := &Dict{}
	for len(b) > 0 {
		end := bytes.IndexAny(b, "\r\n")
		line := b
		if end >= 0 {
			line, b = b[:end], b[end+1:]
		} else {
			b = nil
		}
		eq := bytes.IndexByte(line, '=')
		if eq <= 0 {
			continue
		}
		d.Entries = append(d.Entries, Entry{Key: string(line[:eq]), Value: unescape(line[eq+1:])})
	}
	return d
}

func unescape(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(v) {
			break // a lone trailing backslash is dropped
		}
		switch v[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case '0':
			out = append(out, 0)
		case 'e':
			out = append(out, '=')
		default:
			out = append(out, v[i])
		}
	}
	return out
}

func appendEscaped(b, v []byte) []byte {
	for _, c := range v {
		switch c {
		case 0:
			b = append(b, '\\', '0')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '=':
			b = append(b, '\\', 'e')
		default:
			b = append(b, c)
		}
	}
	return b
}

// Bytes serializes the dictionary without a trailing LF or NUL.
func (d *Dict) Bytes() []byte {
	var b []byte
	for i, e := range d.Entries {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, e.Key...)
		b = append(b, '=')
		b = appendEscaped(b, e.Value)
	}
	return b
}

// Get returns the first value stored under key.
func (d *Dict) Get(key string) ([]byte, bool) {
	for _, e := range d.Entries {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// Has reports whether key is present.
func (d *Dict) Has(key string) bool { _, ok := d.Get(key); return ok }

// String returns a value as text ("" if absent).
func (d *Dict) String(key string) string { v, _ := d.Get(key); return string(v) }

// Uint reads a hex number with strtoull semantics: leading hex digits are
// used (any case, any length, overflow saturates), absent or empty gives def.
func (d *Dict) Uint(key string, def uint64) uint64 {
	v, ok := d.Get(key)
	if !ok || len(v) == 0 {
		return def
	}
	return parseHex(v)
}

// Int reads a signed hex number ("-" prefix for negatives).
func (d *Dict) Int(key string, def int64) int64 {
	v, ok := d.Get(key)
	if !ok || len(v) == 0 {
		return def
	}
	if v[0] == '-' {
		return -int64(parseHex(v[1:]))
	}
	return int64(parseHex(v))
}

// Bool reads 1/t/T as true; absent or empty gives def.
func (d *Dict) Bool(key string, def bool) bool {
	v, ok := d.Get(key)
	if !ok || len(v) == 0 {
		return def
	}
	return v[0] == '1' || v[0] == 't' || v[0] == 'T'
}

func parseHex(v []byte) uint64 {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	if i+1 < len(v) && v[i] == '0' && (v[i+1] == 'x' || v[i+1] == 'X') {
		i += 2
	}
	var n uint64
	for ; i < len(v); i++ {
		c := v[i]
		var x uint64
		switch {
		case c >= '0' && c <= '9':
			x = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			x = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			x = uint64(c-'A') + 10
		default:
			return n
		}
		if n > (^uint64(0))>>4 {
			return ^uint64(0) // strtoull saturates
		}
		n = n<<4 | x
	}
	return n
}

// Set appends key=value (keys are not de-duplicated: writers control order
// and the reference writes each key once).
func (d *Dict) Set(key string, value []byte) {
	d.Entries = append(d.Entries, Entry{Key: key, Value: append([]byte(nil), value...)})
}

// SetString appends a text value.
func (d *Dict) SetString(key, value string) { d.Set(key, []byte(value)) }

// SetUint appends a number as 16 lowercase hex digits.
func (d *Dict) SetUint(key string, v uint64) { d.SetString(key, fmt.Sprintf("%016x", v)) }

// SetInt appends a signed number ("-" then 16 hex digits when negative).
func (d *Dict) SetInt(key string, v int64) {
	if v < 0 {
		d.SetString(key, "-"+fmt.Sprintf("%016x", uint64(-v)))
		return
	}
	d.SetUint(key, uint64(v))
}

// SetBool appends 1 or 0.
func (d *Dict) SetBool(key string, v bool) {
	if v {
		d.SetString(key, "1")
	} else {
		d.SetString(key, "0")
	}
}

// SetAddress appends a 40-bit address as 10 hex digits.
func (d *Dict) SetAddress(key string, a uint64) { d.SetString(key, fmt.Sprintf("%010x", a)) }

// CheckCapacity reports whether the serialized form fits a reference
// dictionary of capacity c (content plus the final NUL).
func (d *Dict) CheckCapacity(c int) error {
	if n := len(d.Bytes()); n+1 > c {
		return fmt.Errorf("dictionary: %d bytes exceed capacity %d", n, c-1)
	}
	return nil
}

// Keys lists the keys in order (duplicates included).
func (d *Dict) Keys() []string {
	out := make([]string, len(d.Entries))
	for i, e := range d.Entries {
		out[i] = e.Key
	}
	return out
}
