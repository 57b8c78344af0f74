//go:build linux

package fastpath

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"
)

func open(t *testing.T) *FastPath {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs")
	}
	fp, err := Open(1024)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Close() })
	return fp
}

// The verifier accepts both programs, and entries go in, are walked with
// their counters, taken out one by one and drained.
func TestOpenAddWalk(t *testing.T) {
	fp := open(t)
	// the error count reads per CPU (Errors sums it)
	var per []uint64
	if err := fp.errs.Lookup(uint32(0), &per); err != nil || len(per) == 0 || fp.Errors() != 0 {
		t.Fatalf("error count: %v %v, Errors %d", per, err, fp.Errors())
	}
	k := Key{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.100"), SrcPort: 40000, DstPort: 80, Proto: 6}
	r := Rewrite{Src: k.Src, Dst: netip.MustParseAddr("10.1.0.2"), SrcPort: 40000, DstPort: 8080, Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	k2, k3 := k, k
	k2.SrcPort++
	k3.SrcPort += 2
	for _, key := range []Key{k, k2, k3} {
		if err := fp.Add(key, r); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (n int) {
		if err := fp.Walk(func(got Key, c Counters) {
			n++
			if got != k && got != k2 && got != k3 {
				t.Errorf("walk: key %+v", got)
			}
			if c.Timeout != time.Minute || c.Deadline < Now() || c.Packets != 0 {
				t.Errorf("walk: counters %+v", c)
			}
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("walked %d entries, want 3", n)
	}
	if c, ok := fp.Take(k2); !ok || c.Timeout != time.Minute {
		t.Fatalf("take: %+v %v", c, ok)
	}
	if _, ok := fp.Take(k2); ok {
		t.Fatal("took a missing entry")
	}
	if n := count(); n != 2 {
		t.Fatalf("after taking one: %d entries, want 2", n)
	}
	drained := map[Key]bool{}
	if err := fp.Drain(func(got Key, c Counters) { drained[got] = c.Timeout == time.Minute }); err != nil {
		t.Fatal(err)
	}
	if len(drained) != 2 || !drained[k] || !drained[k3] {
		t.Fatalf("drained %v, want %v and %v with their counters", drained, k, k3)
	}
	if n := count(); n != 0 {
		t.Fatalf("after draining: %d entries", n)
	}
	if err := fp.Add(Key{Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("::2"), Proto: 6}, r); err == nil {
		t.Fatal("an IPv6 key with an IPv4 rewrite was accepted")
	}
	if err := fp.Add(k, Rewrite{Src: k.Src, Dst: k.Dst, Ifindex: 1, MTU: 0, Timeout: time.Second}); err == nil {
		t.Fatal("an MTU of 0 was accepted")
	}
}

// frame builds an Ethernet + IPv4 or IPv6 + UDP (or TCP with flags)
// frame with valid checksums, TTL or hop limit 64.
func frame(src, dst netip.Addr, sport, dport uint16, proto uint8, flags byte, payload string) []byte {
	l3, l4len, field := 20, 8, 6
	if src.Is6() {
		l3 = 40
	}
	if proto == 6 {
		l4len, field = 20, 16
	}
	b := make([]byte, 14+l3+l4len+len(payload))
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 2})
	ip, l4 := b[14:14+l3], b[14+l3:]
	binary.BigEndian.PutUint16(l4[0:], sport)
	binary.BigEndian.PutUint16(l4[2:], dport)
	copy(l4[l4len:], payload)
	if proto == 6 {
		l4[12], l4[13] = 5<<4, flags
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	}
	// the pseudo-header: addresses, length, protocol
	ph := append(append(src.AsSlice(), dst.AsSlice()...), 0, 0, 0, 0, 0, 0, 0, proto)
	binary.BigEndian.PutUint32(ph[len(ph)-8:], uint32(len(l4)))
	if src.Is4() {
		b[12], b[13] = 0x08, 0x00
		ip[0], ip[8], ip[9] = 0x45, 64, proto
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+len(l4)))
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], ^csum(0, ip))
	} else {
		b[12], b[13] = 0x86, 0xdd
		ip[0], ip[6], ip[7] = 0x60, proto, 64
		binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
		copy(ip[8:], src.AsSlice())
		copy(ip[24:], dst.AsSlice())
	}
	binary.BigEndian.PutUint16(l4[field:], ^csum(csumPartial(0, ph), l4))
	return b
}

func csumPartial(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func csum(sum uint32, b []byte) uint16 {
	sum = csumPartial(sum, b)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// Delete removes entries of both families in batches, and a key with no
// entry among them does not stop the rest.
func TestDelete(t *testing.T) {
	fp := open(t)
	r4 := Rewrite{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.1.0.2"), Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	r6 := Rewrite{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00:1::2"), Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	var keys []Key
	for i := range 6 {
		r := r4
		if i%2 == 1 {
			r = r6
		}
		k := Key{Src: r.Src, Dst: r.Dst, SrcPort: uint16(40000 + i), DstPort: 80, Proto: 6}
		if err := fp.Add(k, r); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	missing := Key{Src: r4.Src, Dst: r4.Dst, SrcPort: 1, DstPort: 80, Proto: 6}
	del := append([]Key{keys[0], missing, keys[1]}, keys[2:5]...)
	if err := fp.Delete(del); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if _, ok := fp.Lookup(k); ok != (i == 5) {
			t.Errorf("key %d: entry there %v after Delete", i, ok)
		}
	}
}

// scheduleWithRing lets the program schedule service sk over slots
// (entries living a minute) and opens the SYN ring it records them in.
func scheduleWithRing(t *testing.T, fp *FastPath, sk SchedKey, replyMTU int, slots []Slot) *SYNRing {
	t.Helper()
	if err := fp.SetSchedule(sk, time.Minute, replyMTU, slots); err != nil {
		t.Fatal(err)
	}
	syns, err := fp.SYNRing()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syns.Close() })
	return syns
}

// run runs the program on frame f as an interface's ingress would.
func run(t *testing.T, fp *FastPath, f []byte) (int32, []byte) {
	t.Helper()
	ret, out, err := fp.Process(f)
	if err != nil {
		t.Fatal(err)
	}
	return ret, out
}

// taken says whether the program forwarded f (TC_ACT_REDIRECT) rather
// than leaving it to the stack and gvsd's rings (TCX_NEXT).
func taken(t *testing.T, fp *FastPath, f []byte) bool {
	t.Helper()
	switch ret, _ := run(t, fp, f); ret {
	case tcActRedirect:
		return true
	case tcxNext:
		return false
	default:
		t.Fatalf("the program returned %d for %x", ret, f)
		return false
	}
}

const tcActRedirect = 7

// The program on a NAT flow, IPv4 and IPv6, UDP and TCP: an offloaded
// packet is rewritten (TTL or hop limit, MACs, destination address and
// port with valid checksums) and redirected, byte for byte as expected;
// a SYN, FIN or RST retires the entry; an unknown flow, a packet too big
// for the path MTU and a TTL of 1 go on to the stack (gvsd's rings).
func TestProgramForwardsNAT(t *testing.T) {
	fp := open(t)
	for _, fam := range []struct {
		name            string
		client, vip, rs string
		ttlAt           int
		ipCsum          bool
		mtu             int
	}{
		{"ipv4", "10.0.1.2", "10.0.2.100", "10.0.2.11", 14 + 8, true, 100},
		{"ipv6", "fd00:1::2", "fd00:2::100", "fd00:2::11", 14 + 7, false, 120},
	} {
		client, vip, rs := netip.MustParseAddr(fam.client), netip.MustParseAddr(fam.vip), netip.MustParseAddr(fam.rs)
		for _, proto := range []uint8{17, 6} {
			name := fmt.Sprintf("%s proto %d", fam.name, proto)
			k := Key{Src: client, Dst: vip, SrcPort: 40000, DstPort: 80, Proto: proto}
			rw := Rewrite{Src: client, Dst: rs, SrcPort: 40000, DstPort: 8080, Ifindex: 7, MTU: fam.mtu, Timeout: time.Minute,
				DstMAC: [6]byte{2, 0, 0, 0, 0, 0x11}, SrcMAC: [6]byte{2, 0, 0, 0, 0, 0x99}}
			if err := fp.Add(k, rw); err != nil {
				t.Fatal(err)
			}
			pkt := frame(client, vip, 40000, 80, proto, 0x10, "hello")
			ret, out := run(t, fp, pkt)
			if ret != tcActRedirect {
				t.Fatalf("%s: the program returned %d for an offloaded packet, want TC_ACT_REDIRECT", name, ret)
			}
			want := frame(client, rs, 40000, 8080, proto, 0x10, "hello")
			copy(want[0:6], rw.DstMAC[:])
			copy(want[6:12], rw.SrcMAC[:])
			want[fam.ttlAt] = 63
			if fam.ipCsum {
				binary.BigEndian.PutUint16(want[14+10:], 0)
				binary.BigEndian.PutUint16(want[14+10:], ^csum(0, want[14:34]))
			}
			if string(out) != string(want) {
				t.Fatalf("%s: forwarded\n% x\nwant\n% x", name, out, want)
			}
			if c, _ := fp.Lookup(k); c.Packets != 1 || c.Bytes != uint64(len(pkt)-14) {
				t.Fatalf("%s: counters %+v", name, c)
			}
			ttl1 := append([]byte(nil), pkt...)
			ttl1[fam.ttlAt] = 1
			for what, f := range map[string][]byte{
				"too big": frame(client, vip, 40000, 80, proto, 0x10, string(make([]byte, 100))),
				"TTL 1":   ttl1, "unknown": frame(client, vip, 40001, 80, proto, 0x10, "hello"),
			} {
				if taken(t, fp, f) {
					t.Fatalf("%s: %s: the program took it", name, what)
				}
			}
			if proto == 6 {
				if taken(t, fp, frame(client, vip, 40000, 80, proto, 0x11, "")) {
					t.Fatalf("%s: a FIN was taken", name)
				}
				if c, ok := fp.Lookup(k); !ok || c.Deadline != 0 {
					t.Fatalf("%s: after a FIN the entry is %+v, %v; want retired (deadline 0)", name, c, ok)
				}
				if taken(t, fp, pkt) {
					t.Fatalf("%s: a retired entry still takes packets", name)
				}
			}
		}
	}
	n := 0
	fp.Walk(func(Key, Counters) { n++ })
	if n != 4 {
		t.Fatalf("walked %d entries, want 4", n)
	}
}

// BenchmarkWalk reads 100,000 entries per op (what a sweep costs gvsd
// with that many offloaded flows).
func BenchmarkWalk(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to load BPF programs")
	}
	fp, err := Open(1 << 17)
	if err != nil {
		b.Fatal(err)
	}
	defer fp.Close()
	const n = 100_000
	rw := Rewrite{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.1.0.1"), Ifindex: 1, MTU: 1500, Timeout: time.Minute}
	for i := 0; i < n; i++ {
		k := Key{Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: rw.Dst, SrcPort: uint16(i), DstPort: 80, Proto: 6}
		if err := fp.Add(k, rw); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seen := 0
		if err := fp.Walk(func(Key, Counters) { seen++ }); err != nil || seen != n {
			b.Fatalf("walked %d of %d: %v", seen, n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

// Kernel scheduling: a SYN alone to a scheduled service gets the next
// slot of its cycle (round robin), an entry with that destination, and is
// both forwarded (redirected, unchanged but for the TTL and MACs) and
// recorded in the SYN ring with the slot's destination; a SYN too long
// for a record, a SYN to another port, a SYN+ACK and a service taken out
// again are left to gvsd without an entry.
func TestKernelSchedule(t *testing.T) {
	fp := open(t)
	client, vip := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.100")
	sk := SchedKey{Addr: vip, Port: 80, Proto: 6}
	var slots []Slot
	for i := range 3 {
		slots = append(slots, Slot{Dest: uint32(10 + i), Rewrite: Rewrite{Src: vip, Dst: vip, DstPort: 80, Ifindex: 1 + i, MTU: 1500,
			DstMAC: [6]byte{2, 0, 0, 0, 0, byte(i)}, SrcMAC: [6]byte{2, 0, 0, 0, 1, 0}}})
	}
	syns := scheduleWithRing(t, fp, sk, 0, slots)
	buf := make([]byte, SYNFrameMax)
	skipped := 0
	for i := range 7 {
		if i == 4 { // gvsd schedules one itself: it takes slot 4%3, the kernel goes on after it
			if d, ok := fp.TakeSlot(sk); !ok || d != uint32(10+i%3) {
				t.Fatalf("TakeSlot: %d %v, want destination %d", d, ok, 10+i%3)
			}
			skipped = 1
		}
		port := uint16(40000 + i)
		f := frame(client, vip, port, 80, 6, 0x02, "")
		binary.BigEndian.PutUint32(f[38:], 0x1000_0000+uint32(i)) // the sequence number (no checksum read here)
		ret, out := run(t, fp, f)
		c, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: port, DstPort: 80, Proto: 6})
		slot := (i + skipped) % 3
		if s, ok := syns.Next(buf); !ok || s.Dest != uint32(10+slot) || s.Ifindex == 0 || string(buf[:s.Len]) != string(f) {
			t.Fatalf("SYN %d: record %v %+v %x, want destination %d and the frame %x", i, ok, s, buf[:s.Len], 10+slot, f)
		}
		if !ok || c.Dest != uint32(10+slot) || c.Packets != 1 || c.Timeout != time.Minute || c.SYNSeq != binary.BigEndian.Uint32(f[38:]) {
			t.Fatalf("SYN %d: entry %v %+v, want destination %d, 1 packet", i, ok, c, 10+slot)
		}
		if ret != tcActRedirect || out[0] != 2 || out[5] != byte(slot) || out[14+8] != f[14+8]-1 {
			t.Fatalf("SYN %d: TC returned %d, frame %x", i, ret, out[:24])
		}
		if string(out[26:54]) != string(f[26:54]) {
			t.Fatalf("SYN %d: addresses or TCP header changed: %x, sent %x", i, out[26:54], f[26:54])
		}
	}
	if s, ok := syns.Next(buf); ok {
		t.Fatalf("a record too many: %+v", s)
	}
	// a SYN longer than a record holds is gvsd's
	long := frame(client, vip, 40100, 80, 6, 0x02, string(make([]byte, SYNFrameMax)))
	if taken(t, fp, long) {
		t.Fatal("a long SYN was taken")
	}
	if c, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: 40100, DstPort: 80, Proto: 6}); ok {
		t.Fatalf("a long SYN: entry %+v", c)
	}
	if s, ok := syns.Next(buf); ok {
		t.Fatalf("a long SYN: record %+v", s)
	}
	// a second SYN on the same ports meets the entry: left to gvsd, and
	// the entry is retired and marked; an RST retires one unmarked
	if taken(t, fp, frame(client, vip, 40000, 80, 6, 0x02, "")) {
		t.Fatal("a second SYN was taken")
	}
	if c, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: 40000, DstPort: 80, Proto: 6}); !ok || c.Deadline != 0 || c.Packets != 1 || !c.SYNAgain {
		t.Fatalf("a second SYN: entry %v %+v, want retired with the first SYN counted, marked SYNAgain", ok, c)
	}
	if taken(t, fp, frame(client, vip, 40001, 80, 6, 0x04, "")) {
		t.Fatal("an RST was taken")
	}
	if c, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: 40001, DstPort: 80, Proto: 6}); !ok || c.Deadline != 0 || c.SYNAgain || c.Dest == 0 {
		t.Fatalf("an RST: entry %v %+v, want retired, still the kernel's, not marked", ok, c)
	}
	for _, f := range [][]byte{frame(client, vip, 41000, 81, 6, 0x02, ""), frame(client, vip, 41001, 80, 6, 0x12, "")} {
		if taken(t, fp, f) {
			t.Fatalf("frame %x taken", f[:54])
		}
	}
	for _, k := range []Key{{Src: client, Dst: vip, SrcPort: 41000, DstPort: 81, Proto: 6}, {Src: client, Dst: vip, SrcPort: 41001, DstPort: 80, Proto: 6}} {
		if _, ok := fp.Lookup(k); ok {
			t.Errorf("%+v: an entry without a scheduled SYN", k)
		}
	}
	if err := fp.DeleteSchedule(sk); err != nil {
		t.Fatal(err)
	}
	if d, ok := fp.TakeSlot(sk); ok {
		t.Fatalf("TakeSlot without a table: %d", d)
	}
	if taken(t, fp, frame(client, vip, 42000, 80, 6, 0x02, "")) {
		t.Error("a SYN was taken after DeleteSchedule")
	}
	if _, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: 42000, DstPort: 80, Proto: 6}); ok {
		t.Error("a SYN was scheduled after DeleteSchedule")
	}
}

// A SYN the program cannot record (the SYN ring is full: gvsd has not
// read it) is not scheduled: its entries are taken out again and it goes
// on to gvsd's rings, which schedule it; once gvsd reads the ring, SYNs
// are scheduled again. Without this, the kernel would forward a
// connection the engine never hears of.
func TestKernelScheduleRingFull(t *testing.T) {
	fp := open(t)
	client, vip, rip := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.100"), netip.MustParseAddr("10.0.2.11")
	sk := SchedKey{Addr: vip, Port: 80, Proto: 6}
	slots := []Slot{{Dest: 20, Rewrite: Rewrite{Src: vip, Dst: rip, DstPort: 8080, Ifindex: 7, MTU: 1500}}}
	syns := scheduleWithRing(t, fp, sk, 1500, slots)
	key := func(port uint16) Key { return Key{Src: client, Dst: vip, SrcPort: port, DstPort: 80, Proto: 6} }
	reply := func(port uint16) Key { return Key{Src: rip, Dst: client, SrcPort: 8080, DstPort: port, Proto: 6} }
	port := uint16(1000)
	for ; taken(t, fp, frame(client, vip, port, 80, 6, 0x02, "")); port++ {
		if port > 1000+synRingSize/synRecordLen {
			t.Fatalf("%d SYNs recorded: more than the ring holds", port-1000)
		}
		fp.Take(key(port)) // the flow map holds only 1,024
		fp.Take(reply(port))
	}
	if port-1000 < synRingSize/(synRecordLen+8)-1 {
		t.Fatalf("the ring refused a record after %d, want about %d", port-1000, synRingSize/(synRecordLen+8))
	}
	for _, k := range []Key{key(port), reply(port)} {
		if c, ok := fp.Lookup(k); ok {
			t.Fatalf("a SYN left to gvsd kept its entry %+v: %+v", k, c)
		}
	}
	buf := make([]byte, SYNFrameMax)
	n := 0
	for _, ok := syns.Next(buf); ok; _, ok = syns.Next(buf) {
		n++
	}
	if n != int(port-1000) {
		t.Fatalf("read %d records, want %d", n, port-1000)
	}
	port++
	if !taken(t, fp, frame(client, vip, port, 80, 6, 0x02, "")) {
		t.Fatal("after the ring was read, a SYN was not scheduled")
	}
	if c, ok := fp.Lookup(key(port)); !ok || c.Dest != 20 {
		t.Fatalf("entry %v %+v", ok, c)
	}
}

// Kernel scheduling of a NAT service: the SYN is forwarded to the slot's
// real server and port with the client's source kept, and a reply entry
// appears that takes the server's first SYN+ACK (not to the ring) and
// rewrites it back to the service, to the SYN's source MAC, and the
// server's FIN; a second SYN+ACK retires it, the client's FIN the forward
// entry, a reply longer than the reply MTU goes to gvsd, and
// a reply entry already there leaves the SYN to gvsd.
func TestKernelScheduleNAT(t *testing.T) {
	fp := open(t)
	client, vip := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.100")
	rips := []netip.Addr{netip.MustParseAddr("10.0.2.11"), netip.MustParseAddr("10.0.2.12")}
	sk := SchedKey{Addr: vip, Port: 80, Proto: 6}
	var slots []Slot
	for i, rip := range rips {
		slots = append(slots, Slot{Dest: uint32(20 + i), Rewrite: Rewrite{Src: vip, Dst: rip, DstPort: 8080, Ifindex: 7, MTU: 1500,
			DstMAC: [6]byte{2, 0, 0, 0, 0x11, byte(i)}, SrcMAC: [6]byte{2, 0, 0, 0, 0, 0x99}}})
	}
	if err := fp.SetSchedule(sk, time.Minute, 0, slots); err == nil {
		t.Fatal("NAT slots without a reply MTU were accepted")
	}
	if err := fp.SetSchedule(sk, time.Minute, 200, slots); err != nil {
		t.Fatal(err)
	}
	syn := frame(client, vip, 40000, 80, 6, 0x02, "")
	ret, out := run(t, fp, syn)
	want := frame(client, rips[0], 40000, 8080, 6, 0x02, "")
	copy(want[0:6], slots[0].Rewrite.DstMAC[:])
	copy(want[6:12], slots[0].Rewrite.SrcMAC[:])
	want[14+8] = 63
	binary.BigEndian.PutUint16(want[14+10:], 0)
	binary.BigEndian.PutUint16(want[14+10:], ^csum(0, want[14:34]))
	if ret != tcActRedirect || string(out) != string(want) {
		t.Fatalf("SYN: TC returned %d, forwarded\n% x\nwant\n% x", ret, out, want)
	}
	if c, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: 40000, DstPort: 80, Proto: 6}); !ok || c.Dest != 20 || c.Packets != 1 {
		t.Fatalf("SYN: entry %v %+v, want destination 20, 1 packet", ok, c)
	}
	replyKey := Key{Src: rips[0], Dst: client, SrcPort: 8080, DstPort: 40000, Proto: 6}
	if c, ok := fp.Lookup(replyKey); !ok || c.Dest != 20 || c.Packets != 0 || c.Timeout != time.Minute {
		t.Fatalf("reply entry %v %+v, want destination 20, no packets", ok, c)
	}

	synack := frame(rips[0], client, 8080, 40000, 6, 0x12, "")
	copy(synack[0:6], slots[0].Rewrite.SrcMAC[:]) // to the director, from the server
	copy(synack[6:12], slots[0].Rewrite.DstMAC[:])
	ret, out = run(t, fp, synack)
	want = frame(vip, client, 80, 40000, 6, 0x12, "")
	copy(want[0:6], syn[6:12]) // back to where the SYN came from
	copy(want[6:12], syn[0:6])
	want[14+8] = 63
	binary.BigEndian.PutUint16(want[14+10:], 0)
	binary.BigEndian.PutUint16(want[14+10:], ^csum(0, want[14:34]))
	if ret != tcActRedirect || string(out) != string(want) {
		t.Fatalf("SYN+ACK: TC returned %d, forwarded\n% x\nwant\n% x", ret, out, want)
	}
	if taken(t, fp, frame(rips[0], client, 8080, 40000, 6, 0x10, string(make([]byte, 200)))) {
		t.Fatal("a reply longer than the reply MTU was taken")
	}
	if !taken(t, fp, frame(rips[0], client, 8080, 40000, 6, 0x10, "ok")) {
		t.Fatal("a reply was not taken")
	}
	// the server's FIN too (a worker may not have recorded the
	// connection yet: the engine follows it from the client's side)
	if !taken(t, fp, frame(rips[0], client, 8080, 40000, 6, 0x11, "")) {
		t.Fatal("the server's FIN was not taken")
	}
	if taken(t, fp, synack) {
		t.Fatal("a second SYN+ACK was taken")
	}
	if c, ok := fp.Lookup(replyKey); !ok || c.Deadline != 0 || c.Packets != 3 {
		t.Fatalf("after a second SYN+ACK the reply entry is %v %+v, want retired with 3 packets", ok, c)
	}
	// a FIN on the forward entry retires it, as any entry's
	if taken(t, fp, frame(client, vip, 40000, 80, 6, 0x11, "")) {
		t.Fatal("the client's FIN was taken")
	}

	// the next slot's reply entry is there already (an old connection's):
	// the SYN is gvsd's, and no entry is left behind
	stale := Key{Src: rips[1], Dst: client, SrcPort: 8080, DstPort: 40001, Proto: 6}
	if err := fp.Add(stale, Rewrite{Src: vip, Dst: client, SrcPort: 80, DstPort: 40001, Ifindex: 1, MTU: 1500, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if taken(t, fp, frame(client, vip, 40001, 80, 6, 0x02, "")) {
		t.Fatal("SYN with a stale reply entry was taken")
	}
	if _, ok := fp.Lookup(Key{Src: client, Dst: vip, SrcPort: 40001, DstPort: 80, Proto: 6}); ok {
		t.Fatal("SYN with a stale reply entry: the kernel scheduled it")
	}
	// a DR service's SYN+ACK never passes (no reply entry is its)
	if err := fp.SetSchedule(sk, time.Minute, 200, []Slot{{Dest: 30, Rewrite: Rewrite{Src: vip, Dst: vip, DstPort: 80, Ifindex: 7, MTU: 1500}}}); err != nil {
		t.Fatal(err)
	}
	if !taken(t, fp, frame(client, vip, 40002, 80, 6, 0x02, "")) {
		t.Fatal("a DR slot's SYN was not taken")
	}
	if _, ok := fp.Lookup(Key{Src: vip, Dst: client, SrcPort: 80, DstPort: 40002, Proto: 6}); ok {
		t.Fatal("a DR slot wrote a reply entry")
	}
	if taken(t, fp, frame(client, vip, 40002, 80, 6, 0x12, "")) {
		t.Fatal("a SYN+ACK on a DR entry was taken")
	}
}
