package packet

import (
	"bytes"
	"testing"
)

func TestVnetHeaderCodec(t *testing.T) {
	// a TCPv4 GSO frame as the kernel hands it on x86 (little-endian)
	raw := []byte{0x01, 0x81, 0x36, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00}
	var h VnetHeader
	if r := h.Decode(raw); r != DropNone {
		t.Fatal(r)
	}
	want := VnetHeader{Flags: VnetNeedsCsum, GSOType: GSOTCPv4 | GSOECN, HdrLen: 54, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	if h != want {
		t.Fatalf("%+v", h)
	}
	var b [VnetHeaderLen]byte
	h.Encode(b[:])
	if !bytes.Equal(b[:], raw) {
		t.Fatalf("%x", b)
	}
	if h.Decode(raw[:9]) != DropTruncated || h.Encode(b[:9]) != DropBufferTooSmall {
		t.Fatal("short")
	}
}

func TestSetOffload(t *testing.T) {
	s := genSpec{fam: IPv4, proto: ProtoTCP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 9, payload: make([]byte, 3000)}
	f := s.build(t)
	p := mustParse(t, f)
	good := VnetHeader{Flags: VnetNeedsCsum, GSOType: GSOTCPv4 | GSOECN, GSOSize: 1448, CsumStart: uint16(p.L4Off), CsumOffset: 16}
	if r := p.SetOffload(&good); r != DropNone {
		t.Fatal(r)
	}
	if typ, size := p.GSO(); typ != GSOTCPv4|GSOECN || size != 1448 {
		t.Fatal(typ, size)
	}
	h := p.VnetHeader()
	if h.Flags != VnetNeedsCsum || h.CsumStart != good.CsumStart || h.CsumOffset != 16 || h.GSOType != good.GSOType || int(h.HdrLen) != p.PayloadOff {
		t.Fatalf("%+v", h)
	}
	for _, bad := range []VnetHeader{
		{Flags: VnetNeedsCsum, CsumStart: 14, CsumOffset: 16},
		{Flags: VnetNeedsCsum, CsumStart: uint16(p.L4Off), CsumOffset: 6},
		{GSOType: GSOTCPv6, GSOSize: 100},
		{GSOType: GSOUDPL4, GSOSize: 100},
		{GSOType: GSOTCPv4},
	} {
		if r := p.SetOffload(&bad); r != DropBadVnetHeader {
			t.Errorf("%+v: %v", bad, r)
		}
	}
	// DATA_VALID alone is nothing to keep
	dv := VnetHeader{Flags: VnetDataValid}
	if p.SetOffload(&dv) != DropNone || p.ChecksumPartial() || p.VnetHeader() != (VnetHeader{}) {
		t.Fatal("data valid")
	}
}

// SCTP with a partial CRC (the kernel's csum_not_inet) is completed as CRC32c.
func TestCompleteChecksumSCTP(t *testing.T) {
	s := genSpec{fam: IPv6, proto: ProtoSCTP, src: MustParseAddr("2001:db8::1"), dst: MustParseAddr("2001:db8::2"), sport: 1, dport: 2, ttl: 9, payload: []byte("data")}
	f := s.build(t)
	p := mustParse(t, f)
	want := bytes.Clone(f)
	clear(f[p.L4Off+8 : p.L4Off+12])
	h := VnetHeader{Flags: VnetNeedsCsum, CsumStart: uint16(p.L4Off), CsumOffset: 8}
	if r := p.SetOffload(&h); r != DropNone {
		t.Fatal(r)
	}
	if r := CompleteChecksum(f, p); r != DropNone || !bytes.Equal(f, want) {
		t.Fatalf("%v", r)
	}
}

// RecomputeChecksum fills a TCP or UDP checksum in full, over IPv4 and
// IPv6, whether the field held a partial sum or garbage; it refuses what
// it cannot sum (a fragment, SCTP, an IPv6 extension header).
func TestRecomputeChecksum(t *testing.T) {
	for _, s := range []genSpec{
		{fam: IPv4, proto: ProtoTCP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 9, tcpFlags: TCPSyn, payload: []byte("abc")},
		{fam: IPv4, proto: ProtoUDP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 9, payload: make([]byte, 40)},
		{fam: IPv6, proto: ProtoTCP, src: MustParseAddr("fd00::1"), dst: MustParseAddr("fd00::2"), sport: 1, dport: 2, ttl: 9, payload: []byte("abcd")},
	} {
		f := s.build(t)
		p := mustParse(t, f)
		makePartial(f, p)
		if r := RecomputeChecksum(f, p); r != DropNone || !checksumsOK(f, p) {
			t.Fatalf("%v/%d from a partial sum: %v", s.fam, s.proto, r)
		}
		off := p.L4Off + tcpCsumOff
		if s.proto == ProtoUDP {
			off = p.L4Off + udpCsumOff
		}
		f[off] ^= 0xff
		if r := RecomputeChecksum(f, p); r != DropNone || !checksumsOK(f, p) || p.ChecksumPartial() {
			t.Fatalf("%v/%d from a wrong checksum: %v", s.fam, s.proto, r)
		}
	}
	for _, s := range []genSpec{
		{fam: IPv4, proto: ProtoSCTP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 9, payload: make([]byte, 16)},
		{fam: IPv6, proto: ProtoTCP, ext: true, src: MustParseAddr("fd00::1"), dst: MustParseAddr("fd00::2"), sport: 1, dport: 2, ttl: 9},
	} {
		f := s.build(t)
		if r := RecomputeChecksum(f, mustParse(t, f)); r == DropNone {
			t.Errorf("%+v: recomputed", s)
		}
	}
}
