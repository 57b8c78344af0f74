package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

const headroom = 128

// inFrame copies frame into a buffer with headroom.
func inFrame(frame []byte) Frame {
	buf := make([]byte, headroom+len(frame)+64)
	copy(buf[headroom:], frame)
	return FrameOver(buf, headroom, len(frame))
}

func randTunnel(r *rand.Rand) Tunnel {
	t := Tunnel{Type: TunnelType(r.IntN(3)), DstMAC: macReal, SrcMAC: macDirector}
	fam := IPv4
	if r.IntN(2) == 1 {
		fam = IPv6
	}
	t.Src, t.Dst = randAddr(r, fam), randAddr(r, fam)
	t.Port = uint16(1 + r.IntN(65535))
	t.Csum = r.IntN(2) == 1
	t.RemCsum = t.Type == TunnelGUE && r.IntN(3) == 0
	if r.IntN(4) == 0 {
		t.VLAN = uint16(1 + r.IntN(4094))
	}
	return t
}

func TestEncapProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range cases(t) {
		s := randSpec(r)
		tun := randTunnel(r)
		partial := s.proto != ProtoSCTP && !s.udpNoCsum && r.IntN(3) == 0
		orig := s.build(t)
		p := mustParse(t, orig)
		f := inFrame(orig)
		if partial {
			h := makePartial(f.Bytes(), p)
			if res := p.SetOffload(&h); res != DropNone {
				t.Fatal(res)
			}
		}
		inner := bytes.Clone(f.Bytes()[p.L3Off:p.End])
		id := uint16(i)
		if res := Encap(&f, p, &tun, id); res != DropNone {
			t.Fatalf("Encap: %v", res)
		}
		out := f.Bytes()
		if partial {
			if !p.ChecksumPartial() {
				t.Fatal("partial lost")
			}
			// what the kernel or NIC does with the virtio-net header
			if res := CompleteChecksum(out, p); res != DropNone {
				t.Fatal(res)
			}
		}
		remcsum := tun.Type == TunnelGUE && tun.RemCsum && partial
		gp := tun.Port
		if remcsum {
			gp = 0 // the inner checksum is left for the receiver: checked below
		}
		d := mustDecode(t, out, gp)
		if remcsum {
			checkRemcsum(t, out, p, d)
			continue
		}
		if MAC(d.eth.DstMAC) != macReal || MAC(d.eth.SrcMAC) != macDirector {
			t.Fatal("MACs")
		}
		src, dst, ttl := ipAddrs(d)
		if src != tun.Src || dst != tun.Dst || ttl != s.ttl-1 {
			t.Fatalf("outer %v > %v ttl %d", src, dst, ttl)
		}
		wantTOS := s.tos
		if wantTOS&3 == 3 {
			wantTOS = wantTOS&^3 | 2
		}
		if d.ip4 != nil {
			df := d.ip4.Flags&2 != 0
			if d.ip4.TOS != wantTOS || df != (s.fam == IPv4 && s.df) || d.ip4.Id != id || d.ip4.IHL != 5 {
				t.Fatalf("outer IPv4 tos %#x df %v id %d", d.ip4.TOS, df, d.ip4.Id)
			}
		} else if d.ip6.TrafficClass != wantTOS || d.ip6.FlowLabel != 0 {
			t.Fatalf("outer IPv6 tc %#x", d.ip6.TrafficClass)
		}
		if d.inner == nil {
			t.Logf("tunnel %+v partial %v", tun, partial)
			t.Fatal("no inner packet")
		}
		switch tun.Type {
		case TunnelGUE:
			if d.udp == nil || uint16(d.udp.DstPort) != tun.Port || d.udp.SrcPort < srcPortMin || d.udp.SrcPort > srcPortMax {
				t.Fatalf("GUE UDP %+v", d.udp)
			}
			wantCsum := tun.Csum || tun.RemCsum
			if (d.udp.Checksum != 0) != wantCsum {
				t.Fatalf("GUE UDP checksum %#x, want on=%v", d.udp.Checksum, wantCsum)
			}
			wantProto := uint8(ProtoIPIP)
			if s.fam == IPv6 {
				wantProto = ProtoIPv6
			}
			if d.gue[0]>>6 != 0 || d.gue[1] != wantProto {
				t.Fatalf("GUE header %x", d.gue)
			}
			if tun.RemCsum && partial {
				if len(d.gue) != 12 || be16(d.gue[2:]) != gueFlagPriv || be32(d.gue[4:]) != guePrivRemcsum {
					t.Fatalf("GUE remcsum header %x", d.gue)
				}
				start := int(be16(d.gue[8:]))
				if start != p.L4Off-p.L3Off || int(be16(d.gue[10:])) != start+int(makePartial(bytes.Clone(out), p).CsumOffset) {
					t.Fatalf("remcsum option %x", d.gue)
				}
			} else if len(d.gue) != 4 {
				t.Fatalf("GUE header %x", d.gue)
			}
		case TunnelGRE:
			if d.gre == nil || d.gre.ChecksumPresent != tun.Csum || uint16(d.gre.Protocol) != etherTypeOf(s.fam) {
				t.Fatalf("GRE %+v", d.gre)
			}
		}
		// the inner packet is the original but for the TTL (and, with
		// remcsum, its still partial checksum)
		got := out[p.L3Off:p.End]
		if tun.RemCsum && partial && tun.Type == TunnelGUE {
			continue // the inner checksum is left for the receiver
		}
		changedOnly(t, inner, got, [2]int{7, 12}, [2]int{p.L4Off - p.L3Off + 6, p.L4Off - p.L3Off + 18})
		isrc, idst, ittl := ipAddrs(d.inner)
		isport, idport, _ := l4Layer(d.inner)
		if isrc != s.src || idst != s.dst || ittl != s.ttl-1 || isport != s.sport || idport != s.dport {
			t.Fatalf("inner %v:%d > %v:%d ttl %d", isrc, isport, idst, idport, ittl)
		}
	}
}

func etherTypeOf(f Family) uint16 {
	if f == IPv6 {
		return EtherTypeIPv6
	}
	return EtherTypeIPv4
}

func TestEncapMTU(t *testing.T) {
	s := genSpec{fam: IPv4, proto: ProtoTCP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), sport: 1, dport: 2, ttl: 64, df: true, payload: make([]byte, 1460)}
	tun := Tunnel{Type: TunnelGUE, Src: MustParseAddr("10.1.0.1"), Dst: MustParseAddr("10.1.0.2"), Port: 6080, MTU: 1500}
	orig := s.build(t)
	p := mustParse(t, orig)
	f := inFrame(orig)
	if r := Encap(&f, p, &tun, 1); r != DropTooBig || !bytes.Equal(f.Bytes(), orig) {
		t.Fatalf("DF too big: %v", r)
	}
	if m := tun.InnerMTU(p); m != 1500-20-8-4 {
		t.Fatalf("InnerMTU %d", m)
	}
	// no DF: encapsulated with DF clear, then fragmented
	s.df = false
	orig = s.build(t)
	p = mustParse(t, orig)
	f = inFrame(orig)
	if r := Encap(&f, p, &tun, 77); r != DropNone || !tun.NeedsFragment(&f) {
		t.Fatalf("no DF: %v", r)
	}
	outs := make([]Frame, 4)
	for i := range outs {
		outs[i] = NewFrame(make([]byte, 2048), 0)
	}
	n, r := Fragment(outs, f.Bytes(), tun.MTU, 77)
	if r != DropNone || n != 2 {
		t.Fatalf("Fragment: %d %v", n, r)
	}
	tun.MTU = 80
	if r := Encap(&f, p, &tun, 1); r != DropMTUTooSmall {
		t.Fatalf("tiny MTU: %v", r)
	}
	// no headroom
	g := FrameOver(append([]byte(nil), orig...), 0, len(orig))
	tun.MTU = 0
	if r := Encap(&g, mustParse(t, orig), &tun, 1); r != DropNoHeadroom {
		t.Fatalf("headroom: %v", r)
	}
	// GSO super-frames are segmented first
	p = mustParse(t, orig)
	h := VnetHeader{GSOType: GSOTCPv4, GSOSize: 500}
	if r := p.SetOffload(&h); r != DropNone {
		t.Fatal(r)
	}
	f = inFrame(orig)
	if r := Encap(&f, p, &tun, 1); r != DropGSO {
		t.Fatalf("GSO: %v", r)
	}
}

// checkRemcsum checks a GUE remote checksum offload packet as its receiver
// would: the option says where the inner checksum starts and lies; the
// inner checksum is completed there and the inner packet must verify.
func checkRemcsum(t *testing.T, out []byte, p *Packet, d *decoded) {
	t.Helper()
	g := d.udp.Payload
	if len(g) < 12 || g[0]&0x1f != 2 || be16(g[2:]) != gueFlagPriv || be32(g[4:]) != guePrivRemcsum {
		t.Fatalf("GUE remcsum header %x", g[:12])
	}
	inner := bytes.Clone(g[12:])
	start, at := int(be16(g[8:])), int(be16(g[10:]))
	if start != p.L4Off-p.L3Off || at-start != 16 && at-start != 6 {
		t.Fatalf("remcsum option start %d offset %d", start, at-start)
	}
	var s uint32
	for i := start; i+1 < len(inner); i += 2 {
		s += uint32(inner[i])<<8 | uint32(inner[i+1])
	}
	if (len(inner)-start)%2 == 1 {
		s += uint32(inner[len(inner)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	put16(inner[at:], ^uint16(s))
	lt := etherTypeOf(Family(inner[0] >> 4))
	frame := append(append(bytes.Clone(out[:12]), byte(lt>>8), byte(lt)), inner...)
	mustDecode(t, frame, 0)
}
