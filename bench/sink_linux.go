package bench

import (
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/govs/gvs/internal/bpfasm"
	"github.com/govs/gvs/lab"
)

// floodSink is the small-packet load's sink on every real server: a TCX
// program first in line on eth0's ingress that counts and drops the
// flood (UDP to FloodPort, or IPIP carrying it for TUN). It runs before
// anything else the real server does with a frame, the kernel
// decapsulation of gvs-tundecap included (also a TCX ingress program,
// attached at the tail), so every scenario's packet costs the real
// server the same: the sink's few instructions. An nftables netdev rule
// runs after TC ingress, and with it a TUN packet paid the real server's
// decapsulation on top, which no other scenario does.
type floodSink struct {
	prog  *ebpf.Program
	count *ebpf.Map // per-CPU: flood packets dropped
	links []link.Link
}

const tcActShot = 2 // TC_ACT_SHOT: drop

// openFloodSink loads the sink and attaches it to eth0 of the real
// servers 1..n.
func openFloodSink(l *lab.Lab, n int) (*floodSink, error) {
	s, err := newFloodSink()
	if err != nil {
		return nil, err
	}
	for i := 1; i <= n; i++ {
		if err := s.attach(l.NS(lab.RS(i)), "eth0"); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// newFloodSink loads the sink, attached nowhere yet.
func newFloodSink() (*floodSink, error) {
	s := &floodSink{}
	var err error
	if s.count, err = bpfasm.NewCounter("gvsbench_rx"); err != nil {
		return nil, fmt.Errorf("flood sink: counter map: %w", err)
	}
	s.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "gvsbench_sink", Type: ebpf.SchedCLS, License: "Dual MIT/GPL",
		Instructions: sinkProgram(FloodPort, s.count.FD()),
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("flood sink: load program: %w", err)
	}
	return s, nil
}

// attach puts the sink first on the ingress of interface ifname in
// namespace ns.
func (s *floodSink) attach(ns, ifname string) error {
	err := lab.InNetns(ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		ln, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: s.prog, Attach: ebpf.AttachTCXIngress, Anchor: link.Head()})
		if err != nil {
			return err
		}
		s.links = append(s.links, ln)
		return nil
	})
	if err != nil {
		return fmt.Errorf("flood sink: attach on %s in %s: %w", ifname, ns, err)
	}
	return nil
}

// delivered returns the number of flood packets the real servers received.
func (s *floodSink) delivered() (uint64, error) { return bpfasm.CounterSum(s.count) }

func (s *floodSink) close() error {
	var err error
	for _, l := range s.links {
		err = errors.Join(err, l.Close())
	}
	s.links = nil
	return errors.Join(err, s.prog.Close(), s.count.Close()) // nil-safe
}

// sinkProgram matches what rsCounter's nftables rules match: IPv4 (no
// options, not a fragment) UDP to port, or IPIP whose inner packet is
// that. R6 the skb; the frame's first 38 bytes at fp-64, an IPIP packet's
// inner 24 at fp-24, the counter's key at fp-72.
func sinkProgram(port uint16, count int) asm.Instructions {
	const (
		buf   = -64
		ip    = buf + 14
		inner = -24
		key   = -72
	)
	in := append(asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}, bpfasm.LoadBytes(0, buf, 38, "next")...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, buf+12, asm.Half),
		asm.JNE.Imm(asm.R1, bpfasm.Net16(0x0800), "next"),
	)
	in = append(in, bpfasm.PlainIPv4(ip, "next")...)
	in = append(in,
		asm.JEq.Imm(asm.R1, 4, "ipip"),
		asm.JNE.Imm(asm.R1, 17, "next"),
		asm.LoadMem(asm.R1, asm.RFP, ip+22, asm.Half),
		asm.JEq.Imm(asm.R1, bpfasm.Net16(port), "count"),
		asm.Ja.Label("next"),
	)
	in = append(in, bpfasm.Labeled("ipip", bpfasm.LoadBytes(14+20, inner, 24, "next"))...)
	in = append(in, bpfasm.PlainIPv4(inner, "next")...)
	in = append(in,
		asm.JNE.Imm(asm.R1, 17, "next"),
		asm.LoadMem(asm.R1, asm.RFP, inner+22, asm.Half),
		asm.JNE.Imm(asm.R1, bpfasm.Net16(port), "next"),
	)
	in = append(in, bpfasm.Labeled("count", bpfasm.Count(count, key, "drop"))...)
	return append(in,
		asm.Mov.Imm(asm.R0, tcActShot).WithSymbol("drop"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, -1).WithSymbol("next"), // TCX_NEXT
		asm.Return(),
	)
}
