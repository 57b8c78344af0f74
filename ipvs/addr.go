package ipvs

import (
	"fmt"
	"net/netip"
)

// Family is an address family, with the kernel's AF_* values so that sync
// messages and listings need no translation.
type Family uint8

const (
	IPv4 Family = 2  // AF_INET
	IPv6 Family = 10 // AF_INET6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("AF_%d", uint8(f))
}

// FamilyOf returns the family of a netip address (IPv4-mapped IPv6 counts as IPv4).
func FamilyOf(a netip.Addr) Family {
	if a.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// Protocol is an IP protocol number.
type Protocol uint8

const (
	ProtoIP    Protocol = 0 // used by firewall-mark persistence templates
	ProtoICMP  Protocol = 1
	ProtoTCP   Protocol = 6
	ProtoUDP   Protocol = 17
	ProtoSCTP  Protocol = 132
	ProtoICMP6 Protocol = 58
)

// String returns the name ipvsadm prints for the protocol.
func (p Protocol) String() string {
	switch p {
	case ProtoIP:
		return "IP"
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	case ProtoICMP:
		return "ICMP"
	case ProtoICMP6:
		return "ICMPv6"
	}
	return fmt.Sprintf("IP_%d", uint8(p))
}

// Addr is an address as the hot path stores it: 16 bytes, IPv4 in the
// IPv4-mapped form (::ffff:a.b.c.d). It holds no pointer, so millions of
// connection entries cost the garbage collector nothing.
type Addr [16]byte

// AddrFrom converts a netip address (IPv4 becomes IPv4-mapped).
func AddrFrom(a netip.Addr) Addr { return Addr(a.As16()) }

// AddrFrom4 builds an IPv4-mapped Addr from four bytes.
func AddrFrom4(b [4]byte) Addr {
	return Addr{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}
}

// Netip converts back, unmapping IPv4 when the family says so.
func (a Addr) Netip(f Family) netip.Addr {
	n := netip.AddrFrom16(a)
	if f == IPv4 {
		return n.Unmap()
	}
	return n
}

// Is4 reports whether a is an IPv4-mapped address.
func (a Addr) Is4() bool {
	return a[10] == 0xff && a[11] == 0xff && a[0]|a[1]|a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9] == 0
}

// Mask returns a with the persistence netmask applied: for IPv4 a 32-bit
// mask in host order (ipvsadm accepts any bit pattern, as the kernel does),
// for IPv6 a prefix length.
func (a Addr) Mask(f Family, netmask uint32) Addr {
	if f == IPv4 {
		v := uint32(a[12])<<24 | uint32(a[13])<<16 | uint32(a[14])<<8 | uint32(a[15])
		v &= netmask
		return AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	plen := int(netmask)
	if plen >= 128 {
		return a
	}
	var out Addr
	full := plen / 8
	copy(out[:full], a[:full])
	if rem := plen % 8; rem != 0 {
		out[full] = a[full] & (0xff << (8 - rem))
	}
	return out
}

// String formats the address (IPv4 unmapped).
func (a Addr) String() string {
	n := netip.AddrFrom16(a)
	return n.Unmap().String()
}
