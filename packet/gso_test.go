package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestSegmentProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	out := frames(200, 2048, 64)
	for range cases(t) {
		s := randSpec(r)
		if s.proto == ProtoSCTP {
			s.proto = ProtoTCP
		}
		s.payload = make([]byte, r.IntN(20000))
		for i := range s.payload {
			s.payload[i] = byte(r.Uint32())
		}
		orig := s.build(t)
		p := mustParse(t, orig)
		size := 1 + r.IntN(1460)
		if r.IntN(4) > 0 {
			size = 500 + r.IntN(1000)
		}
		size = max(size, len(s.payload)/150+1)
		partial := !s.udpNoCsum && r.IntN(2) == 0
		if partial {
			h := makePartial(orig, p)
			h.GSOType, h.GSOSize = GSOTCPv4, uint16(size)
			switch {
			case s.proto == ProtoUDP:
				h.GSOType = GSOUDPL4
			case s.fam == IPv6:
				h.GSOType = GSOTCPv6
			}
			if res := p.SetOffload(&h); res != DropNone {
				t.Fatal(res)
			}
		}
		n, res := Segment(out, orig, p, size)
		if res != DropNone {
			t.Fatal(res)
		}
		if want := max(1, (len(s.payload)+size-1)/size); n != want {
			t.Fatalf("%d segments, want %d", n, want)
		}
		var data []byte
		for i := range n {
			seg := out[i].Bytes()
			d := mustDecode(t, seg, 0)
			sp, dp, pl := l4Layer(d)
			src, dst, ttl := ipAddrs(d)
			if sp != s.sport || dp != s.dport || src != s.src || dst != s.dst || ttl != s.ttl {
				t.Fatal("addresses")
			}
			if len(pl) > size || (i < n-1 && len(pl) != size) {
				t.Fatalf("segment %d payload %d, size %d", i, len(pl), size)
			}
			if d.ip4 != nil && d.ip4.Id != uint16(s.seq)+uint16(i) {
				t.Fatalf("IP id %d", d.ip4.Id)
			}
			if d.tcp != nil {
				if d.tcp.Seq != s.seq+uint32(len(data)) {
					t.Fatalf("seq %d", d.tcp.Seq)
				}
				f := seg[mustParse(t, seg).L4Off+13]
				want := s.tcpFlags
				if i < n-1 {
					want &^= TCPFin | TCPPsh
				}
				if i > 0 {
					want &^= TCPCwr
				}
				if f != want {
					t.Fatalf("segment %d flags %#x, want %#x", i, f, want)
				}
			}
			if d.udp != nil && s.udpNoCsum != (d.udp.Checksum == 0) {
				t.Fatalf("UDP checksum %#x", d.udp.Checksum)
			}
			data = append(data, pl...)
		}
		if !bytes.Equal(data, s.payload) {
			t.Fatal("payload")
		}
	}
}
