//go:build linux

package fastpath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/govs/gvs/internal/bpfasm"
	"golang.org/x/sys/unix"
)

// Key is a flow as it arrives at the director: addresses (both IPv4 or
// both IPv6), ports and protocol (TCP or UDP).
type Key struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}

// Rewrite is what the kernel does to a flow's packets: their new
// addresses and ports (equal to the key's where unchanged), the egress
// interface and MACs, the skb mark of a tunnel (0: none), the largest IP
// packet that may leave without a decision (the path MTU, less the
// tunnel's overhead), the tunnel's overhead (a super-frame's segment size
// shrinks by it) and the connection's idle timeout.
type Rewrite struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Ifindex          int
	DstMAC, SrcMAC   [6]byte
	Mark             uint32
	MTU              int
	Overhead         int
	Timeout          time.Duration
}

// Counters are an entry's totals since it was added, and when its
// connection would expire without more packets (Deadline, on the
// CLOCK_MONOTONIC scale: see Now).
type Counters struct {
	Packets, Bytes uint64
	Deadline       time.Duration
	Timeout        time.Duration
	// Dest is the engine's destination the program chose for a
	// connection it scheduled (SetSchedule), and SYNSeq the sequence
	// number of the SYN it forwarded; 0 for an entry gvsd added.
	Dest, SYNSeq uint32
	// SYNAgain: a later SYN met the kernel-scheduled entry and retired it
	// (a retransmission, a new connection on the same ports).
	SYNAgain bool
}

// Now returns CLOCK_MONOTONIC, the clock of the program's deadlines. The
// program reads it coarse (bpf_ktime_get_coarse_ns: the last tick's time,
// up to a tick, 1–4 ms, behind), which costs no clocksource read: the
// precise read was a third of the program's time on the bench VM.
func Now() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// FastPath is the loaded programs and their maps.
type FastPath struct {
	flows  *ebpf.Map // IPv4 flows
	flows6 *ebpf.Map // IPv6 flows
	errs   *ebpf.Map // per CPU: packets dropped on a failed rewrite
	sched  *ebpf.Map // kernel scheduling tables (IPv4 TCP services)
	syns   *ebpf.Map // records of the SYNs the program scheduled (ring buffer)
	tc     *ebpf.Program

	mu    sync.Mutex
	links map[int]link.Link
}

// Layout of the flow map's key and value, and of the per-CPU slot.
const (
	keyLen = 16

	vPackets  = 0
	vBytes    = 8
	vDeadline = 16
	vTimeout  = 24
	vNewSrc   = 32 // 32..63 are copied to the slot as they are
	vNewDst   = 36
	vNewSport = 40
	vNewDport = 42
	vIfindex  = 44
	vMACs     = 48 // destination, then source
	vMark     = 60
	vMTU      = 64
	vOverhead = 66
	vFlags    = 68
	vDest     = 72 // the engine's destination of a connection the kernel scheduled (0: gvsd did)
	vSYNSeq   = 76 // and its SYN's sequence number
	valueLen  = 80

	// IPv6: the key (addresses, ports, protocol) and the value, whose
	// first 32 bytes are laid out as IPv4's; 32..87 go to the slot
	key6Len    = 40
	v6NewSrc   = 32
	v6NewDst   = 48
	v6NewSport = 64
	v6NewDport = 66
	v6Ifindex  = 68
	v6MACs     = 72
	v6Mark     = 84
	v6MTU      = 88
	v6Overhead = 90
	v6Flags    = 92
	value6Len  = 96

	flagNAT    = 1 // addresses or ports change
	flagUDP    = 2 // set in the slot: UDP (a zero checksum stays zero)
	flagKernel = 4 // the program scheduled the connection (kernel scheduling)
	// flagKernelReply marks the reply entry of a NAT connection the
	// program scheduled: the real server's first SYN+ACK and its
	// FIN pass through it (a later SYN+ACK, a SYN or an RST retires it,
	// as usual). Such a connection's engine record comes from its SYN's
	// copy, which a worker may not have read yet when the server's FIN
	// comes (another flow: maybe another worker's ring); so the engine
	// follows it from the client's packets, as IPVS follows a DR
	// connection.
	flagKernelReply = 8
	// flagSYNAgain marks an entry a later SYN met (a retransmission, or a
	// new connection on the same ports), which retired it: that SYN's copy
	// has the first one's sequence number, maybe, but is gvsd's to
	// schedule. Without the mark a worker could not tell it from the first
	// SYN's copy read late, after an RST had retired the entry.
	flagSYNAgain = 16

	// The kernel scheduling table (IPv4 TCP services): the key is the
	// virtual address, port (network order) and protocol; the value a
	// round-robin position, the entries' timeout, the number of slots,
	// the path MTU of NAT replies and the slots, each a flow value's
	// bytes 32..71 and a destination.
	schedKeyLen   = 8
	schedPos      = 0 // 8 bytes
	schedTimeout  = 8
	schedN        = 16
	schedReplyMTU = 20
	schedSlots    = 24
	schedSlotLen  = 48
	// MaxSlots bounds a kernel-scheduled service's round-robin cycle (a
	// weighted cycle longer than this stays in user space).
	MaxSlots     = 64
	schedValLen  = schedSlots + MaxSlots*schedSlotLen
	schedKeyAt   = -232 // on the program's stack
	schedValueAt = -320 // the new flow's value, built on the stack
	replyKeyAt   = -432 // a NAT connection's reply entry: its key
	replyValueAt = -416 // and value

	maxSchedServices = 4096

	// A SYN record: interface, frame length, the slot's destination, 4
	// zero bytes, then the frame (at most SYNFrameMax bytes).
	recIfindex   = 0
	recLen       = 4
	recDest      = 8
	recFrame     = 16
	SYNFrameMax  = 144
	synRecordLen = recFrame + SYNFrameMax
	rbNoWakeup   = 1 // BPF_RB_NO_WAKEUP
	// synRingSize holds about 5,000 records (a record takes 168 bytes
	// with its header): a burst of new connections between two reads.
	synRingSize = 1 << 20
)

// Open loads the programs and creates their maps; maxFlows bounds the
// number of entries (Add fails beyond it and the flow stays in user
// space).
func Open(maxFlows int) (*FastPath, error) {
	flows, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_flows", Type: ebpf.Hash, KeySize: keyLen, ValueSize: valueLen, MaxEntries: uint32(maxFlows),
	})
	if err != nil {
		return nil, fmt.Errorf("fastpath: flow map: %w", err)
	}
	flows6, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_flows6", Type: ebpf.Hash, KeySize: key6Len, ValueSize: value6Len, MaxEntries: uint32(maxFlows),
	})
	if err != nil {
		flows.Close()
		return nil, fmt.Errorf("fastpath: IPv6 flow map: %w", err)
	}
	errs, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_fp_errors", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1,
	})
	if err != nil {
		flows.Close()
		flows6.Close()
		return nil, fmt.Errorf("fastpath: error count map: %w", err)
	}
	fp := &FastPath{flows: flows, flows6: flows6, errs: errs, links: map[int]link.Link{}}
	fp.sched, err = ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_sched", Type: ebpf.Hash, KeySize: schedKeyLen, ValueSize: schedValLen, MaxEntries: maxSchedServices,
	})
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("fastpath: scheduling map: %w", err)
	}
	fp.syns, err = ebpf.NewMap(&ebpf.MapSpec{Name: "gvs_syns", Type: ebpf.RingBuf, MaxEntries: synRingSize})
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("fastpath: SYN record ring: %w", err)
	}
	fp.tc, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "gvs_fp_fwd", Type: ebpf.SchedCLS, License: "Dual MIT/GPL",
		Instructions: program(flows.FD(), flows6.FD(), errs.FD(), fp.sched.FD(), fp.syns.FD()),
	})
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("fastpath: load forwarding program: %w", err)
	}
	return fp, nil
}

// Process runs the program on one Ethernet frame as interface 1's
// ingress would (BPF_PROG_TEST_RUN: the maps are the real ones, the frame
// is not sent) and returns its verdict (TC_ACT_REDIRECT 7: taken; -1:
// left to the stack and gvsd) and the frame as the program left it.
func (fp *FastPath) Process(frame []byte) (int32, []byte, error) {
	out := make([]byte, len(frame)+256)
	opts := &ebpf.RunOptions{Data: frame, DataOut: out}
	ret, err := fp.tc.Run(opts)
	return int32(ret), opts.DataOut, err
}

// Attach puts the forwarding program on the ingress of interface ifindex.
func (fp *FastPath) Attach(ifindex int) error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.links[ifindex] != nil {
		return nil
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: fp.tc, Attach: ebpf.AttachTCXIngress, Anchor: link.Tail()})
	if err != nil {
		return fmt.Errorf("fastpath: attach to ingress of interface %d: %w", ifindex, err)
	}
	fp.links[ifindex] = l
	return nil
}

// marshal returns the key's bytes and its map (IPv4 or IPv6).
func (fp *FastPath) marshal(k *Key) ([]byte, *ebpf.Map, error) {
	if !k.Src.IsValid() || k.Src.Is4() != k.Dst.Is4() || k.Src.Is4In6() || k.Dst.Is4In6() {
		return nil, nil, fmt.Errorf("fastpath: %v to %v: two addresses of one family", k.Src, k.Dst)
	}
	if k.Proto != unix.IPPROTO_TCP && k.Proto != unix.IPPROTO_UDP {
		return nil, nil, fmt.Errorf("fastpath: protocol %d: TCP and UDP only", k.Proto)
	}
	// addresses, ports, protocol, zero padding
	n, m := keyLen, fp.flows
	if k.Src.Is6() {
		n, m = key6Len, fp.flows6
	}
	a := (n - 8) / 2 // an address's length
	b := make([]byte, n)
	copy(b[0:], k.Src.AsSlice())
	copy(b[a:], k.Dst.AsSlice())
	binary.BigEndian.PutUint16(b[2*a:], k.SrcPort)
	binary.BigEndian.PutUint16(b[2*a+2:], k.DstPort)
	b[2*a+4] = k.Proto
	return b, m, nil
}

func unmarshalKey(b []byte) Key {
	a := (len(b) - 8) / 2
	src, _ := netip.AddrFromSlice(b[:a])
	dst, _ := netip.AddrFromSlice(b[a : 2*a])
	return Key{Src: src, Dst: dst, SrcPort: binary.BigEndian.Uint16(b[2*a:]), DstPort: binary.BigEndian.Uint16(b[2*a+2:]), Proto: b[2*a+4]}
}

// Add writes (or replaces) the entry of flow k; its deadline starts at
// now plus the timeout.
func (fp *FastPath) Add(k Key, r Rewrite) error {
	kb, m, err := fp.marshal(&k)
	if err != nil {
		return err
	}
	v, err := fp.value(&k, r)
	if err != nil {
		return err
	}
	if err := m.Put(kb, v); err != nil {
		return fmt.Errorf("fastpath: add %v to %v: %w", netip.AddrPortFrom(k.Src, k.SrcPort), netip.AddrPortFrom(k.Dst, k.DstPort), err)
	}
	return nil
}

// value is the map value of flow k's entry with rewrite r.
func (fp *FastPath) value(k *Key, r Rewrite) ([]byte, error) {
	if r.Src.Is4() != k.Src.Is4() || r.Dst.Is4() != k.Src.Is4() || !r.Src.IsValid() || !r.Dst.IsValid() {
		return nil, fmt.Errorf("fastpath: rewrite to %v, %v: the key's family only", r.Src, r.Dst)
	}
	if r.MTU <= 0 || r.MTU > 0xffff || r.Overhead < 0 || r.Overhead > 0xffff || r.Timeout <= 0 || r.Ifindex <= 0 {
		return nil, fmt.Errorf("fastpath: rewrite: MTU %d, overhead %d, timeout %v, interface %d out of range", r.MTU, r.Overhead, r.Timeout, r.Ifindex)
	}
	ne := binary.NativeEndian
	newSrc, newDst, sport, ifx, macs, mark, mtu, flags, size := vNewSrc, vNewDst, vNewSport, vIfindex, vMACs, vMark, vMTU, vFlags, valueLen
	if k.Src.Is6() {
		newSrc, newDst, sport, ifx, macs, mark, mtu, flags, size = v6NewSrc, v6NewDst, v6NewSport, v6Ifindex, v6MACs, v6Mark, v6MTU, v6Flags, value6Len
	}
	v := make([]byte, size)
	ne.PutUint64(v[vDeadline:], uint64(Now()+r.Timeout))
	ne.PutUint64(v[vTimeout:], uint64(r.Timeout))
	copy(v[newSrc:], r.Src.AsSlice())
	copy(v[newDst:], r.Dst.AsSlice())
	binary.BigEndian.PutUint16(v[sport:], r.SrcPort)
	binary.BigEndian.PutUint16(v[sport+2:], r.DstPort)
	ne.PutUint32(v[ifx:], uint32(r.Ifindex))
	copy(v[macs:], r.DstMAC[:])
	copy(v[macs+6:], r.SrcMAC[:])
	ne.PutUint32(v[mark:], r.Mark)
	ne.PutUint16(v[mtu:], uint16(r.MTU))
	ne.PutUint16(v[mtu+2:], uint16(r.Overhead))
	if r.Src != k.Src || r.Dst != k.Dst || r.SrcPort != k.SrcPort || r.DstPort != k.DstPort {
		ne.PutUint32(v[flags:], flagNAT)
	}
	return v, nil
}

// Take removes flow k's entry and returns its last counters, read and
// deleted in one system call: a packet the programs count between a
// read and a separate delete would be lost from the statistics. False
// when it has none.
func (fp *FastPath) Take(k Key) (Counters, bool) {
	kb, m, err := fp.marshal(&k)
	if err != nil {
		return Counters{}, false
	}
	vb := make([]byte, m.ValueSize())
	if err := m.LookupAndDelete(kb, vb); err != nil {
		return Counters{}, false
	}
	return counters(vb), true
}

// Delete removes the entries of flows keys, a system call per family
// and not one per entry, without reading their counters: for entries the
// program retired (deadline 0), whose counters it no longer moves. A key
// with no entry is skipped.
func (fp *FastPath) Delete(keys []Key) error {
	var k4 [][keyLen]byte
	var k6 [][key6Len]byte
	for i := range keys {
		kb, m, err := fp.marshal(&keys[i])
		if err != nil {
			return err
		}
		if m == fp.flows {
			k4 = append(k4, [keyLen]byte(kb))
		} else {
			k6 = append(k6, [key6Len]byte(kb))
		}
	}
	return errors.Join(deleteBatch(fp.flows, k4), deleteBatch(fp.flows6, k6))
}

// deleteBatch deletes keys from m; the kernel stops at a key it does not
// find, so the rest are deleted after it.
func deleteBatch[K any](m *ebpf.Map, keys []K) error {
	for len(keys) > 0 {
		n, err := m.BatchDelete(keys, nil)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ebpf.ErrKeyNotExist) && n < len(keys):
			keys = keys[n+1:]
		default:
			return fmt.Errorf("fastpath: delete entries: %w", err)
		}
	}
	return nil
}

// Lookup returns the counters of flow k's entry; false when it has none.
func (fp *FastPath) Lookup(k Key) (Counters, bool) {
	kb, m, err := fp.marshal(&k)
	if err != nil {
		return Counters{}, false
	}
	vb, err := m.LookupBytes(kb)
	if err != nil || vb == nil {
		return Counters{}, false
	}
	return counters(vb), true
}

func counters(vb []byte) Counters {
	ne := binary.NativeEndian
	c := Counters{
		Packets: ne.Uint64(vb[vPackets:]), Bytes: ne.Uint64(vb[vBytes:]),
		Deadline: time.Duration(ne.Uint64(vb[vDeadline:])), Timeout: time.Duration(ne.Uint64(vb[vTimeout:])),
	}
	if len(vb) == valueLen {
		if flags := ne.Uint32(vb[vFlags:]); flags&flagKernel != 0 {
			c.Dest, c.SYNSeq = ne.Uint32(vb[vDest:]), binary.BigEndian.Uint32(vb[vSYNSeq:])
			c.SYNAgain = flags&flagSYNAgain != 0
		}
	}
	return c
}

// Slot is one position of a kernel-scheduled service's cycle: the
// engine's destination and how its packets are forwarded (the same
// rewrite an entry of Add has; its Timeout is unused).
type Slot struct {
	Dest    uint32
	Rewrite Rewrite
}

// SchedKey is a service the program may schedule: an IPv4 virtual
// address, port and protocol (TCP).
type SchedKey struct {
	Addr  netip.Addr
	Port  uint16
	Proto uint8
}

func (k SchedKey) bytes() ([]byte, error) {
	if !k.Addr.Is4() || k.Proto != unix.IPPROTO_TCP {
		return nil, fmt.Errorf("fastpath: schedule %v:%d protocol %d: IPv4 TCP services only", k.Addr, k.Port, k.Proto)
	}
	b := make([]byte, schedKeyLen)
	a := k.Addr.As4()
	copy(b, a[:])
	binary.BigEndian.PutUint16(b[4:], k.Port)
	b[6] = k.Proto
	return b, nil
}

// SetSchedule lets the program schedule service k's new
// connections (a TCP SYN without an entry) itself: round robin over
// slots, each new connection's entry living timeout from its SYN. The
// SYN is forwarded at once and copied to gvsd's ring as well, for the
// engine's records (Lookup reports the entry's Dest).
//
// A slot whose Rewrite changes the destination (Dst, DstPort: NAT) keeps
// the client's source; the program then writes the connection's reply
// entry too (the real server's address and port to the client's), which
// rewrites the source back to the service, leaves by the interface the
// SYN came in on to the MAC it came from, and lets the server's first
// SYN+ACK and its FIN through; replyMTU is its path MTU (the smallest of the
// interfaces a SYN may come in on: a longer reply goes to gvsd).
func (fp *FastPath) SetSchedule(k SchedKey, timeout time.Duration, replyMTU int, slots []Slot) error {
	kb, err := k.bytes()
	if err != nil {
		return err
	}
	if len(slots) == 0 || len(slots) > MaxSlots || timeout <= 0 || replyMTU < 0 || replyMTU > 0xffff {
		return fmt.Errorf("fastpath: schedule %v:%d: %d slots (1 to %d), timeout %v, reply MTU %d", k.Addr, k.Port, len(slots), MaxSlots, timeout, replyMTU)
	}
	ne := binary.NativeEndian
	v := make([]byte, schedValLen)
	ne.PutUint32(v[schedN:], uint32(len(slots)))
	ne.PutUint64(v[schedTimeout:], uint64(timeout))
	ne.PutUint16(v[schedReplyMTU:], uint16(replyMTU))
	for i, sl := range slots {
		r := sl.Rewrite
		r.Timeout = timeout
		key := Key{Src: k.Addr, Dst: k.Addr, SrcPort: 1, DstPort: k.Port, Proto: k.Proto}
		ev, err := fp.value(&key, r)
		if err != nil {
			return err
		}
		if sl.Dest == 0 {
			return fmt.Errorf("fastpath: schedule %v:%d: slot %d has no destination", k.Addr, k.Port, i)
		}
		flags := uint32(flagKernel) // DR, or TUN by the mark: no address rewrite
		if r.Dst != k.Addr || r.DstPort != k.Port {
			if replyMTU == 0 {
				return fmt.Errorf("fastpath: schedule %v:%d: slot %d rewrites the destination (NAT) but there is no reply MTU", k.Addr, k.Port, i)
			}
			flags |= flagNAT
		}
		at := v[schedSlots+i*schedSlotLen:]
		copy(at, ev[vNewSrc:vDest])
		ne.PutUint32(at[vFlags-vNewSrc:], flags)
		ne.PutUint32(at[vDest-vNewSrc:], sl.Dest)
	}
	if err := fp.sched.Put(kb, v); err != nil {
		return fmt.Errorf("fastpath: schedule %v:%d: %w", k.Addr, k.Port, err)
	}
	return nil
}

// TakeSlot takes service k's next position for a new connection gvsd
// schedules itself while the kernel schedules the service (a SYN that
// reached gvsd anyway), and returns the slot's destination: the kernel's
// round and gvsd's are then one. A read and a write, not an atomic add:
// a SYN the program schedules in between may take the same position, as
// two CPUs can. False when the service has no table.
func (fp *FastPath) TakeSlot(k SchedKey) (dest uint32, ok bool) {
	kb, err := k.bytes()
	if err != nil {
		return 0, false
	}
	v := make([]byte, schedValLen)
	if err := fp.sched.Lookup(kb, v); err != nil {
		return 0, false
	}
	ne := binary.NativeEndian
	pos, n := ne.Uint64(v[schedPos:]), uint64(ne.Uint32(v[schedN:]))
	if n == 0 || n > MaxSlots {
		return 0, false
	}
	ne.PutUint64(v[schedPos:], pos+1)
	if err := fp.sched.Update(kb, v, ebpf.UpdateExist); err != nil {
		return 0, false
	}
	return ne.Uint32(v[schedSlots+int(pos%n)*schedSlotLen+vDest-vNewSrc:]), true
}

// DeleteSchedule hands service k's new connections back to gvsd.
func (fp *FastPath) DeleteSchedule(k SchedKey) error {
	kb, err := k.bytes()
	if err != nil {
		return err
	}
	if err := fp.sched.Delete(kb); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("fastpath: unschedule %v:%d: %w", k.Addr, k.Port, err)
	}
	return nil
}

// walkBatch is how many entries Walk and Drain read per system call.
const walkBatch = 1024

// Walk calls fn for every entry with its counters. It reads the map in
// batches (a system call per 1,024 entries).
func (fp *FastPath) Walk(fn func(k Key, c Counters)) error {
	return fp.batches(false, fn)
}

// Drain removes every entry, calling fn with each one's last counters
// (read and deleted together, as Take).
func (fp *FastPath) Drain(fn func(k Key, c Counters)) error {
	return fp.batches(true, fn)
}

func (fp *FastPath) batches(del bool, fn func(k Key, c Counters)) error {
	return errors.Join(
		batches(fp.flows, del, func(k *[keyLen]byte) []byte { return k[:] }, func(v *[valueLen]byte) []byte { return v[:] }, fn),
		batches(fp.flows6, del, func(k *[key6Len]byte) []byte { return k[:] }, func(v *[value6Len]byte) []byte { return v[:] }, fn),
	)
}

// batches reads (del: reads and deletes) one map whose keys and values
// are K and V.
func batches[K, V any](m *ebpf.Map, del bool, key func(*K) []byte, value func(*V) []byte, fn func(k Key, c Counters)) error {
	keys := make([]K, walkBatch)
	vals := make([]V, walkBatch)
	var cursor ebpf.MapBatchCursor
	for {
		var n int
		var err error
		if del {
			n, err = m.BatchLookupAndDelete(&cursor, keys, vals, nil)
		} else {
			n, err = m.BatchLookup(&cursor, keys, vals, nil)
		}
		for i := 0; i < n; i++ {
			fn(unmarshalKey(key(&keys[i])), counters(value(&vals[i])))
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Errors counts the packets the forwarding program dropped because a
// kernel helper failed (a rewrite it could not make).
func (fp *FastPath) Errors() uint64 {
	var per []uint64
	if err := fp.errs.Lookup(uint32(0), &per); err != nil {
		return 0
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

// Close detaches the program and frees it and the maps.
func (fp *FastPath) Close() error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	var err error
	for ix, l := range fp.links {
		err = errors.Join(err, l.Close())
		delete(fp.links, ix)
	}
	if fp.tc != nil {
		err = errors.Join(err, fp.tc.Close())
	}
	for _, m := range []*ebpf.Map{fp.errs, fp.flows, fp.flows6, fp.sched, fp.syns} {
		if m != nil {
			err = errors.Join(err, m.Close())
		}
	}
	return err
}

// Offsets in struct __sk_buff and the kernel's constants.
const (
	skbLen     = 0
	skbMark    = 8
	skbIfindex = 40
	skbGSOSize = 176

	ethHdr   = 14
	ipHdr    = 20
	ipCheck  = ethHdr + 10
	ipTTL    = ethHdr + 8
	ipSrc    = ethHdr + 12
	ipDst    = ethHdr + 16
	l4Off    = ethHdr + ipHdr
	tcpFlags = l4Off + 13
	tcpDoff  = l4Off + 12

	protoTCP = 6
	protoUDP = 17

	tcpFINSYNRST = 0x07
	tcpFIN       = 0x01
	tcpSYN       = 0x02
	tcpACK       = 0x10

	csumPseudo  = 1 << 4 // BPF_F_PSEUDO_HDR
	csumMangled = 1 << 5 // BPF_F_MARK_MANGLED_0

	tcxNext   = -1
	tcActShot = 2
	flagsAt   = -72 // a taken packet's entry flags (flagUDP added) on the stack; the error count's key
	ip6Hdr    = 40
	udpPeek   = l4Off + 8 // Ethernet, IPv4 and UDP headers (TCP: its ports and sequence number)
	v4Head    = 48        // the stack's room for a frame's start, IPv4 (TCP's flags included)
	v6Head    = 68        // and IPv6
)

// family is where one address family's parse leaves things for decide.
type family struct {
	sfx        string // label suffix
	flows      int    // its flow map
	sched      int    // its scheduling map (0: none)
	syns       int    // the SYN record ring (with sched)
	buf        int16  // the frame's first bytes on the stack
	l3         int32  // IP header length
	key        int16  // the key on the stack
	keyLen     int16
	mtu        int16 // value offsets: path MTU (overhead follows), flags
	flags      int16
	tcpFlagsAt int32 // offsets in the frame
	tcpDoffAt  int32
}

var (
	ipv4 = family{
		buf: -66, l3: ipHdr, key: -16, keyLen: keyLen, mtu: vMTU, flags: vFlags,
		tcpFlagsAt: tcpFlags, tcpDoffAt: tcpDoff,
	}
	ipv6 = family{
		sfx: "6", buf: -166, l3: ip6Hdr, key: -208, keyLen: key6Len, mtu: v6MTU, flags: v6Flags,
		tcpFlagsAt: ethHdr + ip6Hdr + 13, tcpDoffAt: ethHdr + ip6Hdr + 12,
	}
)

// program is the TCX ingress program: it decides whether a frame takes
// the fast path and, taken, forwards it (forwarding); any other frame
// goes on to the stack, where gvsd's packet sockets, bound to IPv4, IPv6
// and ARP, receive it after TC ingress, so a taken frame costs them
// nothing. R6 the skb, R7 the flow's entry, R8 the clock, then the entry
// for the forwarding part, R9 the protocol. Stack: the frame's first
// bytes at fp-66 (IPv4: 48, of which UDP needs 42) or fp-166 (IPv6: 68,
// of which UDP needs 62), so that the addresses are 8-aligned; the flow
// key at fp-16 (IPv4) or fp-208 (IPv6), which the forwarding part reads as
// the old addresses and ports; the entry's flags at fp-72.
func program(flows, flows6, errs, sched, syns int) asm.Instructions {
	v4, v6 := ipv4, ipv6
	v4.flows, v6.flows = flows, flows6
	v4.sched, v4.syns = sched, syns
	in := append(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
	}, bpfasm.CopyPacket(0, v4.buf, v4Head, udpPeek, "accept", "head4")...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, v4.buf+12, asm.Half),
		asm.JEq.Imm(asm.R1, bpfasm.Net16(0x86dd), "v6"),
		asm.JNE.Imm(asm.R1, bpfasm.Net16(0x0800), "accept"),
	)
	// IPv4, no options, not a fragment, a TTL left to decrement
	in = append(in, bpfasm.PlainIPv4(v4.buf+ethHdr, "accept")...)
	in = append(in,
		asm.Mov.Reg(asm.R9, asm.R1),
		asm.LoadMem(asm.R1, asm.RFP, v4.buf+ipTTL, asm.Byte),
		asm.JLE.Imm(asm.R1, 1, "accept"),
		asm.JEq.Imm(asm.R9, protoUDP, "key"),
		asm.JNE.Imm(asm.R9, protoTCP, "accept"),
	)
	// TCP: the data offset and flags too
	in = append(in, bpfasm.LoadBytes(tcpDoff, v4.buf+tcpDoff, 2, "accept")...)
	in = append(in,
		// the key: addresses, ports, protocol and three zero bytes
		asm.LoadMem(asm.R1, asm.RFP, v4.buf+ipSrc, asm.Word).WithSymbol("key"),
		asm.StoreMem(asm.RFP, v4.key, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, v4.buf+ipDst, asm.Word),
		asm.StoreMem(asm.RFP, v4.key+4, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, v4.buf+l4Off, asm.Word),
		asm.StoreMem(asm.RFP, v4.key+8, asm.R1, asm.Word),
		asm.StoreMem(asm.RFP, v4.key+12, asm.R9, asm.Word),
	)
	in = append(in, decide(v4)...)

	// IPv6: no extension header before TCP or UDP, a hop limit left
	in = append(in, bpfasm.Labeled("v6", bpfasm.CopyPacket(0, v6.buf, v6Head, ethHdr+ip6Hdr+8, "accept", "head6"))...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, v6.buf+ethHdr, asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.JNE.Imm(asm.R1, 6, "accept"),
		asm.LoadMem(asm.R1, asm.RFP, v6.buf+ethHdr+7, asm.Byte),
		asm.JLE.Imm(asm.R1, 1, "accept"),
		asm.LoadMem(asm.R9, asm.RFP, v6.buf+ethHdr+6, asm.Byte),
		asm.JEq.Imm(asm.R9, protoUDP, "key6"),
		asm.JNE.Imm(asm.R9, protoTCP, "accept"),
	)
	in = append(in, bpfasm.LoadBytes(v6.tcpDoffAt, v6.buf+int16(v6.tcpDoffAt), 2, "accept")...)
	for i, off := range []int16{0, 8, 16, 24} { // source and destination
		ld := asm.LoadMem(asm.R1, asm.RFP, v6.buf+ethHdr+8+off, asm.DWord)
		if i == 0 {
			ld = ld.WithSymbol("key6")
		}
		in = append(in, ld, asm.StoreMem(asm.RFP, v6.key+off, asm.R1, asm.DWord))
	}
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, v6.buf+ethHdr+ip6Hdr, asm.Word),
		asm.StoreMem(asm.RFP, v6.key+32, asm.R1, asm.Word),
		asm.StoreMem(asm.RFP, v6.key+36, asm.R9, asm.Word),
	)
	in = append(in, decide(v6)...)
	in = append(in,
		// retired: the deadline 0 sends every later packet to gvsd,
		// whose sweep reads the last counts and deletes the entry
		asm.Mov.Imm(asm.R1, 0).WithSymbol("forget"),
		asm.StoreMem(asm.R7, vDeadline, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("accept"),
		asm.Return(),
	)
	return append(in, forwarding(errs)...)
}

// decide is the program's decision for a parsed frame of family f (R9
// the transport protocol, the key on the stack): the lookup, the flags,
// the deadline and the path MTU; taken, the counters and the flags, and
// on to the forwarding part ("fwd", "fwd6") with R8 the entry.
func decide(f family) asm.Instructions {
	label := func(l string) string { return l + f.sfx }
	miss := "accept"
	if f.sched != 0 {
		miss = label("schedule")
	}
	retire := "forget"
	if f.sched != 0 {
		retire = label("retire")
	}
	in := bpfasm.Lookup(f.flows, f.key, miss)
	in = append(in,
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.JEq.Imm(asm.R9, protoUDP, label("alive")),
		// a SYN, FIN or RST ends the fast path: the engine sees the
		// transition; but the reply entry of a NAT connection the program
		// scheduled takes the server's FIN and its first SYN+ACK
		// (flagKernelReply; the kernel counts them)
		asm.LoadMem(asm.R1, asm.RFP, f.buf+int16(f.tcpFlagsAt), asm.Byte),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R1, tcpFINSYNRST),
		asm.JEq.Imm(asm.R1, 0, label("alive")),
		asm.LoadMem(asm.R3, asm.R7, f.flags, asm.Word),
		asm.And.Imm(asm.R3, flagKernelReply),
		asm.JEq.Imm(asm.R3, 0, retire),
		asm.JEq.Imm(asm.R1, tcpFIN, label("alive")),
		asm.And.Imm(asm.R2, tcpFINSYNRST|tcpACK),
		asm.JNE.Imm(asm.R2, tcpSYN|tcpACK, "forget"),
		asm.LoadMem(asm.R1, asm.R7, vPackets, asm.DWord),
		asm.JNE.Imm(asm.R1, 0, "forget"),
		// past its deadline the connection is the engine's to expire
		asm.FnKtimeGetCoarseNs.Call().WithSymbol(label("alive")),
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.LoadMem(asm.R1, asm.R7, vDeadline, asm.DWord),
		asm.JGT.Reg(asm.R8, asm.R1, "forget"),
		// the path MTU: a plain packet that does not fit is answered by
		// gvsd (fragmentation needed or fragments); a super-frame's
		// segments, shrunk by a tunnel's overhead, must fit
		asm.LoadMem(asm.R2, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R2, ethHdr),
		asm.LoadMem(asm.R3, asm.R6, skbGSOSize, asm.Word),
		asm.LoadMem(asm.R4, asm.R7, f.mtu, asm.Half),
		asm.JNE.Imm(asm.R3, 0, label("gso")),
		asm.JGT.Reg(asm.R2, asm.R4, "accept"),
		asm.Ja.Label(label("fits")),
		asm.JEq.Imm(asm.R9, protoUDP, "accept").WithSymbol(label("gso")),
		asm.LoadMem(asm.R1, asm.RFP, f.buf+int16(f.tcpDoffAt), asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.LSh.Imm(asm.R1, 2),
		asm.Add.Imm(asm.R1, f.l3),
		asm.Add.Reg(asm.R1, asm.R3),
		asm.LoadMem(asm.R5, asm.R7, f.mtu+2, asm.Half), // the overhead
		asm.Add.Reg(asm.R4, asm.R5),
		asm.JGT.Reg(asm.R1, asm.R4, "accept"),
		// taken: the deadline moves on, the counters count
		asm.LoadMem(asm.R1, asm.R7, vTimeout, asm.DWord).WithSymbol(label("fits")),
		asm.Add.Reg(asm.R1, asm.R8),
		asm.StoreMem(asm.R7, vDeadline, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, vPackets),
		asm.AddAtomic.Mem(asm.R7, asm.R2, asm.DWord, vBytes),
		// the forwarding part reads the rewrite from the entry, the old
		// addresses and ports from the key, the flags from here
		asm.LoadMem(asm.R1, asm.R7, f.flags, asm.Word),
		asm.JNE.Imm(asm.R9, protoUDP, label("flags")),
		asm.Or.Imm(asm.R1, flagUDP),
		asm.StoreMem(asm.RFP, flagsAt, asm.R1, asm.Word).WithSymbol(label("flags")),
		asm.Mov.Reg(asm.R8, asm.R7),
		asm.Ja.Label(label("fwd")),
	)
	if f.sched != 0 {
		in = append(in,
			// R2 the TCP flags: a SYN marks the entry it retires
			asm.And.Imm(asm.R2, tcpSYN).WithSymbol(retire),
			asm.JEq.Imm(asm.R2, 0, "forget"),
			asm.LoadMem(asm.R3, asm.R7, f.flags, asm.Word),
			asm.Or.Imm(asm.R3, flagSYNAgain),
			asm.StoreMem(asm.R7, f.flags, asm.R3, asm.Word),
			asm.Ja.Label("forget"),
		)
		in = append(in, schedule(f)...)
	}
	return in
}

// schedule is the program's path for a TCP SYN that has no entry: when
// its service is in the scheduling map, the next slot of the service's
// round-robin cycle becomes the flow's entry (flagKernel, the slot's
// destination), the program records the SYN in the SYN ring (synRecord)
// and forwards it as an entry's frame: the worker that handles the
// record creates the engine's connection for that destination and sends
// nothing (the kernel has). Any failure, a record that cannot be written
// included, leaves the SYN to gvsd with no entry.
func schedule(f family) asm.Instructions {
	label := func(l string) string { return l + f.sfx }
	const tcpSYNACKFINRST = 0x17
	in := asm.Instructions{
		asm.JNE.Imm(asm.R9, protoTCP, "accept").WithSymbol(label("schedule")),
		asm.LoadMem(asm.R1, asm.RFP, f.buf+int16(f.tcpFlagsAt), asm.Byte),
		asm.And.Imm(asm.R1, tcpSYNACKFINRST),
		asm.JNE.Imm(asm.R1, 0x02, "accept"), // a SYN alone
		// its record must hold the frame (synRecord)
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.JGT.Imm(asm.R1, SYNFrameMax, "accept"),
		// the service's key: destination address and port, protocol
		asm.LoadMem(asm.R1, asm.RFP, f.key+4, asm.Word),
		asm.StoreMem(asm.RFP, schedKeyAt, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, f.key+10, asm.Half),
		asm.StoreMem(asm.RFP, schedKeyAt+4, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, schedKeyAt+6, asm.R9, asm.Byte),
		asm.StoreImm(asm.RFP, schedKeyAt+7, 0, asm.Byte),
	}
	in = append(in, bpfasm.Lookup(f.sched, schedKeyAt, "accept")...)
	in = append(in,
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R1, asm.R7, schedN, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "accept"),
		asm.JGT.Imm(asm.R1, MaxSlots, "accept"),
		asm.LoadMem(asm.R1, asm.R7, schedReplyMTU, asm.Half),
		asm.StoreMem(asm.RFP, replyValueAt+vMTU, asm.R1, asm.Half),
		// the entry's counters start at 0, its deadline one timeout away
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, schedValueAt+vPackets, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, schedValueAt+vBytes, asm.R1, asm.DWord),
		asm.FnKtimeGetCoarseNs.Call(),
		asm.LoadMem(asm.R1, asm.R7, schedTimeout, asm.DWord),
		asm.StoreMem(asm.RFP, schedValueAt+vTimeout, asm.R1, asm.DWord),
		asm.Add.Reg(asm.R0, asm.R1),
		asm.StoreMem(asm.RFP, schedValueAt+vDeadline, asm.R0, asm.DWord),
		// the next position of the cycle
		// (read, then added to: two CPUs may take the same slot at the same
		// instant; a fetching add returned no old value in this program)
		asm.LoadMem(asm.R1, asm.R7, schedPos, asm.DWord),
		asm.Mov.Imm(asm.R3, 1),
		asm.AddAtomic.Mem(asm.R7, asm.R3, asm.DWord, schedPos),
		asm.LoadMem(asm.R2, asm.R7, schedN, asm.Word),
		asm.JEq.Imm(asm.R2, 0, "accept"),
		asm.Mod.Reg(asm.R1, asm.R2),
		asm.And.Imm(asm.R1, MaxSlots-1),
		asm.Mul.Imm(asm.R1, schedSlotLen),
		asm.Add.Reg(asm.R7, asm.R1),
	)
	for off := int16(0); off < 40; off += 8 {
		in = append(in,
			asm.LoadMem(asm.R1, asm.R7, schedSlots+off, asm.DWord),
			asm.StoreMem(asm.RFP, schedValueAt+vNewSrc+off, asm.R1, asm.DWord),
		)
	}
	in = append(in,
		asm.LoadMem(asm.R1, asm.R7, schedSlots+40, asm.Word), // the destination
		asm.StoreMem(asm.RFP, schedValueAt+vDest, asm.R1, asm.Word),
		// the source stays the client's (NAT rewrites the destination only)
		asm.LoadMem(asm.R1, asm.RFP, f.key, asm.Word),
		asm.StoreMem(asm.RFP, schedValueAt+vNewSrc, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, f.key+8, asm.Half),
		asm.StoreMem(asm.RFP, schedValueAt+vNewSport, asm.R1, asm.Half),
		// the SYN's sequence number: the worker tells this SYN's copy from
		// a later SYN of the same ports (a retransmission, a reuse) that
		// the program left to gvsd
		asm.LoadMem(asm.R1, asm.RFP, f.buf+l4Off+4, asm.Word),
		asm.StoreMem(asm.RFP, schedValueAt+vSYNSeq, asm.R1, asm.Word),
		// R8: a NAT slot, whose connection needs a reply entry too
		asm.LoadMem(asm.R8, asm.RFP, schedValueAt+vFlags, asm.Word),
		asm.And.Imm(asm.R8, flagNAT),
	)
	in = append(in, replyEntry(f)...)
	in = append(in,
		asm.LoadMapPtr(asm.R1, f.flows).WithSymbol(label("forward")),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(f.key)),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, schedValueAt),
		asm.Mov.Imm(asm.R4, 1), // BPF_NOEXIST
		asm.FnMapUpdateElem.Call(),
		asm.JEq.Imm(asm.R0, 0, label("scheduled")),
		asm.Ja.Label(label("unreply")),
		// not recorded (synRecord): the entries go, and gvsd schedules
		asm.LoadMapPtr(asm.R1, f.flows).WithSymbol(label("unschedule")),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(f.key)),
		asm.FnMapDeleteElem.Call(),
		// not written: the reply entry goes too, and gvsd schedules
		asm.JEq.Imm(asm.R8, 0, "accept").WithSymbol(label("unreply")),
		asm.LoadMapPtr(asm.R1, f.flows),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, replyKeyAt),
		asm.FnMapDeleteElem.Call(),
		asm.Ja.Label("accept"),
	)
	in = append(in, synRecord(f)...)
	in = append(in, bpfasm.Lookup(f.flows, f.key, "accept")...)
	return append(in,
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.Ja.Label(label("alive")),
	)
}

// synRecord hands a SYN the program scheduled to gvsd as a record in the
// SYN ring (its interface, its length, the slot's destination and the
// frame), written without waking anyone (BPF_RB_NO_WAKEUP): workers read
// the ring before each batch of their own rings and at least every 10 ms
// (dataplane.drainSYNs). The frame is then taken like any entry's and
// never reaches a ring, so a kernel-scheduled connection costs gvsd no
// wake-up and no lookup of its own. A full ring unschedules the SYN (its
// entries go; schedule checked that the frame fits a record): a
// redirected frame cannot be passed on to gvsd's rings as well.
func synRecord(f family) asm.Instructions {
	label := func(l string) string { return l + f.sfx }
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, f.syns).WithSymbol(label("scheduled")),
		asm.Mov.Imm(asm.R2, synRecordLen),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, label("unschedule")),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R1, asm.R6, skbIfindex, asm.Word),
		asm.StoreMem(asm.R7, recIfindex, asm.R1, asm.Word),
		asm.LoadMem(asm.R4, asm.R6, skbLen, asm.Word),
		asm.StoreMem(asm.R7, recLen, asm.R4, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, schedValueAt+vDest, asm.Word),
		asm.StoreMem(asm.R7, recDest, asm.R1, asm.Word),
		asm.StoreImm(asm.R7, recDest+4, 0, asm.Word),
		// the length's bounds again, for the verifier (the call lost them)
		asm.JGT.Imm(asm.R4, SYNFrameMax, label("discard")),
		asm.JLT.Imm(asm.R4, 1, label("discard")),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.R7),
		asm.Add.Imm(asm.R3, recFrame),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, label("discard")),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Mov.Imm(asm.R2, rbNoWakeup),
		asm.FnRingbufSubmit.Call(),
		asm.Ja.Label(label("recorded")),
		asm.Mov.Reg(asm.R1, asm.R7).WithSymbol(label("discard")),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufDiscard.Call(),
		asm.Ja.Label(label("unschedule")),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(label("recorded")),
	}
}

// replyEntry writes the reply entry of a NAT connection the program is
// scheduling (R8 not 0; otherwise it jumps to "forward"): key the real
// server's address and port to the client's, rewrite the source back to
// the service, out of the interface the SYN came in on, to the MAC it
// came from. The new flow's value is on the stack at schedValueAt, the
// reply's path MTU at replyValueAt already. A reply entry already there
// (an old connection's) leaves the SYN to gvsd.
func replyEntry(f family) asm.Instructions {
	label := func(l string) string { return l + f.sfx }
	return asm.Instructions{
		asm.JEq.Imm(asm.R8, 0, label("forward")),
		asm.LoadMem(asm.R1, asm.RFP, schedValueAt+vNewDst, asm.Word),
		asm.StoreMem(asm.RFP, replyKeyAt, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, f.key, asm.Word),
		asm.StoreMem(asm.RFP, replyKeyAt+4, asm.R1, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vNewDst, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, schedValueAt+vNewDport, asm.Half),
		asm.StoreMem(asm.RFP, replyKeyAt+8, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, f.key+8, asm.Half),
		asm.StoreMem(asm.RFP, replyKeyAt+10, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, replyValueAt+vNewDport, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, replyKeyAt+12, asm.R9, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, f.key+4, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vNewSrc, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, f.key+10, asm.Half),
		asm.StoreMem(asm.RFP, replyValueAt+vNewSport, asm.R1, asm.Half),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, replyValueAt+vPackets, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, replyValueAt+vBytes, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, replyValueAt+vMark, asm.R1, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vOverhead, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, replyValueAt+vSYNSeq, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, schedValueAt+vDeadline, asm.DWord),
		asm.StoreMem(asm.RFP, replyValueAt+vDeadline, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, schedValueAt+vTimeout, asm.DWord),
		asm.StoreMem(asm.RFP, replyValueAt+vTimeout, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, schedValueAt+vDest, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vDest, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R6, skbIfindex, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vIfindex, asm.R1, asm.Word),
		// the MACs swapped: to the SYN's source, from its destination
		asm.LoadMem(asm.R1, asm.RFP, f.buf+6, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vMACs, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, f.buf+10, asm.Half),
		asm.StoreMem(asm.RFP, replyValueAt+vMACs+4, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, f.buf, asm.Half),
		asm.StoreMem(asm.RFP, replyValueAt+vMACs+6, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, f.buf+2, asm.Word),
		asm.StoreMem(asm.RFP, replyValueAt+vMACs+8, asm.R1, asm.Word),
		asm.StoreImm(asm.RFP, replyValueAt+vFlags, flagNAT|flagKernel|flagKernelReply, asm.Word),
		asm.LoadMapPtr(asm.R1, f.flows),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, replyKeyAt),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, replyValueAt),
		asm.Mov.Imm(asm.R4, 1), // BPF_NOEXIST
		asm.FnMapUpdateElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "accept"),
	}
}

// rewrite emits the checksum updates and the store of one address or
// port (size 4 or 2) that the entry at R8 changes (old: its place in the
// key on the stack, new: in the entry); R6 the skb, R7 the
// transport checksum's offset, R9 the slot's flags.
func rewrite(old, new int16, at int32, size int32, n int) asm.Instructions {
	sz := asm.Half
	l4flags := size
	if size == 4 {
		sz = asm.Word
		l4flags |= csumPseudo
	}
	skip := fmt.Sprintf("same%d", n)
	l4 := fmt.Sprintf("l4_%d", n)
	in := append(asm.Instructions{
		asm.LoadMem(asm.R3, asm.RFP, old, sz),
		asm.LoadMem(asm.R4, asm.R8, new, sz),
		asm.JEq.Reg(asm.R3, asm.R4, skip),
	}, l4Replace(l4flags, l4)...)
	if size == 4 {
		in = append(in,
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, ipCheck),
			asm.LoadMem(asm.R3, asm.RFP, old, sz),
			asm.LoadMem(asm.R4, asm.R8, new, sz),
			asm.Mov.Imm(asm.R5, 4),
			asm.FnL3CsumReplace.Call(),
			asm.JNE.Imm(asm.R0, 0, "error"),
		)
	}
	in = append(in, bpfasm.StoreFrom(asm.R8, new, at, size, "error")...)
	// a no-op that carries the label the comparison jumps to
	return append(in, asm.Mov.Imm(asm.R0, 0).WithSymbol(skip))
}

// linearHeaders makes sure the packet's first n bytes are in the skb's
// linear part (pulling them in if need be), then jumps to ok with R2 the
// packet's start and R3 its end; a failure jumps to "error".
func linearHeaders(n int32, ok string) asm.Instructions {
	in := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R6, bpfasm.SkbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, bpfasm.SkbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R2),
		asm.Add.Imm(asm.R1, n),
		asm.JLE.Reg(asm.R1, asm.R3, ok),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, n),
		asm.FnSkbPullData.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
	}
	in = append(in, bpfasm.Linear(n, "error")...)
	return append(in, asm.Ja.Label(ok))
}

// forwardTail writes the next hop's MACs (at macs in the entry R8) into
// the packet at R2, sets a tunnel's mark (at mark) and, for NAT, leaves
// the flags in R9 and the transport checksum's offset in R7
// (after the transport header at l4); without NAT it jumps to
// "redirect"+sfx.
func forwardTail(macs, mark int16, l4 int32, sfx string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.R8, macs, asm.Word),
		asm.StoreMem(asm.R2, 0, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R8, macs+4, asm.Word),
		asm.StoreMem(asm.R2, 4, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R8, macs+8, asm.Word),
		asm.StoreMem(asm.R2, 8, asm.R1, asm.Word),
		// a tunnel's mark: tcencap's egress program encapsulates
		asm.LoadMem(asm.R1, asm.R8, mark, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "nat"+sfx),
		asm.StoreMem(asm.R6, skbMark, asm.R1, asm.Word),
		asm.LoadMem(asm.R9, asm.RFP, flagsAt, asm.Word).WithSymbol("nat" + sfx),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, flagNAT),
		asm.JEq.Imm(asm.R1, 0, "redirect"+sfx),
		asm.Mov.Imm(asm.R7, l4+16),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, flagUDP),
		asm.JEq.Imm(asm.R1, 0, "fields"+sfx),
		asm.Mov.Imm(asm.R7, l4+6),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("fields" + sfx),
	}
}

// l4Replace calls bpf_l4_csum_replace(skb, R7, R3, R4, flags), with
// BPF_F_MARK_MANGLED_0 for UDP (the flags in R9: a zero checksum
// stays zero); l4 is a label of its own.
func l4Replace(flags int32, l4 string) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R5, flags),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, flagUDP),
		asm.JEq.Imm(asm.R1, 0, l4),
		asm.Or.Imm(asm.R5, csumMangled),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol(l4),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.FnL4CsumReplace.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
	}
}

// rewrite16 emits the transport checksum update (by the difference
// bpf_csum_diff computes) and the store of an IPv6 address the entry at
// R8 changes; old and new, registers as for rewrite.
func rewrite16(old, new int16, at int32, n int) asm.Instructions {
	skip, diff, l4 := fmt.Sprintf("same%d", n), fmt.Sprintf("diff%d", n), fmt.Sprintf("l4_%d", n)
	in := asm.Instructions{
		asm.LoadMem(asm.R3, asm.RFP, old, asm.DWord),
		asm.LoadMem(asm.R4, asm.R8, new, asm.DWord),
		asm.JNE.Reg(asm.R3, asm.R4, diff),
		asm.LoadMem(asm.R3, asm.RFP, old+8, asm.DWord),
		asm.LoadMem(asm.R4, asm.R8, new+8, asm.DWord),
		asm.JEq.Reg(asm.R3, asm.R4, skip),
		asm.Mov.Reg(asm.R1, asm.RFP).WithSymbol(diff),
		asm.Add.Imm(asm.R1, int32(old)),
		asm.Mov.Imm(asm.R2, 16),
		asm.Mov.Reg(asm.R3, asm.R8),
		asm.Add.Imm(asm.R3, int32(new)),
		asm.Mov.Imm(asm.R4, 16),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnCsumDiff.Call(),
		// the pseudo-header's sum changes by that difference (size 0:
		// "to" is a difference)
		asm.Mov.Reg(asm.R4, asm.R0),
		asm.Mov.Imm(asm.R3, 0),
	}
	in = append(in, l4Replace(csumPseudo, l4)...)
	in = append(in, bpfasm.StoreFrom(asm.R8, new, at, 16, "error")...)
	return append(in, asm.Mov.Imm(asm.R0, 0).WithSymbol(skip))
}

// forwarding is the program's second part: it forwards a packet decide
// took, from "fwd" (IPv4) or "fwd6". R6 the skb, R8 the entry, R7 and R9
// as rewrite wants them; a failed helper counts in errs and drops.
func forwarding(errs int) asm.Instructions {
	k4, k6 := ipv4.key, ipv6.key
	ttlAdd := int32(binary.NativeEndian.Uint16([]byte{0x01, 0x00})) // htons(0x0100)
	// the Ethernet and IPv4 headers in the linear part
	in := bpfasm.Labeled("fwd", linearHeaders(l4Off, "linear"))
	in = append(in,
		// TTL: decremented, the header checksum updated as ip_decrease_ttl does
		asm.LoadMem(asm.R1, asm.R2, ipCheck, asm.Half).WithSymbol("linear"),
		asm.Add.Imm(asm.R1, ttlAdd),
		asm.JLT.Imm(asm.R1, 0xffff, "check"),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R2, ipCheck, asm.R1, asm.Half).WithSymbol("check"),
		asm.LoadMem(asm.R1, asm.R2, ipTTL, asm.Byte),
		asm.Sub.Imm(asm.R1, 1),
		asm.StoreMem(asm.R2, ipTTL, asm.R1, asm.Byte),
	)
	in = append(in, forwardTail(vMACs, vMark, l4Off, "")...)
	in = append(in, rewrite(k4, vNewSrc, ipSrc, 4, 0)...)
	in = append(in, rewrite(k4+4, vNewDst, ipDst, 4, 1)...)
	in = append(in, rewrite(k4+8, vNewSport, l4Off, 2, 2)...)
	in = append(in, rewrite(k4+10, vNewDport, l4Off+2, 2, 3)...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.R8, vIfindex, asm.Word).WithSymbol("redirect"),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),
	)

	// IPv6: the Ethernet and IPv6 headers in the linear part
	const (
		ip6HopLimit = ethHdr + 7
		l4Off6      = ethHdr + ip6Hdr
	)
	in = append(in, bpfasm.Labeled("fwd6", linearHeaders(l4Off6, "linear6"))...)
	in = append(in,
		// the hop limit (no header checksum in IPv6)
		asm.LoadMem(asm.R1, asm.R2, ip6HopLimit, asm.Byte).WithSymbol("linear6"),
		asm.Sub.Imm(asm.R1, 1),
		asm.StoreMem(asm.R2, ip6HopLimit, asm.R1, asm.Byte),
	)
	in = append(in, forwardTail(v6MACs, v6Mark, l4Off6, "6")...)
	in = append(in, rewrite16(k6, v6NewSrc, ethHdr+8, 4)...)
	in = append(in, rewrite16(k6+16, v6NewDst, ethHdr+24, 5)...)
	in = append(in, rewrite(k6+32, v6NewSport, l4Off6, 2, 6)...)
	in = append(in, rewrite(k6+34, v6NewDport, l4Off6+2, 2, 7)...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.R8, v6Ifindex, asm.Word).WithSymbol("redirect6"),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),
		asm.StoreImm(asm.RFP, flagsAt, 0, asm.Word).WithSymbol("error"),
	)
	in = append(in, bpfasm.Lookup(errs, flagsAt, "shot")...)
	return append(in,
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0),
		asm.Mov.Imm(asm.R0, tcActShot).WithSymbol("shot"),
		asm.Return(),
	)
}
