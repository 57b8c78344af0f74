//go:build linux

package tcencap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// MarkBase is the top half of the skb marks that ask for encapsulation;
// the low 16 bits are the tunnel's index (1 to MaxTunnels). GVS's other
// mark (0x4756, local clients) is outside this range.
const (
	MarkBase   = 0x47560000
	markMask   = 0xffff0000
	MaxTunnels = 0x7fff
	// ShrinkGSO in a mark asks for a GSO super-frame's segment size to
	// shrink by the tunnel's overhead (the fast path's frames keep the
	// client's); without it the sender's gso_size already fits.
	ShrinkGSO = 0x8000
)

// Kind is the tunnel's encapsulation.
type Kind uint8

// The encapsulations the program writes, each as packet.Encap does (no
// checksums: a GUE UDP checksum or a GRE checksum is not filled by the
// kernel's segmentation of a bpf_skb_adjust_room encapsulation, so those
// tunnels stay in user space).
const (
	IPIP Kind = iota // IPv4 in IPv4, protocol 4
	GUE              // IPv4 in UDP + GUE variant 0 (proto 4), over IPv4
	GRE              // IPv4 in GRE (EtherType 0x0800, no options), over IPv4
)

// Tunnel is one encapsulation: outer addresses (IPv4), kind and, for GUE,
// the real server's UDP port.
type Tunnel struct {
	Kind     Kind
	Src, Dst netip.Addr
	Port     uint16 // GUE only
}

// Encap is the loaded program and its map of tunnels, attached to the
// egress of some interfaces.
type Encap struct {
	prog  *ebpf.Program
	m     *ebpf.Map
	mu    sync.Mutex
	links map[int]link.Link
	marks map[Tunnel]uint32
}

// The map value: outer source and destination (network order), kind,
// a pad byte, the GUE destination port (network order), 4 pad bytes.
const (
	valSrc   = 0
	valDst   = 4
	valKind  = 8
	valPort  = 10
	valueLen = 16
)

// Open loads the program and its map. It fails where the kernel cannot
// load it (no privileges, no BPF).
func Open() (*Encap, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_tunnels", Type: ebpf.Hash, KeySize: 4, ValueSize: valueLen, MaxEntries: MaxTunnels,
	})
	if err != nil {
		return nil, fmt.Errorf("tcencap: map: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "gvs_tun_gso",
		Type:         ebpf.SchedCLS,
		License:      "Dual MIT/GPL",
		Instructions: program(m.FD()),
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("tcencap: load program: %w", err)
	}
	return &Encap{prog: prog, m: m, links: map[int]link.Link{}, marks: map[Tunnel]uint32{}}, nil
}

// Attach puts the program on the egress of interface ifindex (TCX, after
// any program already there).
func (e *Encap) Attach(ifindex int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.links[ifindex] != nil {
		return nil
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: e.prog, Attach: ebpf.AttachTCXEgress, Anchor: link.Tail()})
	if err != nil {
		return fmt.Errorf("tcencap: attach to egress of interface %d: %w", ifindex, err)
	}
	e.links[ifindex] = l
	return nil
}

// ErrFull: every tunnel index is taken.
var ErrFull = errors.New("tcencap: no free tunnel mark")

// Mark returns the skb mark that encapsulates for t, adding the tunnel to
// the map the first time. Safe for concurrent use; callers cache the
// result (a new tunnel costs a system call).
func (e *Encap) Mark(t Tunnel) (uint32, error) {
	if !t.Src.Is4() || !t.Dst.Is4() {
		return 0, fmt.Errorf("tcencap: %v to %v: IPv4 only", t.Src, t.Dst)
	}
	if t.Kind > GRE || (t.Kind == GUE) != (t.Port != 0) {
		return 0, fmt.Errorf("tcencap: %v to %v: tunnel kind %d, port %d", t.Src, t.Dst, t.Kind, t.Port)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if m, ok := e.marks[t]; ok {
		return m, nil
	}
	idx := uint32(len(e.marks) + 1)
	if idx > MaxTunnels {
		return 0, ErrFull
	}
	var v [valueLen]byte
	s, d := t.Src.As4(), t.Dst.As4()
	copy(v[valSrc:], s[:])
	copy(v[valDst:], d[:])
	v[valKind] = byte(t.Kind)
	binary.BigEndian.PutUint16(v[valPort:], t.Port)
	if err := e.m.Put(idx, v); err != nil {
		return 0, fmt.Errorf("tcencap: add tunnel %v to %v: %w", t.Src, t.Dst, err)
	}
	m := MarkBase | idx
	e.marks[t] = m
	return m, nil
}

// Close detaches the program and frees it and the map.
func (e *Encap) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	for ix, l := range e.links {
		err = errors.Join(err, l.Close())
		delete(e.links, ix)
	}
	return errors.Join(err, e.prog.Close(), e.m.Close())
}

// Offsets in struct __sk_buff and the kernel's constants.
const (
	skbLen      = 0
	skbMark     = 8
	skbProtocol = 16

	adjRoomMAC       = 1
	adjRoomFixedGSO  = 1 << 0
	adjRoomEncapIPv4 = 1 << 1
	adjRoomEncapGRE  = 1 << 3
	adjRoomEncapUDP  = 1 << 4

	tcxNext = -1
	tcxDrop = 2

	ethHdr = 14
	ipHdr  = 20
	udpHdr = 8
	gueHdr = 4
	greHdr = 4

	protoIPIP = 4
	protoTCP  = 6
	protoUDP  = 17
	protoGRE  = 47
)

// The GUE source port, as packet.Encap picks it (gueSourcePort, the
// kernel's udp_flow_src_port over the default ephemeral range): the
// splitmix64-based hash of the inner flow key (packet.FlowKey.hash with
// IPv4-mapped addresses), scaled into 32768..60999.
const (
	hashSeed    = 0x9e3779b97f4a7c15
	mixMul1     = 0xbf58476d1ce4e5b9
	mixMul2     = 0x94d049bb133111eb
	srcPortMin  = 32768
	srcPortSpan = 60999 - 32768
)

func imm64(v uint64) int64 { return int64(v) }

// mix is packet's splitmix64 finaliser on R1 (R2 scratch).
func mix() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.RSh.Imm(asm.R2, 30),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadImm(asm.R2, imm64(mixMul1), asm.DWord),
		asm.Mul.Reg(asm.R1, asm.R2),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.RSh.Imm(asm.R2, 27),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadImm(asm.R2, imm64(mixMul2), asm.DWord),
		asm.Mul.Reg(asm.R1, asm.R2),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.RSh.Imm(asm.R2, 31),
		asm.Xor.Reg(asm.R1, asm.R2),
	}
}

// mixMapped xors the low half of the IPv4-mapped address whose 4 bytes
// are at fp+off into R1 (little-endian, as packet's le64 reads it:
// 0xffff0000 | address << 32), then mixes.
func mixMapped(off int16) asm.Instructions {
	return append(asm.Instructions{
		asm.LoadMem(asm.R2, asm.RFP, off, asm.Word),
		asm.LSh.Imm(asm.R2, 32),
		asm.Mov.Imm32(asm.R3, -0x10000), // 0x00000000ffff0000
		asm.Or.Reg(asm.R2, asm.R3),
		asm.Xor.Reg(asm.R1, asm.R2),
	}, mix()...)
}

// program is the TCX egress program. R6 the skb, R7 the tunnel's map
// value, R8 its kind. Stack: the tunnel index at fp-8, the outer IPv4
// header being built at fp-32 (20 bytes, starting as the inner header's
// copy), the UDP and GUE (or GRE) header at fp-48 (12 bytes), the inner
// TCP ports at fp-56.
func program(mapFD int) asm.Instructions {
	const (
		hdr   = -32
		l4    = -48
		ports = -56
	)
	// protocol is compared as __sk_buff stores it: network order in a u32
	ethIPv4 := int32(binary.NativeEndian.Uint16([]byte{0x08, 0x00}))
	in := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbMark, asm.Word),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, int32(-0x10000)), // markMask
		asm.JNE.Imm(asm.R3, MarkBase, "next"),
		asm.Mov.Reg(asm.R9, asm.R2),
		asm.And.Imm(asm.R9, ShrinkGSO),
		asm.And.Imm(asm.R2, MaxTunnels),
		asm.StoreMem(asm.RFP, -8, asm.R2, asm.Word),
		// the mark has done its work whatever happens next
		asm.StoreImm(asm.R6, skbMark, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R8, asm.R7, valKind, asm.Byte),
		asm.LoadMem(asm.R2, asm.R6, skbProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, ethIPv4, "drop"),
		// the inner header, before the room is made: the outer one starts as its copy
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ethHdr),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, hdr),
		asm.Mov.Imm(asm.R4, ipHdr),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.JEq.Imm(asm.R8, int32(IPIP), "ipip"),
		asm.JEq.Imm(asm.R8, int32(GRE), "gre"),
		asm.JNE.Imm(asm.R8, int32(GUE), "drop"),

		// GUE: the source port hashes the inner TCP or UDP flow
		asm.LoadMem(asm.R1, asm.RFP, hdr+9, asm.Byte),
		asm.JEq.Imm(asm.R1, protoTCP, "ports"),
		asm.JNE.Imm(asm.R1, protoUDP, "drop"),
		asm.LoadMem(asm.R2, asm.RFP, hdr, asm.Byte).WithSymbol("ports"),
		asm.And.Imm(asm.R2, 0x0f),
		asm.LSh.Imm(asm.R2, 2),
		asm.Add.Imm(asm.R2, ethHdr),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, ports),
		asm.Mov.Imm(asm.R4, 4),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.LoadImm(asm.R1, imm64(hashSeed), asm.DWord),
		asm.LoadMem(asm.R2, asm.RFP, hdr+9, asm.Byte),
		asm.LSh.Imm(asm.R2, 40),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadMem(asm.R2, asm.RFP, ports, asm.Half),
		asm.HostTo(asm.BE, asm.R2, asm.Half),
		asm.LSh.Imm(asm.R2, 16),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadMem(asm.R2, asm.RFP, ports+2, asm.Half),
		asm.HostTo(asm.BE, asm.R2, asm.Half),
		asm.Xor.Reg(asm.R1, asm.R2),
	}
	// the addresses' first halves are zero (IPv4-mapped): mix(h ^ 0) twice
	in = append(in, mix()...)
	in = append(in, mix()...)
	in = append(in, mixMapped(hdr+12)...)
	in = append(in, mixMapped(hdr+16)...)
	in = append(in, mix()...)
	in = append(in,
		asm.LSh.Imm(asm.R1, 32), // uint32 of the hash
		asm.RSh.Imm(asm.R1, 32),
		asm.Mul.Imm(asm.R1, srcPortSpan),
		asm.RSh.Imm(asm.R1, 32),
		asm.Add.Imm(asm.R1, srcPortMin),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, l4, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.R7, valPort, asm.Half),
		asm.StoreMem(asm.RFP, l4+2, asm.R1, asm.Half),
		asm.StoreImm(asm.RFP, l4+6, 0, asm.Half), // no UDP checksum
		// GUE variant 0, no options, inner protocol IPIP, no flags
		asm.StoreImm(asm.RFP, l4+8, 0, asm.Byte),
		asm.StoreImm(asm.RFP, l4+9, protoIPIP, asm.Byte),
		asm.StoreImm(asm.RFP, l4+10, 0, asm.Half),
		asm.Mov.Imm(asm.R2, ipHdr+udpHdr+gueHdr),
		asm.Mov.Imm(asm.R4, adjRoomEncapIPv4|adjRoomEncapUDP|adjRoomFixedGSO),
		asm.Ja.Label("room"),

		// GRE: no checksum, key or sequence; the inner EtherType
		asm.StoreImm(asm.RFP, l4, 0, asm.Half).WithSymbol("gre"),
		asm.StoreImm(asm.RFP, l4+2, 0x08, asm.Byte),
		asm.StoreImm(asm.RFP, l4+3, 0x00, asm.Byte),
		asm.Mov.Imm(asm.R2, ipHdr+greHdr),
		asm.Mov.Imm(asm.R4, adjRoomEncapIPv4|adjRoomEncapGRE|adjRoomFixedGSO),
		asm.Ja.Label("room"),

		asm.Mov.Imm(asm.R2, ipHdr).WithSymbol("ipip"),
		asm.Mov.Imm(asm.R4, adjRoomEncapIPv4|adjRoomFixedGSO),

		// the room after the Ethernet header; the skb's GSO type gains
		// SKB_GSO_IPXIP4, _UDP_TUNNEL or _GRE and its inner headers are
		// set for the segmentation after it; gso_size as sent, or shrunk by
		// the overhead with ShrinkGSO
		asm.JEq.Imm(asm.R9, 0, "grow").WithSymbol("room"),
		asm.And.Imm(asm.R4, ^adjRoomFixedGSO),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("grow"),
		asm.Mov.Imm(asm.R3, adjRoomMAC),
		asm.FnSkbAdjustRoom.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		// version 4, 20 bytes
		asm.StoreImm(asm.RFP, hdr, 0x45, asm.Byte),
		// TOS: CE (3) becomes ECT(0) (2)
		asm.LoadMem(asm.R1, asm.RFP, hdr+1, asm.Byte),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, 3),
		asm.JNE.Imm(asm.R2, 3, "tos"),
		asm.And.Imm(asm.R1, 0xfe),
		asm.StoreMem(asm.RFP, hdr+1, asm.R1, asm.Byte).WithSymbol("tos"),
		// total length: the frame less the Ethernet header
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R1, ethHdr),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, hdr+2, asm.R1, asm.Half),
		// ID and TTL stay the inner ones; flags: DF only, no offset
		asm.LoadMem(asm.R1, asm.RFP, hdr+6, asm.Byte),
		asm.And.Imm(asm.R1, 0x40),
		asm.StoreMem(asm.RFP, hdr+6, asm.R1, asm.Byte),
		asm.StoreImm(asm.RFP, hdr+7, 0, asm.Byte),
		asm.StoreImm(asm.RFP, hdr+9, protoIPIP, asm.Byte),
		asm.JNE.Imm(asm.R8, int32(GUE), "notudp"),
		asm.StoreImm(asm.RFP, hdr+9, protoUDP, asm.Byte),
		asm.JNE.Imm(asm.R8, int32(GRE), "proto").WithSymbol("notudp"),
		asm.StoreImm(asm.RFP, hdr+9, protoGRE, asm.Byte),
		asm.StoreImm(asm.RFP, hdr+10, 0, asm.Half).WithSymbol("proto"),
		asm.LoadMem(asm.R1, asm.R7, valSrc, asm.Word),
		asm.StoreMem(asm.RFP, hdr+12, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R7, valDst, asm.Word),
		asm.StoreMem(asm.RFP, hdr+16, asm.R1, asm.Word),
		// header checksum: sum, fold, invert
		asm.Mov.Imm(asm.R1, 0),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, hdr),
		asm.Mov.Imm(asm.R4, ipHdr),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnCsumDiff.Call(),
		asm.LSh.Imm(asm.R0, 32), // the 32-bit sum, zero-extended
		asm.RSh.Imm(asm.R0, 32),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.RSh.Imm(asm.R1, 16),
		asm.And.Imm(asm.R0, 0xffff),
		asm.Add.Reg(asm.R0, asm.R1),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.RSh.Imm(asm.R1, 16),
		asm.And.Imm(asm.R0, 0xffff),
		asm.Add.Reg(asm.R0, asm.R1),
		asm.Xor.Imm(asm.R0, 0xffff),
		asm.And.Imm(asm.R0, 0xffff),
		asm.StoreMem(asm.RFP, hdr+10, asm.R0, asm.Half),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ethHdr),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, hdr),
		asm.Mov.Imm(asm.R4, ipHdr),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnSkbStoreBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.JEq.Imm(asm.R8, int32(IPIP), "next"),
		// the UDP and GUE header (UDP length: the frame less Ethernet
		// and outer IPv4 headers), or the GRE header
		asm.Mov.Imm(asm.R4, greHdr),
		asm.JNE.Imm(asm.R8, int32(GUE), "l4"),
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R1, ethHdr+ipHdr),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, l4+4, asm.R1, asm.Half),
		asm.Mov.Imm(asm.R4, udpHdr+gueHdr),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("l4"),
		asm.Mov.Imm(asm.R2, ethHdr+ipHdr),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, l4),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnSkbStoreBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcxDrop).WithSymbol("drop"),
		asm.Return(),
	)
	return in
}
