// Package rules is ZeroTier's network rules table: the binary rule format
// carried in network configs (key R) and capabilities, its JSON form in the
// controller's network records, and the evaluator (VL2.md section 7).
package rules

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by decoding errors.
var ErrMalformed = errors.New("malformed rules")

// Type bits of the first byte of a rule.
const (
	FlagNot  = 0x80 // invert the match
	FlagOr   = 0x40 // combine with the previous match by OR
	TypeMask = 0x3f
)

// Rule types (include/ZeroTierOne.h ZT_RuleType).
const (
	ActionDrop                 = 0
	ActionAccept               = 1
	ActionTee                  = 2
	ActionWatch                = 3
	ActionRedirect             = 4
	ActionBreak                = 5
	ActionPriority             = 6
	MatchSourceZeroTierAddress = 24
	MatchDestZeroTierAddress   = 25
	MatchVlanID                = 26
	MatchVlanPCP               = 27
	MatchVlanDEI               = 28
	MatchMACSource             = 29
	MatchMACDest               = 30
	MatchIPv4Source            = 31
	MatchIPv4Dest              = 32
	MatchIPv6Source            = 33
	MatchIPv6Dest              = 34
	MatchIPTOS                 = 35
	MatchIPProtocol            = 36
	MatchEthertype             = 37
	MatchICMP                  = 38
	MatchIPSourcePortRange     = 39
	MatchIPDestPortRange       = 40
	MatchCharacteristics       = 41
	MatchFrameSizeRange        = 42
	MatchRandom                = 43
	MatchTagsDifference        = 44
	MatchTagsBitwiseAnd        = 45
	MatchTagsBitwiseOr         = 46
	MatchTagsBitwiseXor        = 47
	MatchTagsEqual             = 48
	MatchTagSender             = 49
	MatchTagReceiver           = 50
	MatchIntegerRange          = 51
)

// MaxNetworkRules, MaxCapabilityRules are the reference's limits.
const (
	MaxNetworkRules    = 1024
	MaxCapabilityRules = 64
)

// valueLen is the serialized value length per known type (-1: unknown).
func valueLen(t byte) int {
	switch t {
	case ActionDrop, ActionAccept, ActionBreak, ActionPriority:
		return 0
	case ActionTee, ActionWatch, ActionRedirect:
		return 14
	case MatchSourceZeroTierAddress, MatchDestZeroTierAddress:
		return 5
	case MatchVlanID:
		return 2
	case MatchVlanPCP, MatchVlanDEI, MatchIPProtocol:
		return 1
	case MatchMACSource, MatchMACDest:
		return 6
	case MatchIPv4Source, MatchIPv4Dest:
		return 5
	case MatchIPv6Source, MatchIPv6Dest:
		return 17
	case MatchIPTOS, MatchICMP:
		return 3
	case MatchEthertype:
		return 2
	case MatchIPSourcePortRange, MatchIPDestPortRange, MatchFrameSizeRange, MatchRandom:
		return 4
	case MatchCharacteristics:
		return 8
	case MatchTagsDifference, MatchTagsBitwiseAnd, MatchTagsBitwiseOr, MatchTagsBitwiseXor,
		MatchTagsEqual, MatchTagSender, MatchTagReceiver:
		return 8
	case MatchIntegerRange:
		return 19
	}
	return -1
}

// Rule is one entry: the type byte (with NOT/OR bits) and its value bytes.
// Values of known types are kept at their canonical length (shorter wire
// values are zero-padded, as the reference reads fixed fields).
type Rule struct {
	T     byte
	Value []byte
}

// Type is the rule type without the NOT/OR bits.
func (r Rule) Type() byte { return r.T & TypeMask }

// Not and Or report the modifier bits.
func (r Rule) Not() bool { return r.T&FlagNot != 0 }
func (r Rule) Or() bool  { return r.T&FlagOr != 0 }

// IsAction reports whether the rule is an action (types 0..15).
func (r Rule) IsAction() bool { return r.Type() <= 15 }

// Append serializes rules (Capability::serializeRules).
func Append(b []byte, rs []Rule) []byte {
	for _, r := range rs {
		b = append(b, r.T, byte(len(r.Value)))
		b = append(b, r.Value...)
	}
	return b
}

// Parse reads up to max rules from b, stopping when b is exhausted.
func Parse(b []byte, max int) ([]Rule, error) {
	var out []Rule
	for len(b) > 0 && len(out) < max {
		r, n, err := parseOne(b)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		b = b[n:]
	}
	return out, nil
}

// ParseN reads exactly n rules from the start of b and returns the bytes
// consumed (capability bodies carry a rule count).
func ParseN(b []byte, n int) ([]Rule, int, error) {
	out := make([]Rule, 0, n)
	off := 0
	for i := 0; i < n; i++ {
		r, k, err := parseOne(b[off:])
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
		off += k
	}
	return out, off, nil
}

func parseOne(b []byte) (Rule, int, error) {
	if len(b) < 2 {
		return Rule{}, 0, fmt.Errorf("%w: rule header truncated", ErrMalformed)
	}
	t, l := b[0], int(b[1])
	if len(b) < 2+l {
		return Rule{}, 0, fmt.Errorf("%w: rule type %d value of %d bytes truncated", ErrMalformed, t&TypeMask, l)
	}
	v := append([]byte(nil), b[2:2+l]...)
	if want := valueLen(t & TypeMask); want >= 0 && len(v) != want {
		// The reference reads the fixed fields and then skips L bytes.
		nv := make([]byte, want)
		copy(nv, v)
		v = nv
	}
	return Rule{T: t, Value: v}, 2 + l, nil
}
