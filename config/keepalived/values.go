package keepalived

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseUint reads a decimal unsigned number in [lo, hi].
func parseUint(s string, lo, hi uint64) (uint64, bool) {
	if s == "" || strings.HasPrefix(s, "+") {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

// parseTimer reads keepalived's <TIMER>: seconds with up to six decimals.
func parseTimer(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && (!dot || frac == "") {
		return 0, false
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 32)
	if err != nil {
		return 0, false
	}
	d := time.Duration(w) * time.Second
	if dot {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		for _, ch := range frac {
			if ch < '0' || ch > '9' {
				return 0, false
			}
		}
		if frac != "" {
			f, _ := strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 32)
			d += time.Duration(f) * time.Microsecond
		}
	}
	return d, true
}

// parseBool reads keepalived's <BOOL>; a keyword without a value is true.
func parseBool(n *Node) (bool, bool) {
	if len(n.Args) == 0 {
		return true, true
	}
	switch n.Args[0] {
	case "on", "true", "yes":
		return true, true
	case "off", "false", "no":
		return false, true
	}
	return false, false
}

// parseAddr reads an IPv4 or IPv6 address (brackets allowed around IPv6).
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parsePort reads an optional port: "" and "0" mean none.
func parsePort(s string) (uint16, bool) {
	if s == "" || strings.Trim(s, "0") == "" {
		return 0, true
	}
	v, ok := parseUint(s, 1, 65535)
	return uint16(v), ok
}

// parseHex reads keepalived's free-format hex string: blank-separated
// groups, each read two digits at a time, a last lone digit being the low
// nibble of a byte. wild reports X/x digits (ignored nibbles).
func parseHex(words []string) (data []byte, wild bool, ok bool) {
	for _, g := range words {
		for i := 0; i < len(g); i += 2 {
			var b byte
			for k := i; k < i+2 && k < len(g); k++ {
				c := g[k]
				var v byte
				switch {
				case c == 'x' || c == 'X':
					wild = true
				case isHex(c):
					v = hexVal(c)
				default:
					return nil, false, false
				}
				b = b<<4 | v
			}
			data = append(data, b)
		}
	}
	return data, wild, len(data) > 0
}
