package api

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/govs/gvs/ipvs"
)

// ServiceID is a service key as it appears in a URL path:
// "tcp:10.0.0.1:80", "udp:[2001:db8::1]:53", "sctp:10.0.0.2:3868",
// "fwm:7" (IPv4) or "fwm6:7" (IPv6).
func ServiceID(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		if k.Family == ipvs.IPv6 {
			return fmt.Sprintf("fwm6:%d", k.FWMark)
		}
		return fmt.Sprintf("fwm:%d", k.FWMark)
	}
	return strings.ToLower(k.Protocol.String()) + ":" + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// ParseServiceID is the inverse of ServiceID.
func ParseServiceID(s string) (ipvs.ServiceKey, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return ipvs.ServiceKey{}, fmt.Errorf("service id %q: want proto:addr:port or fwm:mark", s)
	}
	switch kind {
	case "fwm", "fwm6":
		m, err := strconv.ParseUint(rest, 10, 32)
		if err != nil || m == 0 {
			return ipvs.ServiceKey{}, fmt.Errorf("service id %q: bad firewall mark", s)
		}
		f := ipvs.IPv4
		if kind == "fwm6" {
			f = ipvs.IPv6
		}
		return ipvs.ServiceKey{FWMark: uint32(m), Family: f}, nil
	}
	var p ipvs.Protocol
	if err := p.UnmarshalText([]byte(kind)); err != nil || (p != ipvs.ProtoTCP && p != ipvs.ProtoUDP && p != ipvs.ProtoSCTP) {
		return ipvs.ServiceKey{}, fmt.Errorf("service id %q: unknown protocol", s)
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return ipvs.ServiceKey{}, fmt.Errorf("service id %q: %v", s, err)
	}
	a := ap.Addr().Unmap()
	return ipvs.ServiceKey{Protocol: p, Addr: a, Port: ap.Port(), Family: ipvs.FamilyOf(a)}, nil
}

// DestID is a destination in a URL path: "10.0.0.5:80", "[2001:db8::5]:80".
func DestID(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// ParseDestID is the inverse of DestID.
func ParseDestID(s string) (netip.Addr, uint16, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("destination id %q: %v", s, err)
	}
	return ap.Addr().Unmap(), ap.Port(), nil
}
