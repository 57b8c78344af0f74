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

// Key is a flow as it arrives at the director: IPv4 addresses, ports
// and protocol (TCP or UDP).
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
}

// Now returns CLOCK_MONOTONIC, the clock of the programs' deadlines.
func Now() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// FastPath is the loaded programs and their maps.
type FastPath struct {
	flows  *ebpf.Map
	slots  *ebpf.Map
	filter *ebpf.Program
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
	valueLen  = 72

	sIfindex = 0
	sLen     = 4
	sValid   = 8
	sFlags   = 12
	sOld     = 16 // the key: old source, destination, ports, protocol
	sErrors  = 64
	slotLen  = 72

	flagNAT = 1 // addresses or ports change
	flagUDP = 2 // set in the slot: UDP (a zero checksum stays zero)
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
	slots, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_fp_slot", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: slotLen, MaxEntries: 1,
	})
	if err != nil {
		flows.Close()
		return nil, fmt.Errorf("fastpath: slot map: %w", err)
	}
	fp := &FastPath{flows: flows, slots: slots, links: map[int]link.Link{}}
	fp.filter, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "gvs_fp_filter", Type: ebpf.SocketFilter, License: "Dual MIT/GPL",
		Instructions: filterProgram(flows.FD(), slots.FD()),
	})
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("fastpath: load socket filter: %w", err)
	}
	fp.tc, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "gvs_fp_fwd", Type: ebpf.SchedCLS, License: "Dual MIT/GPL",
		Instructions: forwardProgram(slots.FD()),
	})
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("fastpath: load forwarding program: %w", err)
	}
	return fp, nil
}

// FilterFD is the socket filter, for SO_ATTACH_BPF on every receive
// socket of the data path (before it is bound).
func (fp *FastPath) FilterFD() int { return fp.filter.FD() }

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

func (k *Key) marshal() ([keyLen]byte, error) {
	var b [keyLen]byte
	if !k.Src.Is4() || !k.Dst.Is4() {
		return b, fmt.Errorf("fastpath: %v to %v: IPv4 only", k.Src, k.Dst)
	}
	if k.Proto != unix.IPPROTO_TCP && k.Proto != unix.IPPROTO_UDP {
		return b, fmt.Errorf("fastpath: protocol %d: TCP and UDP only", k.Proto)
	}
	s, d := k.Src.As4(), k.Dst.As4()
	copy(b[0:], s[:])
	copy(b[4:], d[:])
	binary.BigEndian.PutUint16(b[8:], k.SrcPort)
	binary.BigEndian.PutUint16(b[10:], k.DstPort)
	b[12] = k.Proto
	return b, nil
}

func unmarshalKey(b []byte) Key {
	return Key{
		Src: netip.AddrFrom4([4]byte(b[0:4])), Dst: netip.AddrFrom4([4]byte(b[4:8])),
		SrcPort: binary.BigEndian.Uint16(b[8:]), DstPort: binary.BigEndian.Uint16(b[10:]), Proto: b[12],
	}
}

// Add writes (or replaces) the entry of flow k; its deadline starts at
// now plus the timeout.
func (fp *FastPath) Add(k Key, r Rewrite) error {
	kb, err := k.marshal()
	if err != nil {
		return err
	}
	if !r.Src.Is4() || !r.Dst.Is4() {
		return fmt.Errorf("fastpath: rewrite to %v, %v: IPv4 only", r.Src, r.Dst)
	}
	if r.MTU <= 0 || r.MTU > 0xffff || r.Overhead < 0 || r.Overhead > 0xffff || r.Timeout <= 0 || r.Ifindex <= 0 {
		return fmt.Errorf("fastpath: rewrite: MTU %d, overhead %d, timeout %v, interface %d out of range", r.MTU, r.Overhead, r.Timeout, r.Ifindex)
	}
	var v [valueLen]byte
	ne := binary.NativeEndian
	ne.PutUint64(v[vDeadline:], uint64(Now()+r.Timeout))
	ne.PutUint64(v[vTimeout:], uint64(r.Timeout))
	s, d := r.Src.As4(), r.Dst.As4()
	copy(v[vNewSrc:], s[:])
	copy(v[vNewDst:], d[:])
	binary.BigEndian.PutUint16(v[vNewSport:], r.SrcPort)
	binary.BigEndian.PutUint16(v[vNewDport:], r.DstPort)
	ne.PutUint32(v[vIfindex:], uint32(r.Ifindex))
	copy(v[vMACs:], r.DstMAC[:])
	copy(v[vMACs+6:], r.SrcMAC[:])
	ne.PutUint32(v[vMark:], r.Mark)
	ne.PutUint16(v[vMTU:], uint16(r.MTU))
	ne.PutUint16(v[vOverhead:], uint16(r.Overhead))
	if r.Src != k.Src || r.Dst != k.Dst || r.SrcPort != k.SrcPort || r.DstPort != k.DstPort {
		ne.PutUint32(v[vFlags:], flagNAT)
	}
	if err := fp.flows.Put(kb[:], v[:]); err != nil {
		return fmt.Errorf("fastpath: add %v:%d to %v:%d: %w", k.Src, k.SrcPort, k.Dst, k.DstPort, err)
	}
	return nil
}

// Delete removes the entry of flow k; a missing entry is not an error.
func (fp *FastPath) Delete(k Key) error {
	kb, err := k.marshal()
	if err != nil {
		return err
	}
	if err := fp.flows.Delete(kb[:]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("fastpath: delete: %w", err)
	}
	return nil
}

// Lookup returns the counters of flow k's entry; false when it has none.
func (fp *FastPath) Lookup(k Key) (Counters, bool) {
	kb, err := k.marshal()
	if err != nil {
		return Counters{}, false
	}
	var vb [valueLen]byte
	if err := fp.flows.Lookup(kb[:], &vb); err != nil {
		return Counters{}, false
	}
	return counters(vb[:]), true
}

func counters(vb []byte) Counters {
	ne := binary.NativeEndian
	return Counters{
		Packets: ne.Uint64(vb[vPackets:]), Bytes: ne.Uint64(vb[vBytes:]),
		Deadline: time.Duration(ne.Uint64(vb[vDeadline:])), Timeout: time.Duration(ne.Uint64(vb[vTimeout:])),
	}
}

// walkBatch is how many entries Walk reads per system call.
const walkBatch = 1024

// Walk calls fn for every entry with its counters; an entry for which fn
// returns false is deleted. It reads the map in batches (a system call
// per 1,024 entries).
func (fp *FastPath) Walk(fn func(k Key, c Counters) bool) error {
	keys := make([][keyLen]byte, walkBatch)
	vals := make([][valueLen]byte, walkBatch)
	var gone [][keyLen]byte
	var cursor ebpf.MapBatchCursor
	var err error
	for {
		var n int
		n, err = fp.flows.BatchLookup(&cursor, keys, vals, nil)
		for i := 0; i < n; i++ {
			if !fn(unmarshalKey(keys[i][:]), counters(vals[i][:])) {
				gone = append(gone, keys[i])
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = nil
			break
		}
		if err != nil {
			break
		}
	}
	if len(gone) > 0 {
		if _, e := fp.flows.BatchDelete(gone, nil); e != nil && !errors.Is(e, ebpf.ErrKeyNotExist) {
			err = errors.Join(err, e)
		}
	}
	return err
}

// Flush deletes every entry.
func (fp *FastPath) Flush() error {
	return fp.Walk(func(Key, Counters) bool { return false })
}

// Errors counts the packets the forwarding program dropped because a
// kernel helper failed (a rewrite it could not make).
func (fp *FastPath) Errors() uint64 {
	var per [][]byte
	if err := fp.slots.Lookup(uint32(0), &per); err != nil {
		return 0
	}
	var n uint64
	for _, s := range per {
		if len(s) >= slotLen {
			n += binary.NativeEndian.Uint64(s[sErrors:])
		}
	}
	return n
}

// Close detaches the forwarding program and frees the programs and maps
// (socket filters stay with their sockets until those close).
func (fp *FastPath) Close() error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	var err error
	for ix, l := range fp.links {
		err = errors.Join(err, l.Close())
		delete(fp.links, ix)
	}
	for _, p := range []*ebpf.Program{fp.tc, fp.filter} {
		if p != nil {
			err = errors.Join(err, p.Close())
		}
	}
	return errors.Join(err, fp.slots.Close(), fp.flows.Close())
}

// Offsets in struct __sk_buff and the kernel's constants.
const (
	skbLen     = 0
	skbMark    = 8
	skbIfindex = 40
	skbData    = 76
	skbDataEnd = 80
	skbGSOSize = 176

	ethHdr   = 14
	ipHdr    = 20
	ipCheck  = ethHdr + 10
	ipTTL    = ethHdr + 8
	ipSrc    = ethHdr + 12
	ipDst    = ethHdr + 16
	l4Off    = ethHdr + ipHdr
	tcpCheck = l4Off + 16
	udpCheck = l4Off + 6
	tcpFlags = l4Off + 13
	tcpDoff  = l4Off + 12

	protoTCP = 6
	protoUDP = 17

	tcpFINSYNRST = 0x07

	csumPseudo  = 1 << 4 // BPF_F_PSEUDO_HDR
	csumMangled = 1 << 5 // BPF_F_MARK_MANGLED_0

	tcxNext     = -1
	tcActShot   = 2
	acceptFrame = 0x7fffffff // the whole frame to the socket
	udpPeek     = l4Off + 8  // Ethernet, IPv4 and UDP headers (TCP: its ports and sequence number)
	peekLen     = tcpFlags + 1
)

// filterProgram is the socket filter: it decides whether a frame takes
// the fast path (returns 0: not copied to the ring) and leaves the
// decision in this CPU's slot. R6 the skb, R7 the flow's entry, R8 the
// clock then the slot, R9 the protocol. Stack: the frame's first bytes
// at fp-66 (48, of which UDP needs 42; the IPv4 addresses 8-aligned), the flow key at fp-16,
// the slot index at fp-72.
func filterProgram(flows, slots int) asm.Instructions {
	const (
		buf     = -66 // so that the addresses are aligned
		key     = -16
		slotKey = -72
	)
	ne := binary.NativeEndian
	ethIPv4 := int32(ne.Uint16([]byte{0x08, 0x00}))
	fragMask := int32(ne.Uint16([]byte{0x3f, 0xff})) // MF and the offset
	in := append(asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}, bpfasm.LoadBytes(0, buf, udpPeek, "accept")...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, buf+12, asm.Half),
		asm.JNE.Imm(asm.R1, ethIPv4, "accept"),
		// IPv4, no options, not a fragment, a TTL left to decrement
		asm.LoadMem(asm.R1, asm.RFP, buf+ethHdr, asm.Byte),
		asm.JNE.Imm(asm.R1, 0x45, "accept"),
		asm.LoadMem(asm.R1, asm.RFP, buf+ethHdr+6, asm.Half),
		asm.And.Imm(asm.R1, fragMask),
		asm.JNE.Imm(asm.R1, 0, "accept"),
		asm.LoadMem(asm.R1, asm.RFP, buf+ipTTL, asm.Byte),
		asm.JLE.Imm(asm.R1, 1, "accept"),
		asm.LoadMem(asm.R9, asm.RFP, buf+ethHdr+9, asm.Byte),
		asm.JEq.Imm(asm.R9, protoUDP, "key"),
		asm.JNE.Imm(asm.R9, protoTCP, "accept"),
	)
	// TCP: the data offset and flags too
	in = append(in, bpfasm.LoadBytes(tcpDoff, buf+tcpDoff, 2, "accept")...)
	in = append(in,
		// the key: addresses, ports, protocol and three zero bytes
		asm.LoadMem(asm.R1, asm.RFP, buf+ipSrc, asm.Word).WithSymbol("key"),
		asm.StoreMem(asm.RFP, key, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, buf+ipDst, asm.Word),
		asm.StoreMem(asm.RFP, key+4, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, buf+l4Off, asm.Word),
		asm.StoreMem(asm.RFP, key+8, asm.R1, asm.Word),
		asm.StoreMem(asm.RFP, key+12, asm.R9, asm.Word),
	)
	in = append(in, bpfasm.Lookup(flows, key, "accept")...)
	in = append(in,
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.JEq.Imm(asm.R9, protoUDP, "alive"),
		// a SYN, FIN or RST ends the fast path: the engine sees the transition
		asm.LoadMem(asm.R1, asm.RFP, buf+tcpFlags, asm.Byte),
		asm.And.Imm(asm.R1, tcpFINSYNRST),
		asm.JNE.Imm(asm.R1, 0, "forget"),
		// past its deadline the connection is the engine's to expire
		asm.FnKtimeGetNs.Call().WithSymbol("alive"),
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.LoadMem(asm.R1, asm.R7, vDeadline, asm.DWord),
		asm.JGT.Reg(asm.R8, asm.R1, "forget"),
		// the path MTU: a plain packet that does not fit is answered by
		// gvsd (fragmentation needed or fragments); a super-frame's
		// segments, shrunk by a tunnel's overhead, must fit
		asm.LoadMem(asm.R2, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R2, ethHdr),
		asm.LoadMem(asm.R3, asm.R6, skbGSOSize, asm.Word),
		asm.LoadMem(asm.R4, asm.R7, vMTU, asm.Half),
		asm.JNE.Imm(asm.R3, 0, "gso"),
		asm.JGT.Reg(asm.R2, asm.R4, "accept"),
		asm.Ja.Label("fits"),
		asm.JEq.Imm(asm.R9, protoUDP, "accept").WithSymbol("gso"),
		asm.LoadMem(asm.R1, asm.RFP, buf+tcpDoff, asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.LSh.Imm(asm.R1, 2),
		asm.Add.Imm(asm.R1, ipHdr),
		asm.Add.Reg(asm.R1, asm.R3),
		asm.LoadMem(asm.R5, asm.R7, vOverhead, asm.Half),
		asm.Add.Reg(asm.R4, asm.R5),
		asm.JGT.Reg(asm.R1, asm.R4, "accept"),
		// taken: the deadline moves on, the counters count
		asm.LoadMem(asm.R1, asm.R7, vTimeout, asm.DWord).WithSymbol("fits"),
		asm.Add.Reg(asm.R1, asm.R8),
		asm.StoreMem(asm.R7, vDeadline, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, vPackets),
		asm.AddAtomic.Mem(asm.R7, asm.R2, asm.DWord, vBytes),
		// the slot tells the TC program what to do with this packet
		asm.StoreImm(asm.RFP, slotKey, 0, asm.Word),
	)
	in = append(in, bpfasm.Lookup(slots, slotKey, "accept")...)
	in = append(in,
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.LoadMem(asm.R1, asm.R6, skbIfindex, asm.Word),
		asm.StoreMem(asm.R8, sIfindex, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.StoreMem(asm.R8, sLen, asm.R1, asm.Word),
		asm.StoreImm(asm.R8, sValid, 1, asm.Word),
		asm.LoadMem(asm.R1, asm.R7, vFlags, asm.Word),
		asm.JNE.Imm(asm.R9, protoUDP, "flags"),
		asm.Or.Imm(asm.R1, flagUDP),
		asm.StoreMem(asm.R8, sFlags, asm.R1, asm.Word).WithSymbol("flags"),
		asm.LoadMem(asm.R1, asm.RFP, key, asm.DWord),
		asm.StoreMem(asm.R8, sOld, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, key+8, asm.DWord),
		asm.StoreMem(asm.R8, sOld+8, asm.R1, asm.DWord),
	)
	for off := int16(vNewSrc); off < vMTU; off += 8 {
		in = append(in,
			asm.LoadMem(asm.R1, asm.R7, off, asm.DWord),
			asm.StoreMem(asm.R8, off, asm.R1, asm.DWord),
		)
	}
	return append(in,
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		// retired: the deadline 0 sends every later packet to gvsd,
		// whose sweep reads the last counts and deletes the entry
		asm.Mov.Imm(asm.R1, 0).WithSymbol("forget"),
		asm.StoreMem(asm.R7, vDeadline, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, acceptFrame).WithSymbol("accept"),
		asm.Return(),
	)
}

// rewrite emits the checksum updates and the store of one address or
// port (size 4 or 2) that the slot at R8 changes; R6 the skb, R7 the
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
	in := asm.Instructions{
		asm.LoadMem(asm.R3, asm.R8, old, sz),
		asm.LoadMem(asm.R4, asm.R8, new, sz),
		asm.JEq.Reg(asm.R3, asm.R4, skip),
		asm.Mov.Imm(asm.R5, l4flags),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, flagUDP),
		asm.JEq.Imm(asm.R1, 0, l4),
		asm.Or.Imm(asm.R5, csumMangled),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol(l4),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.FnL4CsumReplace.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
	}
	if size == 4 {
		in = append(in,
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, ipCheck),
			asm.LoadMem(asm.R3, asm.R8, old, sz),
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

// forwardProgram is the TCX ingress program: it carries out the socket
// filter's decision for the packet in this CPU's slot. R6 the skb, R8
// the slot, R7 and R9 as rewrite wants them.
func forwardProgram(slots int) asm.Instructions {
	ttlAdd := int32(binary.NativeEndian.Uint16([]byte{0x01, 0x00})) // htons(0x0100)
	in := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.StoreImm(asm.RFP, -8, 0, asm.Word),
	}
	in = append(in, bpfasm.Lookup(slots, -8, "next")...)
	in = append(in,
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.LoadMem(asm.R1, asm.R8, sValid, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "next"),
		asm.StoreImm(asm.R8, sValid, 0, asm.Word),
		// the slot must be this packet's: the filter ran on it just before
		asm.LoadMem(asm.R1, asm.R8, sIfindex, asm.Word),
		asm.LoadMem(asm.R2, asm.R6, skbIfindex, asm.Word),
		asm.JNE.Reg(asm.R1, asm.R2, "next"),
		asm.LoadMem(asm.R1, asm.R8, sLen, asm.Word),
		asm.LoadMem(asm.R2, asm.R6, skbLen, asm.Word),
		asm.JNE.Reg(asm.R1, asm.R2, "next"),
		// the Ethernet and IPv4 headers in the linear part
		asm.LoadMem(asm.R2, asm.R6, skbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R2),
		asm.Add.Imm(asm.R1, l4Off),
		asm.JLE.Reg(asm.R1, asm.R3, "linear"),
		// beyond the linear part: pull them in
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, l4Off),
		asm.FnSkbPullData.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
		asm.LoadMem(asm.R2, asm.R6, skbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R2),
		asm.Add.Imm(asm.R1, l4Off),
		asm.JGT.Reg(asm.R1, asm.R3, "error"),
		// TTL: decremented, the header checksum updated as ip_decrease_ttl does
		asm.LoadMem(asm.R1, asm.R2, ipCheck, asm.Half).WithSymbol("linear"),
		asm.Add.Imm(asm.R1, ttlAdd),
		asm.JLT.Imm(asm.R1, 0xffff, "check"),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R2, ipCheck, asm.R1, asm.Half).WithSymbol("check"),
		asm.LoadMem(asm.R1, asm.R2, ipTTL, asm.Byte),
		asm.Sub.Imm(asm.R1, 1),
		asm.StoreMem(asm.R2, ipTTL, asm.R1, asm.Byte),
		// the next hop's MACs
		asm.LoadMem(asm.R1, asm.R8, vMACs, asm.Word),
		asm.StoreMem(asm.R2, 0, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R8, vMACs+4, asm.Word),
		asm.StoreMem(asm.R2, 4, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R8, vMACs+8, asm.Word),
		asm.StoreMem(asm.R2, 8, asm.R1, asm.Word),
		// a tunnel's mark: tcencap's egress program encapsulates
		asm.LoadMem(asm.R1, asm.R8, vMark, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "nat"),
		asm.StoreMem(asm.R6, skbMark, asm.R1, asm.Word),
		asm.LoadMem(asm.R9, asm.R8, sFlags, asm.Word).WithSymbol("nat"),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, flagNAT),
		asm.JEq.Imm(asm.R1, 0, "redirect"),
		asm.Mov.Imm(asm.R7, tcpCheck),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.And.Imm(asm.R1, flagUDP),
		asm.JEq.Imm(asm.R1, 0, "fields"),
		asm.Mov.Imm(asm.R7, udpCheck),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("fields"),
	)
	in = append(in, rewrite(sOld, vNewSrc, ipSrc, 4, 0)...)
	in = append(in, rewrite(sOld+4, vNewDst, ipDst, 4, 1)...)
	in = append(in, rewrite(sOld+8, vNewSport, l4Off, 2, 2)...)
	in = append(in, rewrite(sOld+10, vNewDport, l4Off+2, 2, 3)...)
	return append(in,
		asm.LoadMem(asm.R1, asm.R8, vIfindex, asm.Word).WithSymbol("redirect"),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R1, 1).WithSymbol("error"),
		asm.AddAtomic.Mem(asm.R8, asm.R1, asm.DWord, sErrors),
		asm.Mov.Imm(asm.R0, tcActShot),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
	)
}
