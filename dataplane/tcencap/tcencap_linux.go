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
	MaxTunnels = 0xffff
)

// Encap is the loaded program and its map of tunnels, attached to the
// egress of some interfaces.
type Encap struct {
	prog  *ebpf.Program
	m     *ebpf.Map
	mu    sync.Mutex
	links map[int]link.Link
	marks map[[8]byte]uint32
}

// Open loads the program and its map. It fails where the kernel cannot
// load it (no privileges, no BPF).
func Open() (*Encap, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "gvs_tunnels", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: MaxTunnels,
	})
	if err != nil {
		return nil, fmt.Errorf("tcencap: map: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "gvs_ipip_gso",
		Type:         ebpf.SchedCLS,
		License:      "Dual MIT/GPL",
		Instructions: program(m.FD()),
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("tcencap: load program: %w", err)
	}
	return &Encap{prog: prog, m: m, links: map[int]link.Link{}, marks: map[[8]byte]uint32{}}, nil
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

// Mark returns the skb mark that encapsulates from src to dst (both IPv4),
// adding the tunnel to the map the first time. Safe for concurrent use;
// callers cache the result (a new tunnel costs a system call).
func (e *Encap) Mark(src, dst netip.Addr) (uint32, error) {
	if !src.Is4() || !dst.Is4() {
		return 0, fmt.Errorf("tcencap: %v to %v: IPv4 only", src, dst)
	}
	var k [8]byte
	s, d := src.As4(), dst.As4()
	copy(k[:4], s[:])
	copy(k[4:], d[:])
	e.mu.Lock()
	defer e.mu.Unlock()
	if m, ok := e.marks[k]; ok {
		return m, nil
	}
	idx := uint32(len(e.marks) + 1)
	if idx > MaxTunnels {
		return 0, ErrFull
	}
	// the value is the outer source and destination in network order
	if err := e.m.Put(idx, k); err != nil {
		return 0, fmt.Errorf("tcencap: add tunnel %v to %v: %w", src, dst, err)
	}
	m := MarkBase | idx
	e.marks[k] = m
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

	tcxNext = -1
	tcxDrop = 2

	ethHdr = 14
	ipHdr  = 20
)

// program is the TCX egress program. Stack: the tunnel index at fp-8, the
// outer header being built at fp-32 (20 bytes).
func program(mapFD int) asm.Instructions {
	const hdr = -32
	// protocol is compared as __sk_buff stores it: network order in a u32
	ethIPv4 := int32(binary.NativeEndian.Uint16([]byte{0x08, 0x00}))
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbMark, asm.Word),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, int32(-0x10000)), // markMask
		asm.JNE.Imm(asm.R3, MarkBase, "next"),
		asm.And.Imm(asm.R2, 0xffff),
		asm.StoreMem(asm.RFP, -8, asm.R2, asm.Word),
		// the mark has done its work whatever happens next
		asm.StoreImm(asm.R6, skbMark, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.Mov.Reg(asm.R7, asm.R0),
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
		// 20 bytes after the Ethernet header; SKB_GSO_IPXIP4 and the inner
		// headers for the segmentation after it; gso_size as sent
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ipHdr),
		asm.Mov.Imm(asm.R3, adjRoomMAC),
		asm.Mov.Imm(asm.R4, adjRoomEncapIPv4|adjRoomFixedGSO),
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
		asm.StoreImm(asm.RFP, hdr+9, 4, asm.Byte), // IPIP
		asm.StoreImm(asm.RFP, hdr+10, 0, asm.Half),
		asm.LoadMem(asm.R1, asm.R7, 0, asm.Word),
		asm.StoreMem(asm.RFP, hdr+12, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R7, 4, asm.Word),
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
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcxDrop).WithSymbol("drop"),
		asm.Return(),
	}
}
