package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// refChecksum is RFC 1071 with a plain 16-bit loop, independent of sum.
func refChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for range 20000 {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = byte(r.Uint32())
			if r.IntN(3) == 0 {
				b[i] = 0xff
			}
		}
		if Checksum(b) != refChecksum(b) {
			t.Fatalf("Checksum(%x) = %#x, want %#x", b, Checksum(b), refChecksum(b))
		}
	}
}

// Incremental updates (RFC 1624) agree with recomputation, for any field
// position and size, including all-ones and all-zero words.
func TestIncrementalMatchesRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for range 50000 {
		n := 8 + 2*r.IntN(40)
		b := make([]byte, n)
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = 0xff
			case 1:
				b[i] = 0
			default:
				b[i] = byte(r.Uint32())
			}
		}
		b[0], b[1] = 0, 0
		put16(b, refChecksum(b))
		at := 2 + 2*r.IntN((n-2)/2)
		l := min(n-at, 2*(1+r.IntN(8)))
		nw := make([]byte, l)
		for i := range nw {
			nw[i] = byte(r.Uint32())
			if r.IntN(3) == 0 {
				nw[i] = 0xff
			}
		}
		before := bytes.Clone(b)
		d := delta(b[at:at+l], nw)
		copy(b[at:], nw)
		applyDelta(b[0:2], d, false)
		c := bytes.Clone(b)
		c[0], c[1] = 0, 0
		if want := refChecksum(c); be16(b) != want && !(be16(b) == 0xffff && want == 0) && !(be16(b) == 0 && want == 0xffff) {
			t.Fatalf("incremental %#x, recomputed %#x\nbefore %x\nat %d new %x d %x", be16(b), want, before, at, nw, d)
		}
	}
}
