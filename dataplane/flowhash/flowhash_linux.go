//go:build linux

package flowhash

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/govs/gvs/internal/bpfasm"
)

// Program is the loaded fanout program.
type Program struct {
	prog *ebpf.Program
}

// Open loads the program.
func Open() (*Program, error) {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "gvs_flow_hash", Type: ebpf.SocketFilter, License: "Dual MIT/GPL",
		Instructions: instructions(),
	})
	if err != nil {
		return nil, fmt.Errorf("flowhash: load: %w", err)
	}
	return &Program{prog: p}, nil
}

// FD is the program's descriptor, for PACKET_FANOUT_DATA.
func (p *Program) FD() int { return p.prog.FD() }

// Close frees the program (a fanout group keeps its own reference).
func (p *Program) Close() error { return p.prog.Close() }

const (
	skbProtocol = 16          // struct __sk_buff: protocol (network order)
	golden      = -0x61c8864f // 0x9e3779b1, Fibonacci hashing's multiplier
	hdr         = -48         // the IP header's copy on the stack
	ports       = -52         // the ports' copy
)

// instructions is the program: R6 the skb, R7 the hash, R8 the transport
// protocol. Words are read in host order and XORed, then put in network
// order once (a byte swap distributes over XOR), so the hash is the same
// on any host. Two helper calls at most read a frame: the IP header, then
// the ports.
func instructions() asm.Instructions {
	addrs := func(from, to int16) asm.Instructions {
		var in asm.Instructions
		for off := from; off < to; off += 4 {
			in = append(in, asm.LoadMem(asm.R1, asm.RFP, hdr+off, asm.Word), asm.Xor.Reg32(asm.R7, asm.R1))
		}
		return append(in, asm.HostTo(asm.BE, asm.R7, asm.Word))
	}
	transport := func(next string) asm.Instructions {
		return asm.Instructions{
			asm.JEq.Imm(asm.R8, 6, next),   // TCP
			asm.JEq.Imm(asm.R8, 17, next),  // UDP
			asm.JEq.Imm(asm.R8, 132, next), // SCTP
			asm.Ja.Label("mix"),
		}
	}
	in := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.Mov.Imm(asm.R7, 0),
		asm.Mov.Imm(asm.R8, 0),
		asm.LoadMem(asm.R1, asm.R6, skbProtocol, asm.Word),
		asm.JEq.Imm(asm.R1, bpfasm.Net16(0x0800), "v4"),
		asm.JEq.Imm(asm.R1, bpfasm.Net16(0x86dd), "v6"),
		asm.Ja.Label("mix"),
	}
	// IPv4: the protocol, both addresses; the ports unless a fragment
	in = append(in, bpfasm.Labeled("v4", bpfasm.LoadNetBytes(0, hdr, 20, "mix"))...)
	in = append(in, asm.LoadMem(asm.R8, asm.RFP, hdr+9, asm.Byte))
	in = append(in, addrs(12, 20)...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, hdr+6, asm.Half),
		asm.And.Imm32(asm.R1, bpfasm.Net16(0x3fff)), // MF and the offset
		asm.JNE.Imm(asm.R1, 0, "mix"),
	)
	in = append(in, transport("ports4")...)
	in = append(in,
		asm.LoadMem(asm.R2, asm.RFP, hdr, asm.Byte).WithSymbol("ports4"),
		asm.And.Imm32(asm.R2, 0x0f),
		asm.LSh.Imm32(asm.R2, 2), // the header's length
	)
	in = append(in, bpfasm.LoadNetBytesAtR2(ports, 4, "mix")...)
	in = append(in, asm.Ja.Label("ports"))

	// IPv6: the next header, both addresses; the ports when the next
	// header is the transport's (a fragment header is not)
	in = append(in, bpfasm.Labeled("v6", bpfasm.LoadNetBytes(0, hdr, 40, "mix"))...)
	in = append(in, asm.LoadMem(asm.R8, asm.RFP, hdr+6, asm.Byte))
	in = append(in, addrs(8, 40)...)
	in = append(in, transport("ports6")...)
	in = append(in, bpfasm.Labeled("ports6", bpfasm.LoadNetBytes(40, ports, 4, "mix"))...)

	return append(in,
		// the ports' word in network order, folded so that (a, b) and
		// (b, a) agree
		asm.LoadMem(asm.R1, asm.RFP, ports, asm.Word).WithSymbol("ports"),
		asm.HostTo(asm.BE, asm.R1, asm.Word),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.RSh.Imm32(asm.R2, 16),
		asm.And.Imm32(asm.R1, 0xffff),
		asm.Xor.Reg32(asm.R1, asm.R2),
		asm.Xor.Reg32(asm.R7, asm.R1),
		// mix, so that nearby flows spread: the high half of a Fibonacci
		// product (the kernel takes the result modulo the group's size)
		asm.Xor.Reg32(asm.R7, asm.R8).WithSymbol("mix"),
		asm.Mul.Imm32(asm.R7, golden),
		asm.RSh.Imm32(asm.R7, 16),
		asm.Mov.Reg(asm.R0, asm.R7),
		asm.Return(),
	)
}
