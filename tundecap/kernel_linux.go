//go:build linux

package tundecap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/govs/gvs/internal/bpfasm"
)

// kernelDecap strips the outer headers of the common tunnels in the
// kernel, in a TCX ingress program on the host's interfaces, so their
// inner packets (GSO super-frames included) enter the stack directly,
// as the kernel's ipip, sit, gre and fou modules would hand them over:
// IPv4 outer without options or fragmentation, from an allowed source,
// carrying IPIP (4in4), IPv6-in-IPv4, GRE without options, or GUE variant
// 0 without options or UDP checksum on the configured port. Everything
// else continues to the sockets of the user-space decapsulator.
type kernelDecap struct {
	prog  *ebpf.Program
	count *ebpf.Map // per-CPU: packets decapsulated
	allow *ebpf.Map // LPM trie of allowed IPv4 sources; nil: any
	links []link.Link
}

// BPF_F_ADJ_ROOM_* flags of bpf_skb_adjust_room (Linux 6.3 for DECAP).
const (
	adjRoomMAC       = 1
	adjRoomFixedGSO  = 1 << 0
	adjRoomDecapIPv4 = 1 << 7
	adjRoomDecapIPv6 = 1 << 8
	tcxNext          = -1
	tcxPass          = 0
)

// openKernelDecap loads the program and attaches it to the ingress of
// every up, non-loopback interface.
func openKernelDecap(guePort uint16, allowFrom []netip.Prefix) (*kernelDecap, error) {
	k := &kernelDecap{}
	var err error
	if k.count, err = bpfasm.NewCounter("gvs_decap_n"); err != nil {
		return nil, fmt.Errorf("tundecap: kernel decapsulation: counter map: %w", err)
	}
	allowFD := 0
	if len(allowFrom) > 0 {
		k.allow, err = ebpf.NewMap(&ebpf.MapSpec{Name: "gvs_decap_allow", Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 1,
			MaxEntries: uint32(len(allowFrom)), Flags: 1 /* BPF_F_NO_PREALLOC, required for LPM tries */})
		if err != nil {
			k.close()
			return nil, fmt.Errorf("tundecap: kernel decapsulation: allowed sources map: %w", err)
		}
		for _, p := range allowFrom {
			if !p.Addr().Is4() {
				continue // IPv6 outer headers stay in user space
			}
			var key [8]byte
			binary.NativeEndian.PutUint32(key[0:], uint32(p.Bits()))
			a := p.Addr().As4()
			copy(key[4:], a[:])
			if err := k.allow.Put(key[:], []byte{1}); err != nil {
				k.close()
				return nil, fmt.Errorf("tundecap: kernel decapsulation: allow %v: %w", p, err)
			}
		}
		allowFD = k.allow.FD()
	}
	k.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "gvs_decap", Type: ebpf.SchedCLS, License: "Dual MIT/GPL",
		Instructions: decapProgram(guePort, k.count.FD(), allowFD),
	})
	if err != nil {
		k.close()
		return nil, fmt.Errorf("tundecap: kernel decapsulation: load program: %w", err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		k.close()
		return nil, err
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) != 6 {
			continue
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: k.prog, Attach: ebpf.AttachTCXIngress, Anchor: link.Tail()})
		if err != nil {
			k.close()
			return nil, fmt.Errorf("tundecap: kernel decapsulation: attach to %s: %w", ifc.Name, err)
		}
		k.links = append(k.links, l)
	}
	if len(k.links) == 0 {
		k.close()
		return nil, errors.New("tundecap: kernel decapsulation: no Ethernet interface to attach to")
	}
	return k, nil
}

// packets returns the number of packets decapsulated in the kernel.
func (k *kernelDecap) packets() uint64 {
	n, _ := bpfasm.CounterSum(k.count) // 0 when unreadable
	return n
}

func (k *kernelDecap) close() error {
	var err error
	for _, l := range k.links {
		err = errors.Join(err, l.Close())
	}
	k.links = nil
	return errors.Join(err, k.prog.Close(), k.allow.Close(), k.count.Close()) // nil-safe
}

// decapProgram is the TCX ingress program. R6 the skb, R7 the outer
// headers' length, R8 bpf_skb_adjust_room's flags. Stack: the frame's
// first 46 bytes at fp-50 (the outer addresses 8-aligned), the LPM key at
// fp-64, the counter index at fp-56.
func decapProgram(guePort uint16, count, allow int) asm.Instructions {
	const (
		buf    = -50
		ip     = buf + 14
		l4     = ip + 20
		lpmKey = -64
		idx    = -56
		peek   = 14 + 20 + 12
	)
	in := append(asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}, bpfasm.LoadBytes(0, buf, peek, "next")...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, buf+12, asm.Half),
		asm.JNE.Imm(asm.R1, bpfasm.Net16(0x0800), "next"),
	)
	in = append(in, bpfasm.PlainIPv4(ip, "next")...)
	if allow != 0 {
		in = append(in,
			asm.StoreImm(asm.RFP, lpmKey, 32, asm.Word),
			asm.LoadMem(asm.R1, asm.RFP, ip+12, asm.Word),
			asm.StoreMem(asm.RFP, lpmKey+4, asm.R1, asm.Word),
		)
		in = append(in, bpfasm.Lookup(allow, lpmKey, "next")...)
	}
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, ip+9, asm.Byte),
		asm.Mov.Imm(asm.R7, 20),
		asm.Mov.Imm(asm.R8, adjRoomDecapIPv4|adjRoomFixedGSO),
		asm.JEq.Imm(asm.R1, ProtoIPIP, "strip"),
		asm.Mov.Imm(asm.R8, adjRoomDecapIPv6|adjRoomFixedGSO),
		asm.JEq.Imm(asm.R1, ProtoIPv6, "strip"),
		asm.JEq.Imm(asm.R1, ProtoGRE, "gre"),
		asm.JNE.Imm(asm.R1, 17, "next"),
	)
	if guePort == 0 {
		in = append(in, asm.Ja.Label("next"))
	} else {
		in = append(in,
			// GUE: the port, no UDP checksum to verify, variant 0 without
			// options or flags
			asm.LoadMem(asm.R1, asm.RFP, l4+2, asm.Half),
			asm.JNE.Imm(asm.R1, bpfasm.Net16(guePort), "next"),
			asm.LoadMem(asm.R1, asm.RFP, l4+6, asm.Half),
			asm.JNE.Imm(asm.R1, 0, "next"),
			asm.LoadMem(asm.R1, asm.RFP, l4+8, asm.Byte),
			asm.JNE.Imm(asm.R1, 0, "next"),
			asm.LoadMem(asm.R1, asm.RFP, l4+10, asm.Half),
			asm.JNE.Imm(asm.R1, 0, "next"),
			asm.Mov.Imm(asm.R7, 20+8+4),
			asm.LoadMem(asm.R1, asm.RFP, l4+9, asm.Byte),
			asm.Mov.Imm(asm.R8, adjRoomDecapIPv4|adjRoomFixedGSO),
			asm.JEq.Imm(asm.R1, ProtoIPIP, "strip"),
			asm.Mov.Imm(asm.R8, adjRoomDecapIPv6|adjRoomFixedGSO),
			asm.JEq.Imm(asm.R1, ProtoIPv6, "strip"),
			asm.Ja.Label("next"),
		)
	}
	in = append(in,
		// GRE: version 0, no checksum, key or sequence number
		asm.LoadMem(asm.R1, asm.RFP, l4, asm.Half).WithSymbol("gre"),
		asm.JNE.Imm(asm.R1, 0, "next"),
		asm.Mov.Imm(asm.R7, 20+4),
		asm.LoadMem(asm.R1, asm.RFP, l4+2, asm.Half),
		asm.Mov.Imm(asm.R8, adjRoomDecapIPv4|adjRoomFixedGSO),
		asm.JEq.Imm(asm.R1, bpfasm.Net16(0x0800), "strip"),
		asm.Mov.Imm(asm.R8, adjRoomDecapIPv6|adjRoomFixedGSO),
		asm.JNE.Imm(asm.R1, bpfasm.Net16(0x86dd), "next"),
		// the outer headers go; the skb's protocol becomes the inner one
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("strip"),
		asm.Mov.Imm(asm.R2, 0),
		asm.Sub.Reg(asm.R2, asm.R7),
		asm.Mov.Imm(asm.R3, adjRoomMAC),
		asm.Mov.Reg(asm.R4, asm.R8),
		asm.FnSkbAdjustRoom.Call(),
		asm.JNE.Imm(asm.R0, 0, "next"),
		// and so does the Ethernet header's type, for whoever looks
		asm.JNE.Imm(asm.R8, adjRoomDecapIPv6|adjRoomFixedGSO, "count"),
		asm.StoreImm(asm.RFP, idx, int64(bpfasm.Net16(0x86dd)), asm.Half),
	)
	in = append(in, bpfasm.StoreBytes(12, idx, 2, "count")...)
	in = append(in, bpfasm.Labeled("count", bpfasm.Count(count, idx, "pass"))...)
	return append(in,
		asm.Mov.Imm(asm.R0, tcxPass).WithSymbol("pass"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
	)
}
