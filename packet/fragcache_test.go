package packet

import (
	"sync"
	"testing"
	"time"
)

func fragPacket(id uint32, off int, more bool, sport uint16) *Packet {
	return &Packet{
		Key:   FlowKey{Src: MustParseAddr("10.0.0.1"), Dst: MustParseAddr("10.0.0.2"), SrcPort: sport, DstPort: 80, Proto: ProtoUDP, Family: IPv4},
		L4Off: map[bool]int{true: 34, false: 0}[off == 0],
		Frag:  FragInfo{ID: id, Offset: off, More: more},
	}
}

func TestFragCache(t *testing.T) {
	c := NewFragCache(1024, time.Second)
	now := int64(1e12)
	c.Add(fragPacket(7, 0, true, 5555), now)
	later := fragPacket(7, 1480, false, 0)
	if !c.Lookup(later, now+int64(time.Millisecond)) || later.Key.SrcPort != 5555 || later.Key.DstPort != 80 {
		t.Fatalf("lookup: %+v", later.Key)
	}
	other := fragPacket(8, 1480, false, 0)
	if c.Lookup(other, now) {
		t.Fatal("other id matched")
	}
	other = fragPacket(7, 1480, false, 0)
	other.Key.Proto = ProtoTCP
	if c.Lookup(other, now) {
		t.Fatal("other protocol matched")
	}
	if c.Lookup(fragPacket(7, 1480, false, 0), now+int64(2*time.Second)) {
		t.Fatal("expired entry matched")
	}
	if c.Lookup(fragPacket(7, 0, true, 0), now) {
		t.Fatal("first fragment looked up")
	}
	c.Add(fragPacket(9, 1480, true, 1), now) // not a first fragment: ignored
	if c.Lookup(fragPacket(9, 2960, false, 0), now) {
		t.Fatal("later fragment added")
	}
}

func TestFragCacheConcurrent(t *testing.T) {
	c := NewFragCache(64, time.Minute)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20000 {
				id := uint32(i % 300)
				sport := uint16(id) + 1000
				if g%2 == 0 {
					c.Add(fragPacket(id, 0, true, sport), 1e9)
					continue
				}
				p := fragPacket(id, 8, false, 0)
				if c.Lookup(p, 1e9) && p.Key.SrcPort != sport {
					t.Errorf("id %d: port %d, want %d (torn entry)", id, p.Key.SrcPort, sport)
					return
				}
			}
		}()
	}
	wg.Wait()
}
