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
	"github.com/govs/gvs/internal/bpfasm"
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

// Tunnel is one encapsulation: outer addresses (both IPv4 or both IPv6), kind and, for GUE,
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

// The map value: outer source and destination (16 bytes each; an IPv4
// address in the first 4), kind, outer family (1: IPv6), the GUE
// destination port (network order), 1 for a tunnel that is set, 3 pad
// bytes. The map is an array indexed by the mark's tunnel index: its
// lookup is inlined (a hash map's was a helper call per packet, about a
// tenth of the program's time), and an index never set reads as zeros,
// which valSet tells apart.
const (
	valSrc    = 0
	valDst    = 16
	valKind   = 32
	valOuter6 = 33
	valPort   = 34
	valSet    = 36
	valueLen  = 40
)

// Open loads the program and its map. It fails where the kernel cannot
// load it (no privileges, no BPF).
func Open() (*Encap, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_tunnels", Type: ebpf.Array, KeySize: 4, ValueSize: valueLen, MaxEntries: MaxTunnels + 1,
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
	if !t.Src.IsValid() || !t.Dst.IsValid() || t.Src.Is4() != t.Dst.Is4() || t.Src.Is4In6() || t.Dst.Is4In6() {
		return 0, fmt.Errorf("tcencap: %v to %v: two addresses of one family", t.Src, t.Dst)
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
	copy(v[valSrc:], t.Src.AsSlice())
	copy(v[valDst:], t.Dst.AsSlice())
	v[valKind] = byte(t.Kind)
	if t.Src.Is6() {
		v[valOuter6] = 1
	}
	binary.BigEndian.PutUint16(v[valPort:], t.Port)
	v[valSet] = 1
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
	adjRoomEncapIPv6 = 1 << 2
	adjRoomEncapGRE  = 1 << 3
	adjRoomEncapUDP  = 1 << 4

	tcxNext = -1
	tcxDrop = 2

	ethHdr = 14
	ipHdr  = 20
	ip6Hdr = 40
	udpHdr = 8
	gueHdr = 4
	greHdr = 4

	protoIPIP = 4
	protoTCP  = 6
	protoUDP  = 17
	protoIPv6 = 41
	protoGRE  = 47
)

// The GUE source port, as packet.Encap picks it (gueSourcePort, the
// kernel's udp_flow_src_port over the default ephemeral range): the
// splitmix64-based hash of the inner flow key (packet.FlowKey.hash over
// 16-byte addresses, IPv4 ones mapped), scaled into 32768..60999.
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

// mixWord xors the 8 bytes at fp+off into R1 (little-endian, as packet's
// le64 reads them), then mixes.
func mixWord(off int16) asm.Instructions {
	return append(asm.Instructions{
		asm.LoadMem(asm.R2, asm.RFP, off, asm.DWord),
		asm.Xor.Reg(asm.R1, asm.R2),
	}, mix()...)
}

// mixMapped xors the low half of the IPv4-mapped address whose 4 bytes
// are at fp+off into R1 (0xffff0000 | address << 32, as le64 reads the
// mapped form's last 8 bytes), then mixes.
func mixMapped(off int16) asm.Instructions {
	return append(asm.Instructions{
		asm.LoadMem(asm.R2, asm.RFP, off, asm.Word),
		asm.LSh.Imm(asm.R2, 32),
		asm.Mov.Imm32(asm.R3, -0x10000), // 0x00000000ffff0000
		asm.Or.Reg(asm.R2, asm.R3),
		asm.Xor.Reg(asm.R1, asm.R2),
	}, mix()...)
}

// Stack of the egress program: the tunnel index, then what it learns of
// the inner header, the inner header's copy, the outer header being built
// and the tunnel header. The copies start 8-aligned, so an IPv6 header's
// addresses can be read 8 bytes at a time.
const (
	stIdx    = -8  // u32
	stTOS    = -9  // u8: inner TOS / traffic class
	stTTL    = -10 // u8: inner TTL / hop limit
	stL4     = -11 // u8: inner transport protocol
	stNext   = -12 // u8: the inner packet as a protocol number (4 or 41)
	stID     = -14 // u16 raw: inner IPv4 ID (0 for IPv6)
	stDF     = -15 // u8: 0x40 when the inner IPv4 packet has DF
	stOuter6 = -16 // u8: 1 for an IPv6 outer header
	stET     = -18 // u16 raw: the inner EtherType
	stOutET  = -20 // u16 raw: the outer EtherType
	stL4Off  = -24 // u32: the inner transport header's offset in the frame
	stHdrLen = -28 // u32: the outer IP header's length
	stInner  = -72 // 40 bytes: the inner IPv4 or IPv6 header
	stOuter  = -112
	stTun    = -128 // 12 bytes: UDP + GUE, or GRE
	stPorts  = -136
)

// program is the TCX egress program. R6 the skb, R7 the tunnel's map
// value, R8 its kind, R9 ShrinkGSO from the mark.
func program(mapFD int) asm.Instructions {
	in := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbMark, asm.Word),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, int32(-0x10000)), // markMask
		asm.JNE.Imm(asm.R3, MarkBase, "next"),
		asm.Mov.Reg(asm.R9, asm.R2),
		asm.And.Imm(asm.R9, ShrinkGSO),
		asm.And.Imm(asm.R2, MaxTunnels),
		asm.StoreMem(asm.RFP, stIdx, asm.R2, asm.Word),
		// the mark has done its work whatever happens next
		asm.StoreImm(asm.R6, skbMark, 0, asm.Word),
	}
	in = append(in, bpfasm.Lookup(mapFD, stIdx, "drop")...)
	in = append(in,
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R1, asm.R7, valSet, asm.Byte),
		asm.JEq.Imm(asm.R1, 0, "drop"), // an index Mark never handed out
		asm.LoadMem(asm.R8, asm.R7, valKind, asm.Byte),
		asm.LoadMem(asm.R1, asm.R7, valOuter6, asm.Byte),
		asm.StoreMem(asm.RFP, stOuter6, asm.R1, asm.Byte),
		asm.Mov.Imm(asm.R2, ipHdr),
		asm.JEq.Imm(asm.R1, 0, "hdrlen"),
		asm.Mov.Imm(asm.R2, ip6Hdr),
		asm.StoreMem(asm.RFP, stHdrLen, asm.R2, asm.Word).WithSymbol("hdrlen"),
		asm.LoadMem(asm.R2, asm.R6, skbProtocol, asm.Word),
		asm.JEq.Imm(asm.R2, bpfasm.Net16(0x86dd), "inner6"),
		asm.JNE.Imm(asm.R2, bpfasm.Net16(0x0800), "drop"),
	)
	// an IPv4 inner packet: its header, TOS, TTL, ID, DF, protocol
	in = append(in, bpfasm.CopyPacket(ethHdr, stInner, ipHdr, ipHdr, "drop", "inner4")...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, stInner+1, asm.Byte),
		asm.StoreMem(asm.RFP, stTOS, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stInner+8, asm.Byte),
		asm.StoreMem(asm.RFP, stTTL, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stInner+9, asm.Byte),
		asm.StoreMem(asm.RFP, stL4, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stInner+4, asm.Half),
		asm.StoreMem(asm.RFP, stID, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, stInner+6, asm.Byte),
		asm.And.Imm(asm.R1, 0x40),
		asm.StoreMem(asm.RFP, stDF, asm.R1, asm.Byte),
		asm.StoreImm(asm.RFP, stNext, protoIPIP, asm.Byte),
		asm.StoreImm(asm.RFP, stET, int64(bpfasm.Net16(0x0800)), asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, stInner, asm.Byte),
		asm.And.Imm(asm.R1, 0x0f),
		asm.LSh.Imm(asm.R1, 2),
		asm.Add.Imm(asm.R1, ethHdr),
		asm.StoreMem(asm.RFP, stL4Off, asm.R1, asm.Word),
		asm.Ja.Label("kind"),
	)
	// an IPv6 inner packet: traffic class, hop limit, next header
	// (extension headers are not looked into: the GUE hash then has no
	// ports and the packet is dropped, never mis-hashed)
	in = append(in, bpfasm.Labeled("inner6", bpfasm.CopyPacket(ethHdr, stInner, ip6Hdr, ip6Hdr, "drop", "inner6c"))...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, stInner, asm.Byte),
		asm.And.Imm(asm.R1, 0x0f),
		asm.LSh.Imm(asm.R1, 4),
		asm.LoadMem(asm.R2, asm.RFP, stInner+1, asm.Byte),
		asm.RSh.Imm(asm.R2, 4),
		asm.Or.Reg(asm.R1, asm.R2),
		asm.StoreMem(asm.RFP, stTOS, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stInner+7, asm.Byte),
		asm.StoreMem(asm.RFP, stTTL, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stInner+6, asm.Byte),
		asm.StoreMem(asm.RFP, stL4, asm.R1, asm.Byte),
		asm.StoreImm(asm.RFP, stID, 0, asm.Half),
		asm.StoreImm(asm.RFP, stDF, 0, asm.Byte),
		asm.StoreImm(asm.RFP, stNext, protoIPv6, asm.Byte),
		asm.StoreImm(asm.RFP, stET, int64(bpfasm.Net16(0x86dd)), asm.Half),
		asm.StoreImm(asm.RFP, stL4Off, ethHdr+ip6Hdr, asm.Word),

		asm.JEq.Imm(asm.R8, int32(IPIP), "ipip").WithSymbol("kind"),
		asm.JEq.Imm(asm.R8, int32(GRE), "gre"),
		asm.JNE.Imm(asm.R8, int32(GUE), "drop"),

		// GUE: the source port hashes the inner TCP or UDP flow
		asm.LoadMem(asm.R1, asm.RFP, stL4, asm.Byte),
		asm.JEq.Imm(asm.R1, protoTCP, "ports"),
		asm.JNE.Imm(asm.R1, protoUDP, "drop"),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("ports"),
		asm.LoadMem(asm.R2, asm.RFP, stL4Off, asm.Word),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stPorts),
		asm.Mov.Imm(asm.R4, 4),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.LoadImm(asm.R1, imm64(hashSeed), asm.DWord),
		asm.LoadMem(asm.R2, asm.RFP, stL4, asm.Byte),
		asm.LSh.Imm(asm.R2, 40),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadMem(asm.R2, asm.RFP, stPorts, asm.Half),
		asm.HostTo(asm.BE, asm.R2, asm.Half),
		asm.LSh.Imm(asm.R2, 16),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadMem(asm.R2, asm.RFP, stPorts+2, asm.Half),
		asm.HostTo(asm.BE, asm.R2, asm.Half),
		asm.Xor.Reg(asm.R1, asm.R2),
		asm.LoadMem(asm.R2, asm.RFP, stNext, asm.Byte),
		asm.JEq.Imm(asm.R2, protoIPv6, "hash6"),
	)
	// IPv4-mapped addresses: their first halves are zero, mix(h ^ 0) twice
	in = append(in, mix()...)
	in = append(in, mix()...)
	in = append(in, mixMapped(stInner+12)...)
	in = append(in, mixMapped(stInner+16)...)
	in = append(in, asm.Ja.Label("hashed"))
	// IPv6: source and destination by halves, as FlowKey.hash's loop
	h6 := mixWord(stInner + 8)
	h6[0] = h6[0].WithSymbol("hash6")
	in = append(in, h6...)
	in = append(in, mixWord(stInner+24)...)
	in = append(in, mixWord(stInner+16)...)
	in = append(in, mixWord(stInner+32)...)
	fin := mix()
	fin[0] = fin[0].WithSymbol("hashed")
	in = append(in, fin...)
	in = append(in,
		asm.LSh.Imm(asm.R1, 32), // uint32 of the hash
		asm.RSh.Imm(asm.R1, 32),
		asm.Mul.Imm(asm.R1, srcPortSpan),
		asm.RSh.Imm(asm.R1, 32),
		asm.Add.Imm(asm.R1, srcPortMin),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, stTun, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.R7, valPort, asm.Half),
		asm.StoreMem(asm.RFP, stTun+2, asm.R1, asm.Half),
		asm.StoreImm(asm.RFP, stTun+6, 0, asm.Half), // no UDP checksum
		// GUE variant 0, no options, the inner protocol, no flags
		asm.StoreImm(asm.RFP, stTun+8, 0, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stNext, asm.Byte),
		asm.StoreMem(asm.RFP, stTun+9, asm.R1, asm.Byte),
		asm.StoreImm(asm.RFP, stTun+10, 0, asm.Half),
		asm.Mov.Imm(asm.R2, udpHdr+gueHdr),
		asm.Mov.Imm(asm.R4, adjRoomEncapUDP),
		asm.Ja.Label("room"),

		// GRE: no checksum, key or sequence; the inner EtherType
		asm.StoreImm(asm.RFP, stTun, 0, asm.Half).WithSymbol("gre"),
		asm.LoadMem(asm.R1, asm.RFP, stET, asm.Half),
		asm.StoreMem(asm.RFP, stTun+2, asm.R1, asm.Half),
		asm.Mov.Imm(asm.R2, greHdr),
		asm.Mov.Imm(asm.R4, adjRoomEncapGRE),
		asm.Ja.Label("room"),

		asm.Mov.Imm(asm.R2, 0).WithSymbol("ipip"),
		asm.Mov.Imm(asm.R4, 0),

		// the room after the Ethernet header for the outer IP header and
		// R2 bytes of tunnel header; the skb's GSO type gains
		// SKB_GSO_IPXIP4/6, _UDP_TUNNEL or _GRE and its inner headers are
		// set for the segmentation after it; gso_size as sent, or shrunk
		// by the overhead with ShrinkGSO
		asm.LoadMem(asm.R1, asm.RFP, stHdrLen, asm.Word).WithSymbol("room"),
		asm.Add.Reg(asm.R2, asm.R1),
		asm.Or.Imm(asm.R4, adjRoomEncapIPv4|adjRoomFixedGSO),
		asm.LoadMem(asm.R1, asm.RFP, stOuter6, asm.Byte),
		asm.JEq.Imm(asm.R1, 0, "fixed"),
		asm.Xor.Imm(asm.R4, adjRoomEncapIPv4|adjRoomEncapIPv6),
		asm.JEq.Imm(asm.R9, 0, "grow").WithSymbol("fixed"),
		asm.And.Imm(asm.R4, ^adjRoomFixedGSO),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("grow"),
		asm.Mov.Imm(asm.R3, adjRoomMAC),
		asm.FnSkbAdjustRoom.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		// the outer protocol: the inner packet's, UDP or GRE
		asm.LoadMem(asm.R1, asm.RFP, stNext, asm.Byte),
		asm.JNE.Imm(asm.R8, int32(GUE), "notudp"),
		asm.Mov.Imm(asm.R1, protoUDP),
		asm.JNE.Imm(asm.R8, int32(GRE), "proto").WithSymbol("notudp"),
		asm.Mov.Imm(asm.R1, protoGRE),
		asm.LoadMem(asm.R2, asm.RFP, stTOS, asm.Byte).WithSymbol("proto"),
		// TOS / traffic class: CE (3) becomes ECT(0) (2)
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.And.Imm(asm.R3, 3),
		asm.JNE.Imm(asm.R3, 3, "tos"),
		asm.And.Imm(asm.R2, 0xfe),
		asm.LoadMem(asm.R3, asm.RFP, stOuter6, asm.Byte).WithSymbol("tos"),
		asm.JNE.Imm(asm.R3, 0, "outer6"),

		// IPv4: version 4, 20 bytes, TOS, length, the inner ID and DF,
		// the inner TTL, protocol, checksum, addresses
		asm.StoreImm(asm.RFP, stOutET, int64(bpfasm.Net16(0x0800)), asm.Half),
		asm.StoreImm(asm.RFP, stOuter, 0x45, asm.Byte),
		asm.StoreMem(asm.RFP, stOuter+1, asm.R2, asm.Byte),
		asm.StoreMem(asm.RFP, stOuter+9, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R1, ethHdr),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, stOuter+2, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, stID, asm.Half),
		asm.StoreMem(asm.RFP, stOuter+4, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, stDF, asm.Byte),
		asm.StoreMem(asm.RFP, stOuter+6, asm.R1, asm.Byte),
		asm.StoreImm(asm.RFP, stOuter+7, 0, asm.Byte),
		asm.LoadMem(asm.R1, asm.RFP, stTTL, asm.Byte),
		asm.StoreMem(asm.RFP, stOuter+8, asm.R1, asm.Byte),
		asm.StoreImm(asm.RFP, stOuter+10, 0, asm.Half),
		asm.LoadMem(asm.R1, asm.R7, valSrc, asm.Word),
		asm.StoreMem(asm.RFP, stOuter+12, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R7, valDst, asm.Word),
		asm.StoreMem(asm.RFP, stOuter+16, asm.R1, asm.Word),
	)
	in = append(in, headerChecksum(stOuter, ipHdr)...)
	in = append(in,
		asm.Ja.Label("write"),

		// IPv6: version 6, the traffic class, flow label 0, payload
		// length, next header, the inner hop limit, addresses
		asm.StoreImm(asm.RFP, stOutET, int64(bpfasm.Net16(0x86dd)), asm.Half).WithSymbol("outer6"),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.RSh.Imm(asm.R3, 4),
		asm.Or.Imm(asm.R3, 0x60),
		asm.StoreMem(asm.RFP, stOuter, asm.R3, asm.Byte),
		asm.And.Imm(asm.R2, 0x0f),
		asm.LSh.Imm(asm.R2, 4),
		asm.StoreMem(asm.RFP, stOuter+1, asm.R2, asm.Byte),
		asm.StoreImm(asm.RFP, stOuter+2, 0, asm.Half),
		asm.StoreMem(asm.RFP, stOuter+6, asm.R1, asm.Byte),
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R1, ethHdr+ip6Hdr),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, stOuter+4, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, stTTL, asm.Byte),
		asm.StoreMem(asm.RFP, stOuter+7, asm.R1, asm.Byte),
	)
	for off := int16(0); off < 32; off += 8 {
		in = append(in,
			asm.LoadMem(asm.R1, asm.R7, valSrc+off, asm.DWord),
			asm.StoreMem(asm.RFP, stOuter+8+off, asm.R1, asm.DWord),
		)
	}
	// the Ethernet type (bpf_skb_adjust_room changes only the skb's
	// protocol when the families differ), the outer header, then the
	// tunnel header after it (GUE: the UDP length, the frame less Ethernet
	// and outer IP headers). The new room is in the skb's linear part, so
	// the first two are stored directly; bpf_skb_store_bytes (two helper
	// calls, about a sixth of the program's time) is the fallback.
	in = append(in, bpfasm.Labeled("write", directOuter(ipHdr, "direct6"))...)
	in = append(in, bpfasm.Labeled("direct6", directOuter(ip6Hdr, "helper"))...)
	in = append(in, bpfasm.Labeled("helper", bpfasm.StoreBytes(12, stOutET, 2, "drop"))...)
	return append(in,
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ethHdr),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stOuter),
		asm.LoadMem(asm.R4, asm.RFP, stHdrLen, asm.Word),
		asm.Mov.Imm(asm.R5, 0),
		asm.JEq.Imm(asm.R4, ip6Hdr, "write6"),
		asm.Mov.Imm(asm.R4, ipHdr),
		asm.Ja.Label("store"),
		asm.Mov.Imm(asm.R4, ip6Hdr).WithSymbol("write6"),
		asm.FnSkbStoreBytes.Call().WithSymbol("store"),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.JEq.Imm(asm.R8, int32(IPIP), "next").WithSymbol("tunnel"),
		asm.LoadMem(asm.R2, asm.RFP, stHdrLen, asm.Word),
		asm.Mov.Imm(asm.R4, greHdr),
		asm.JNE.Imm(asm.R8, int32(GUE), "l4"),
		asm.LoadMem(asm.R1, asm.R6, skbLen, asm.Word),
		asm.Sub.Imm(asm.R1, ethHdr),
		asm.Sub.Reg(asm.R1, asm.R2),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, stTun+4, asm.R1, asm.Half),
		asm.Mov.Imm(asm.R4, udpHdr+gueHdr),
		asm.Add.Imm(asm.R2, ethHdr).WithSymbol("l4"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stTun),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnSkbStoreBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcxDrop).WithSymbol("drop"),
		asm.Return(),
	)
}

// headerChecksum computes the IPv4 header checksum of the n-byte header
// on the stack at fp+at (its checksum field 0) and stores it there: the
// one's complement sum of its 16-bit words, in whatever byte order they
// load (the sum is the same either way, RFC 1071), folded and inverted.
// Inline, it costs less than a bpf_csum_diff call. Uses R0 and R1.
func headerChecksum(at int16, n int16) asm.Instructions {
	in := asm.Instructions{asm.Mov.Imm(asm.R0, 0)}
	for off := int16(0); off < n; off += 2 {
		in = append(in,
			asm.LoadMem(asm.R1, asm.RFP, at+off, asm.Half),
			asm.Add.Reg(asm.R0, asm.R1),
		)
	}
	for range 2 { // at most 0x9fff6 for 20 bytes: two folds suffice
		in = append(in,
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.RSh.Imm(asm.R1, 16),
			asm.And.Imm(asm.R0, 0xffff),
			asm.Add.Reg(asm.R0, asm.R1),
		)
	}
	return append(in,
		asm.Xor.Imm(asm.R0, 0xffff),
		asm.StoreMem(asm.RFP, at+10, asm.R0, asm.Half),
	)
}

// directOuter writes the outer EtherType and IP header (n bytes, from the
// stack) into the packet with direct stores when the header's length is n
// and the packet's linear part holds them, then goes on to the tunnel
// header ("tunnel"); otherwise it jumps to other. Uses R1–R3.
func directOuter(n int32, other string) asm.Instructions {
	in := asm.Instructions{
		asm.LoadMem(asm.R1, asm.RFP, stHdrLen, asm.Word),
		asm.JNE.Imm(asm.R1, n, other),
	}
	in = append(in, bpfasm.Linear(ethHdr+n, other)...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, stOutET, asm.Half),
		asm.StoreMem(asm.R2, 12, asm.R1, asm.Half),
	)
	for off := int16(0); off < int16(n); off += 4 {
		in = append(in,
			asm.LoadMem(asm.R1, asm.RFP, stOuter+off, asm.Word),
			asm.StoreMem(asm.R2, ethHdr+off, asm.R1, asm.Word),
		)
	}
	return append(in, asm.Ja.Label("tunnel"))
}
