package tundecap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzDecap feeds arbitrary bytes to every parser (via picks which) and
// checks that they never panic, never write to the packet, and that what
// they accept is a well-formed inner packet inside the buffer. The seeds
// are the table of TestDecap; testdata/fuzz/FuzzDecap holds the corpus.
func FuzzDecap(f *testing.F) {
	for _, c := range decapCases() {
		f.Add(uint8(c.via), c.next, c.pkt)
	}
	f.Fuzz(func(t *testing.T, v uint8, next uint8, pkt []byte) {
		v %= uint8(numVias)
		orig := append([]byte(nil), pkt...)
		in, err := decap(via(v), next, pkt)
		if !bytes.Equal(orig, pkt) {
			t.Fatal("the packet was modified")
		}
		if err != nil {
			var r DropReason
			if !errors.As(err, &r) || r == 0 || r >= numDropReasons {
				t.Fatalf("error %v is no drop reason", err)
			}
			if in != (Inner{}) {
				t.Fatalf("a drop returned %+v", in)
			}
			return
		}
		checkInner(t, pkt, in)
		// an IPv4 tunnel packet's payload decodes the same way from an
		// IPv6 raw socket
		if via(v) == viaIPv4 {
			ihl := int(pkt[0]&0x0f) * 4
			total := int(binary.BigEndian.Uint16(pkt[2:]))
			in6, err := DecapIPv6Payload(pkt[9], pkt[ihl:total])
			if err != nil || in6.shift(ihl) != in {
				t.Fatalf("as an IPv6 payload: %+v %v, as IPv4: %+v", in6, err, in)
			}
		}
	})
}

func checkInner(t *testing.T, pkt []byte, in Inner) {
	t.Helper()
	if in.Start < 0 || in.Start > in.End || in.End > len(pkt) {
		t.Fatalf("inner %d:%d outside the %d-byte packet", in.Start, in.End, len(pkt))
	}
	p := pkt[in.Start:in.End]
	if in.IPv6 {
		if len(p) < 40 || p[0]>>4 != 6 || 40+int(binary.BigEndian.Uint16(p[4:])) != len(p) {
			t.Fatalf("bad inner IPv6 packet %x", p)
		}
	} else {
		if len(p) < 20 || p[0]>>4 != 4 || int(binary.BigEndian.Uint16(p[2:])) != len(p) || int(p[0]&0x0f)*4 > len(p) || Checksum(p[:int(p[0]&0x0f)*4]) != 0 {
			t.Fatalf("bad inner IPv4 packet %x", p)
		}
	}
	if in.Partial && int(in.CsumStart)+int(in.CsumOffset)+2 > len(p) {
		t.Fatalf("checksum field %d+%d beyond the %d-byte inner packet", in.CsumStart, in.CsumOffset, len(p))
	}
}
