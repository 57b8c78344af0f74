package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func frames(n, size, headroom int) []Frame {
	out := make([]Frame, n)
	for i := range out {
		out[i] = NewFrame(make([]byte, size), headroom)
	}
	return out
}

// Fragments reassemble (by offset) into the original packet, each within
// the MTU, with valid headers.
func TestFragmentProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	out := frames(64, 2048, 16)
	for range cases(t) {
		s := randSpec(r)
		s.df = false
		s.payload = make([]byte, 100+r.IntN(1400))
		orig := s.build(t)
		p := mustParse(t, orig)
		mtu := 68 + r.IntN(1500)
		if s.fam == IPv6 {
			mtu = 1280 - r.IntN(1100)
		}
		id := r.Uint32()
		n, res := Fragment(out, orig, mtu, id)
		if res != DropNone {
			t.Fatalf("Fragment(mtu %d): %v", mtu, res)
		}
		whole := p.IPLen() <= mtu
		if whole != (n == 1) {
			t.Fatalf("%d fragments of %d bytes at mtu %d", n, p.IPLen(), mtu)
		}
		var data []byte
		var hdr []byte
		for i := range n {
			f := out[i].Bytes()
			if whole {
				if !bytes.Equal(f, orig[:p.End]) {
					t.Fatal("whole copy")
				}
				continue
			}
			d := mustDecodeFrag(t, f)
			if len(f)-p.L3Off > mtu {
				t.Fatalf("fragment %d bytes over mtu %d", len(f)-p.L3Off, mtu)
			}
			var off int
			var more bool
			var pl []byte
			if d.ip4 != nil {
				off, more, pl = int(d.ip4.FragOffset)*8, d.ip4.Flags&layers.IPv4MoreFragments != 0, d.ip4.Payload
				if d.ip4.Id != uint16(id) || d.ip4.Flags&layers.IPv4DontFragment != 0 {
					t.Fatalf("id %d flags %v", d.ip4.Id, d.ip4.Flags)
				}
				if i == 0 {
					hdr = bytes.Clone(f[p.L3Off : p.L3Off+int(d.ip4.IHL)*4])
				} else if i > 0 && s.ipOptions && f[p.L3Off+20+4] != 1 {
					t.Fatal("record route copied into a later fragment")
				}
			} else {
				fr := d.pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
				off, more, pl = int(fr.FragmentOffset)*8, fr.MoreFragments, fr.Payload
				if fr.Identification != id {
					t.Fatal("id")
				}
			}
			if off != len(data) || more != (i < n-1) {
				t.Fatalf("fragment %d at %d (have %d) more %v", i, off, len(data), more)
			}
			data = append(data, pl...)
		}
		if whole {
			continue
		}
		// the fragmentable part, reassembled
		start := p.L3Off + IPv4HeaderLen
		if s.fam == IPv4 {
			start = p.L3Off + len(hdr)
		} else {
			start = p.L3Off + IPv6HeaderLen
		}
		if !bytes.Equal(data, orig[start:p.End]) {
			t.Fatalf("reassembled %d bytes differ from %d", len(data), p.End-start)
		}
	}
	s := genSpec{fam: IPv4, proto: ProtoUDP, src: MustParseAddr("10.0.0.1"), dst: MustParseAddr("10.0.0.2"), ttl: 9, df: true, payload: make([]byte, 1000)}
	if _, res := Fragment(out, s.build(t), 576, 1); res != DropDontFragment {
		t.Fatalf("DF: %v", res)
	}
}

func mustDecodeFrag(t *testing.T, f []byte) *decoded {
	t.Helper()
	pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.DecodeOptions{})
	d := &decoded{pkt: pkt}
	if l := pkt.Layer(layers.LayerTypeIPv4); l != nil {
		d.ip4 = l.(*layers.IPv4)
		if err, r := d.ip4.VerifyChecksum(); err != nil || !r.Valid {
			t.Fatal("fragment header checksum")
		}
		if int(d.ip4.Length) != len(d.ip4.Contents)+len(d.ip4.Payload) {
			t.Fatal("fragment length")
		}
	} else if pkt.Layer(layers.LayerTypeIPv6Fragment) == nil {
		t.Fatalf("no fragment header\n%s", pkt.Dump())
	}
	return d
}
