package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Fuzz targets: no input panics or reads out of bounds, and a transform
// applied to a parsed frame whose checksums were valid leaves them valid.
// The checksums are checked with refChecksum (a plain 16-bit loop) and
// hash/crc32, not with the package's own arithmetic.

// checksumsOK verifies the IPv4 header checksum and, for a whole packet,
// the transport checksum (TCP, UDP, SCTP, ICMP, ICMPv6).
func checksumsOK(frame []byte, p *Packet) bool { return checksumsOKOpt(frame, p, false) }

// checksumsOKOpt with zeroUDP6 accepts a zero UDP checksum over IPv6 (a
// GUE tunnel without --tun-csum, as the kernel sends it, RFC 6935).
func checksumsOKOpt(frame []byte, p *Packet, zeroUDP6 bool) bool {
	l3 := p.L3Off
	if p.Key.Family == IPv4 && refChecksum(frame[l3:l3+int(frame[l3]&0xf)*4]) != 0 {
		return false
	}
	if p.L4Off == 0 || p.Frag.IsFragment() {
		return true
	}
	seg := frame[p.L4Off:p.End]
	src, dst := p.Key.Src.bytes(p.Key.Family), p.Key.Dst.bytes(p.Key.Family)
	pseudo := func(proto uint8) []byte {
		b := append(append([]byte(nil), src...), dst...)
		return append(b, 0, proto, byte(len(seg)>>8), byte(len(seg)))
	}
	withPseudo := func(proto uint8) bool {
		b := append(pseudo(proto), seg...)
		if len(seg) > 0xffff {
			return true
		}
		return refChecksum(b) == 0
	}
	switch p.Key.Proto {
	case ProtoTCP:
		return withPseudo(ProtoTCP)
	case ProtoUDP:
		if (p.Key.Family == IPv4 || zeroUDP6) && seg[6]|seg[7] == 0 {
			return true
		}
		return withPseudo(ProtoUDP)
	case ProtoSCTP:
		b := bytes.Clone(seg)
		want := binary.LittleEndian.Uint32(b[8:])
		clear(b[8:12])
		return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) == want
	case ProtoICMP:
		return p.Key.Family != IPv4 || refChecksum(seg) == 0
	case ProtoICMPv6:
		return p.Key.Family != IPv6 || withPseudo(ProtoICMPv6)
	}
	return true
}

// checkOffsets verifies a parsed packet's offsets are within the frame.
func checkOffsets(t *testing.T, frame []byte, p *Packet) {
	if !p.IsIP() {
		return
	}
	ok := p.L3Off < p.End && p.End <= len(frame) &&
		(p.L4Off == 0 || (p.L3Off < p.L4Off && p.L4Off <= p.End)) &&
		(p.PayloadOff == 0 || (p.L4Off <= p.PayloadOff && p.PayloadOff <= p.End))
	if p.IsICMPError() {
		ok = ok && p.Inner.L3Off > p.L4Off && p.Inner.L3Off <= p.End && (p.Inner.L4Off == 0 || p.Inner.L4Off <= p.End)
	}
	if !ok {
		t.Fatalf("offsets out of the frame (%d bytes): %+v", len(frame), p)
	}
}

// parsedValid parses a copy of data; ok when it is an IP packet with
// valid checksums.
func parsedValid(data []byte) ([]byte, *Packet, bool) {
	frame := bytes.Clone(data)
	var p Packet
	if Parse(frame, &p) != DropNone || !p.IsIP() || !checksumsOK(frame, &p) {
		return frame, &p, false
	}
	return frame, &p, true
}

// reparse checks that out parses and keeps valid checksums.
func reparse(t *testing.T, what string, out []byte) *Packet {
	t.Helper()
	return reparseOpt(t, what, out, false)
}

func reparseOpt(t *testing.T, what string, out []byte, zeroUDP6 bool) *Packet {
	t.Helper()
	var q Packet
	if r := Parse(out, &q); r != DropNone {
		t.Fatalf("%s output does not parse: %v\n%x", what, r, out)
	}
	checkOffsets(t, out, &q)
	if !checksumsOKOpt(out, &q, zeroUDP6) {
		t.Fatalf("%s output has a bad checksum\n%x", what, out)
	}
	return &q
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		r := Parse(data, &p)
		if r >= NumDropReasons {
			t.Fatalf("reason %d", r)
		}
		if r == DropNone {
			checkOffsets(t, data, &p)
			if k := p.Key.Reverse(); k.Reverse() != p.Key {
				t.Fatal("Reverse")
			}
			_ = p.PayloadLen()
		}
	})
}

func FuzzNAT(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, out bool, port uint16) {
		frame, p, ok := parsedValid(data)
		addr := MustParseAddr("10.99.0.1")
		if p.Key.Family == IPv6 {
			addr = MustParseAddr("fd00::99")
		}
		var r DropReason
		if out {
			r = NATSource(frame, p, addr, port)
		} else {
			r = NATDest(frame, p, addr, port)
		}
		if r != DropNone || !ok {
			return
		}
		q := reparse(t, "NAT", frame)
		if (out && q.Key.Src != addr) || (!out && q.Key.Dst != addr) {
			t.Fatal("address not rewritten")
		}
	})
}

func FuzzDirectRoute(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, p, ok := parsedValid(data)
		if DirectRoute(frame, p, macReal, macDirector) != DropNone || !ok {
			return
		}
		reparse(t, "DR", frame)
	})
}

func FuzzEncap(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, typ uint8, flags uint8, mtu uint16) {
		frame, p, ok := parsedValid(data)
		tun := Tunnel{Type: TunnelType(typ % 3), Src: gDir, Dst: gReal, Port: 6080, Csum: flags&1 != 0, RemCsum: flags&2 != 0, MTU: int(mtu), DstMAC: macReal, SrcMAC: macDirector}
		if flags&4 != 0 {
			tun.Src, tun.Dst = gDir6, gReal6
		}
		if flags&8 != 0 {
			tun.VLAN = 7
		}
		fr := inFrame(frame)
		var inner []byte
		if ok {
			inner = bytes.Clone(frame[p.L3Off:p.End])
		}
		if Encap(&fr, p, &tun, 1) != DropNone || !ok {
			return
		}
		out := fr.Bytes()
		q := reparseOpt(t, "Encap", out, tun.Type == TunnelGUE)
		if q.Key.Src != tun.Src || q.Key.Dst != tun.Dst {
			t.Fatal("outer addresses")
		}
		got := out[p.L3Off:p.End]
		fixed := IPv6HeaderLen / 5 // after the hop limit
		if p.Key.Family == IPv4 {
			fixed = 12 // after the TTL and header checksum
		}
		if len(got) != len(inner) || !bytes.Equal(got[fixed:], inner[fixed:]) {
			t.Fatal("inner packet changed beyond the TTL")
		}
	})
}

func FuzzTranslateICMP(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, toClient bool, port uint16) {
		frame, p, ok := parsedValid(data)
		addr := MustParseAddr("10.99.0.1")
		if p.Key.Family == IPv6 {
			addr = MustParseAddr("fd00::99")
		}
		dir := ToRealServer
		if toClient {
			dir = ToClient
		}
		if TranslateICMP(frame, p, dir, addr, port) != DropNone || !ok {
			return
		}
		q := reparse(t, "TranslateICMP", frame)
		if !q.IsICMPError() {
			t.Fatal("no longer an ICMP error")
		}
	})
}

func FuzzBuildICMPError(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, tooBig bool, mtu uint16) {
		var p Packet
		if Parse(data, &p) != DropNone {
			return
		}
		src := gDir
		if p.Key.Family == IPv6 {
			src = gDir6
		}
		buf := make([]byte, 1600)
		var n int
		var r DropReason
		if tooBig {
			n, r = BuildFragNeeded(buf, data, &p, src, macDirector, int(mtu))
		} else {
			n, r = BuildTimeExceeded(buf, data, &p, src, macDirector)
		}
		if r != DropNone {
			return
		}
		q := reparse(t, "ICMP error", buf[:n])
		if !q.IsICMPError() && !(q.Key.Family == IPv4 && p.IPLen() < 28) {
			// a quote too short to parse is still a valid ICMP error
			if q.Key.Proto != protoICMPOf(q.Key.Family) {
				t.Fatal("not ICMP")
			}
		}
	})
}

func FuzzFragment(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, mtu uint16, id uint32) {
		out := frames(48, 1600, 8)
		n, r := Fragment(out, data, int(mtu), id)
		if r != DropNone {
			return
		}
		for i := range n {
			var q Packet
			if r := Parse(out[i].Bytes(), &q); r != DropNone && r != DropBadFragment {
				// the input may have been garbage beyond its IP header; a
				// fragment of a valid packet parses
				var p Packet
				if Parse(data, &p) == DropNone && p.IsIP() && p.IPLen() > int(mtu) {
					t.Fatalf("fragment %d does not parse: %v", i, r)
				}
			}
		}
	})
}

func FuzzSegment(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		frame, p, ok := parsedValid(data)
		out := frames(64, 2048, 0)
		n, r := Segment(out, frame, p, int(size))
		if r != DropNone || !ok {
			return
		}
		for i := range n {
			reparse(t, "Segment", out[i].Bytes())
		}
	})
}

func FuzzVnet(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var h VnetHeader
		if h.Decode(data) != DropNone {
			return
		}
		frame := bytes.Clone(data[VnetHeaderLen:])
		var p Packet
		if Parse(frame, &p) != DropNone || p.SetOffload(&h) != DropNone {
			return
		}
		_ = p.VnetHeader()
		addr := MustParseAddr("10.99.0.1")
		if p.Key.Family == IPv6 {
			addr = MustParseAddr("fd00::99")
		}
		// a partial field holding the pseudo-header sum completes into a
		// valid checksum (any other value is garbage in, garbage out)
		honest := p.ChecksumPartial() && p.Key.Proto != ProtoSCTP
		if honest {
			c := bytes.Clone(frame)
			makePartial(c, &p)
			honest = bytes.Equal(c, frame)
		}
		RewriteDest(frame, &p, addr, 1)
		if CompleteChecksum(frame, &p) != DropNone || p.ChecksumPartial() {
			t.Fatal("CompleteChecksum")
		}
		if honest && !checksumsOK(frame, &p) {
			t.Fatalf("completed checksum invalid\n%x", frame)
		}
	})
}

func FuzzNeighborDiscovery(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		var ns NeighborSolicitation
		var na NeighborAdvert
		if Parse(data, &p) != DropNone {
			return
		}
		ParseNeighborAdvert(data, &p, &na) // whatever the frame: no panic
		if ParseNeighborSolicitation(data, &p, &ns) != DropNone {
			return
		}
		buf := make([]byte, 256)
		n, r := BuildNeighborAdvert(buf, data, &p, &ns, macDirector)
		if r != DropNone {
			t.Fatal(r)
		}
		q := reparse(t, "NA", buf[:n])
		if q.ICMPType != ICMPv6NeighborAdv || q.Key.Src != ns.Target {
			t.Fatal("advert")
		}
		if r := ParseNeighborAdvert(buf[:n], q, &na); r != DropNone || na.Target != ns.Target || na.TgtLLA != macDirector {
			t.Fatalf("own advert refused: %v", r)
		}
	})
}

func FuzzARP(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		if Parse(data, &p) != DropNone || !p.IsARP() {
			return
		}
		buf := make([]byte, 128)
		n, r := BuildARPReply(buf, data, &p, macDirector)
		if r != DropNone {
			return
		}
		var q Packet
		if Parse(buf[:n], &q) != DropNone || !q.IsARP() || q.ARP(buf[:n]).Op() != ARPReply {
			t.Fatal("reply")
		}
	})
}

// fuzzSeeds are the committed seed corpora: generated frames of every
// kind, with the targets' extra arguments.
func fuzzSeeds(t *testing.T) map[string][][]any {
	r := rand.New(rand.NewPCG(99, 100))
	var frames [][]byte
	for range 24 {
		s := randSpec(r)
		s.payload = s.payload[:min(len(s.payload), 200)]
		frames = append(frames, s.build(t))
	}
	var icmps, ndps, vnets, bigs [][]byte
	for _, g := range goldens(t) {
		for _, fr := range g {
			var p Packet
			if Parse(fr, &p) != DropNone {
				continue
			}
			switch {
			case p.IsICMPError():
				icmps = append(icmps, fr)
			case p.ICMPType == ICMPv6NeighborSolic && p.Key.Proto == ProtoICMPv6:
				ndps = append(ndps, fr)
			case p.IsARP():
				ndps = append(ndps, fr)
			}
			if p.IPLen() > 1400 {
				bigs = append(bigs, fr)
				continue
			}
			frames = append(frames, fr)
		}
	}
	for _, fr := range frames[:12] {
		var p Packet
		Parse(fr, &p)
		if p.Key.Proto != ProtoTCP && p.Key.Proto != ProtoUDP {
			continue
		}
		c := bytes.Clone(fr)
		h := makePartial(c, &p)
		var hb [VnetHeaderLen]byte
		h.Encode(hb[:])
		vnets = append(vnets, append(hb[:], c...))
	}
	seeds := map[string][][]any{}
	for i, fr := range frames {
		seeds["FuzzParse"] = append(seeds["FuzzParse"], []any{fr})
		seeds["FuzzNAT"] = append(seeds["FuzzNAT"], []any{fr, i%2 == 0, uint16(8080)})
		seeds["FuzzDirectRoute"] = append(seeds["FuzzDirectRoute"], []any{fr})
		seeds["FuzzEncap"] = append(seeds["FuzzEncap"], []any{fr, uint8(i % 3), uint8(i % 16), uint16(1500)})
		seeds["FuzzBuildICMPError"] = append(seeds["FuzzBuildICMPError"], []any{fr, i%2 == 0, uint16(1400)})
		seeds["FuzzSegment"] = append(seeds["FuzzSegment"], []any{fr, uint16(100 + 50*i)})
		seeds["FuzzFragment"] = append(seeds["FuzzFragment"], []any{fr, uint16(576), uint32(i)})
	}
	for _, fr := range bigs {
		seeds["FuzzFragment"] = append(seeds["FuzzFragment"], []any{fr, uint16(1280), uint32(7)})
	}
	for i, fr := range icmps {
		seeds["FuzzTranslateICMP"] = append(seeds["FuzzTranslateICMP"], []any{fr, i%2 == 0, uint16(80)})
		seeds["FuzzParse"] = append(seeds["FuzzParse"], []any{fr})
	}
	for _, fr := range ndps {
		seeds["FuzzNeighborDiscovery"] = append(seeds["FuzzNeighborDiscovery"], []any{fr})
		seeds["FuzzARP"] = append(seeds["FuzzARP"], []any{fr})
	}
	for _, v := range vnets {
		seeds["FuzzVnet"] = append(seeds["FuzzVnet"], []any{v})
	}
	return seeds
}

// TestFuzzSeeds writes the seed corpora with -update; without it, it
// checks they exist.
func TestFuzzSeeds(t *testing.T) {
	for name, list := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", name)
		if !*update {
			if m, _ := filepath.Glob(filepath.Join(dir, "seed-*")); len(m) == 0 {
				t.Errorf("%s: no seed corpus (run go test -run TestFuzzSeeds -update)", dir)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, args := range list {
			var b bytes.Buffer
			b.WriteString("go test fuzz v1\n")
			for _, a := range args {
				switch v := a.(type) {
				case []byte:
					fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
				default:
					fmt.Fprintf(&b, "%T(%v)\n", v, v)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
