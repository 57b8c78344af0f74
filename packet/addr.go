package packet

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
)

// Family is the L3 family of a flow: IPv4 or IPv6 (0 for none).
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return "none"
}

// Addr is an IP address in the flow key: 16 bytes, pointer-free and
// comparable, so keys hash and compare without allocating. IPv4 addresses
// are stored IPv4-mapped (::ffff:a.b.c.d), as netip.Addr.As16 and the
// engine's ipvs.Addr do; Parse refuses IPv6 packets carrying such an
// address, so the form is unambiguous.
type Addr [16]byte

// AddrFrom4 returns the IPv4-mapped Addr of a.
func AddrFrom4(a [4]byte) Addr {
	return Addr{10: 0xff, 11: 0xff, 12: a[0], 13: a[1], 14: a[2], 15: a[3]}
}

// setMapped stores the IPv4-mapped form of the 4 bytes b in a, in three
// word stores (the hot path's AddrFrom4).
func setMapped(a *Addr, b []byte) {
	binary.LittleEndian.PutUint64(a[0:8], 0)
	binary.LittleEndian.PutUint32(a[8:12], 0xffff0000)
	copy(a[12:16], b[:4])
}

// AddrFromNetip converts a (IPv4 becomes IPv4-mapped; a zone is dropped).
func AddrFromNetip(a netip.Addr) Addr { return Addr(a.As16()) }

// MustParseAddr parses s (for tests and configuration, not the hot path).
func MustParseAddr(s string) Addr { return AddrFromNetip(netip.MustParseAddr(s)) }

// Is4 reports whether a is IPv4-mapped.
func (a Addr) Is4() bool { return is4(&a) }

// Family returns IPv4 for an IPv4-mapped address, IPv6 otherwise.
func (a Addr) Family() Family { return familyOf(&a) }

// is4 and familyOf are Is4 and Family without copying the address (the
// hot paths').
func is4(a *Addr) bool {
	return binary.LittleEndian.Uint64(a[0:8]) == 0 && binary.LittleEndian.Uint32(a[8:12]) == 0xffff0000
}

func familyOf(a *Addr) Family {
	if is4(a) {
		return IPv4
	}
	return IPv6
}

// As4 returns the last four bytes (the IPv4 address of a mapped Addr).
func (a Addr) As4() [4]byte { return [4]byte{a[12], a[13], a[14], a[15]} }

// Netip converts back: IPv4-mapped addresses become plain IPv4.
func (a Addr) Netip() netip.Addr { return netip.AddrFrom16(a).Unmap() }

func (a Addr) String() string { return a.Netip().String() }

// bytes returns the address as it appears in a header of family f.
func (a *Addr) bytes(f Family) []byte {
	if f == IPv4 {
		return a[12:16]
	}
	return a[:]
}

// MAC is an Ethernet address.
type MAC [6]byte

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func (m MAC) String() string {
	var b [17]byte
	for i := range 6 {
		hex.Encode(b[i*3:], m[i:i+1])
		if i < 5 {
			b[i*3+2] = ':'
		}
	}
	return string(b[:])
}

// FlowKey identifies a flow as seen in one packet: addresses and ports
// from source to destination. The engine decides the direction relative to
// a service; Reverse gives the other orientation.
type FlowKey struct {
	Src, Dst         Addr
	SrcPort, DstPort uint16 // TCP, UDP and SCTP only; 0 otherwise
	Proto            uint8  // IP protocol number (the upper-layer protocol for IPv6)
	Family           Family
}

// Reverse returns the key of the opposite direction.
func (k FlowKey) Reverse() FlowKey {
	k.Src, k.Dst = k.Dst, k.Src
	k.SrcPort, k.DstPort = k.DstPort, k.SrcPort
	return k
}

// hash mixes the key into 64 bits (GUE source ports, fragment cache slots).
func (k *FlowKey) hash(seed uint64) uint64 {
	h := seed ^ uint64(k.Proto)<<40 ^ uint64(k.SrcPort)<<16 ^ uint64(k.DstPort)
	for i := 0; i < 16; i += 8 {
		h = mix(h ^ le64(k.Src[i:]))
		h = mix(h ^ le64(k.Dst[i:]))
	}
	return mix(h)
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// mix is a 64-bit finaliser (splitmix64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
