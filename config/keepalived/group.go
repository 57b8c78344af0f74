package keepalived

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// groupMembers expands a virtual_server_group: addresses, ranges
// (a.b.c.d-e, a.b.c.d-a.b.c.e, a.b.c.d/nn and their IPv6 forms, where
// a short range end is the last 16-bit group in hex) and fwmarks.
func (c *conv) groupMembers(g *Node) []member {
	var out []member
	for _, e := range g.Block {
		if e.Keyword == "fwmark" {
			v, ok := parseUint(e.Arg(0), 1, math.MaxUint32)
			if !ok {
				c.report(e, KindWarning, "invalid fwmark %q in virtual_server_group %s: keepalived ignores it", e.Arg(0), g.Arg(0))
				continue
			}
			m := member{fwmark: uint32(v)}
			switch e.Arg(1) {
			case "":
			case "inet":
				m.family = 4
			case "inet6":
				m.family = 6
			default:
				c.report(e, KindWarning, "unknown family %q for fwmark %d: keepalived ignores the entry", e.Arg(1), v)
				continue
			}
			out = append(out, m)
			continue
		}
		port, pok := parsePort(e.Arg(0))
		first, last, ok := addrRange(e.Keyword)
		if !ok || !pok {
			c.report(e, KindWarning, "invalid virtual_server_group entry %q %q: keepalived ignores it", e.Keyword, e.Arg(0))
			continue
		}
		for a := first; ; a = a.Next() {
			if len(out)+len(c.cfg.Services) >= maxServices {
				c.report(e, KindUnsupported, "the group expands to more than %d virtual services", maxServices)
				return out
			}
			out = append(out, member{addr: a, port: port})
			if a == last || !a.IsValid() {
				break
			}
		}
	}
	return out
}

// addrRange parses an address or address range of a group entry.
func addrRange(s string) (netip.Addr, netip.Addr, bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		a, ok := parseAddr(s[:i])
		if !ok {
			return a, a, false
		}
		bits, err := strconv.Atoi(s[i+1:])
		if err != nil || bits < 1 || bits > a.BitLen() {
			return a, a, false
		}
		p := netip.PrefixFrom(a, bits)
		if p.Masked().Addr() != a {
			return a, a, false // host bits set: keepalived refuses it
		}
		end := a.AsSlice()
		for b := bits; b < len(end)*8; b++ {
			end[b/8] |= 0x80 >> (b % 8)
		}
		last, _ := netip.AddrFromSlice(end)
		return a, last.Unmap(), true
	}
	i := strings.IndexByte(s, '-')
	if i < 0 {
		a, ok := parseAddr(s)
		return a, a, ok
	}
	a, ok := parseAddr(s[:i])
	if !ok {
		return a, a, false
	}
	endStr := s[i+1:]
	if a.Is4() && strings.Contains(endStr, ".") || a.Is6() && strings.Contains(endStr, ":") {
		b, ok := parseAddr(endStr)
		if !ok || b.Is4() != a.Is4() || b.Less(a) {
			return a, a, false
		}
		return a, b, true
	}
	base, bitsz := 10, 8
	if a.Is6() {
		base, bitsz = 16, 16
	}
	v, err := strconv.ParseUint(endStr, base, bitsz)
	if err != nil {
		return a, a, false
	}
	end := a.AsSlice()
	var start uint64
	if a.Is4() {
		start = uint64(end[3])
		end[3] = byte(v)
	} else {
		start = uint64(end[14])<<8 | uint64(end[15])
		end[14], end[15] = byte(v>>8), byte(v)
	}
	if start >= v {
		return a, a, false
	}
	last, _ := netip.AddrFromSlice(end)
	return a, last, true
}
