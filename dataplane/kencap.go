//go:build linux

package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/govs/gvs/ipvs"

	"github.com/govs/gvs/dataplane/tcencap"
	"github.com/govs/gvs/packet"
)

// Kernel-side encapsulation of GSO super-frames (package tcencap on
// Linux; docs/dataplane.md, "TUN bulk transfers"). A TCP super-frame
// (IPv4 or IPv6) for an IPIP (any mix of IPv4 and IPv6), GUE (without UDP
// checksum) or GRE (without checksum) tunnel is not segmented here: it
// leaves whole, with its
// virtio-net header and the MACs of the real server's next hop, on a
// sender that goes through the interface's TC egress layer, with an skb
// mark naming the tunnel; the TC program there inserts the outer headers
// and marks the skb SKB_GSO_IPXIP4/6, _UDP_TUNNEL or _GRE, so the kernel
// (or the NIC) segments after encapsulation. Without it (no BPF, a
// checksummed GUE or GRE tunnel, a VLAN) super-frames are segmented in
// user space as before.

// kernelEncap hands out the skb marks that ask for encapsulation.
type kernelEncap interface {
	// Mark returns the mark that encapsulates for t, adding the tunnel
	// the first time (a system call).
	Mark(t tcencap.Tunnel) (uint32, error)
}

// markPort is a sender whose frames pass the interface's TC egress
// programs, each with an skb mark (0: none).
type markPort interface {
	Port
	QueueMark(vnetAndFrame []byte, mark uint32) error
}

// kencapState is a worker's side of kernel encapsulation.
type kencapState struct {
	tx    map[int]markPort          // by ifindex; nil: no kernel encapsulation
	marks map[tcencap.Tunnel]uint32 // tunnel to mark (made on first use); 0: refused
}

// kernelKind returns the TC program's encapsulation for tunnel t, false
// when the program cannot write it: untagged, and no checksum the kernel's segmentation would not fill in (GUE's UDP
// checksum or remote checksum offload, GRE's checksum).
func kernelKind(t *packet.Tunnel) (tcencap.Kind, bool) {
	if t.VLAN != 0 || t.Src.Is4() != t.Dst.Is4() {
		return 0, false
	}
	switch t.Type {
	case packet.TunnelIPIP:
		return tcencap.IPIP, true
	case packet.TunnelGUE:
		return tcencap.GUE, !t.Csum && !t.RemCsum && t.Port != 0
	case packet.TunnelGRE:
		return tcencap.GRE, !t.Csum
	}
	return 0, false
}

// kernelTunnel reports whether frames of p (the inner packet) for tunnel
// t go through the marking sender of the egress interface: TCP in a
// tunnel the TC program writes (kernelKind). Its plain frames, and
// super-frames segmented here, take that sender too (without a mark), so
// a flow's packets keep their order.
func (w *worker) kernelTunnel(p *packet.Packet, t *packet.Tunnel, ifindex int) markPort {
	if w.kenc.tx == nil || p.Key.Proto != packet.ProtoTCP {
		return nil
	}
	if p.Key.Family == packet.IPv6 && p.L4Off-p.L3Off != 40 {
		return nil // extension headers: the program's GUE hash reads no further
	}
	if _, ok := kernelKind(t); !ok {
		return nil
	}
	return w.kenc.tx[ifindex]
}

// tcTunnel is the TC program's description of tunnel t; false when the
// program cannot write it (kernelKind).
func tcTunnel(t *packet.Tunnel) (tcencap.Tunnel, bool) {
	kind, ok := kernelKind(t)
	if !ok {
		return tcencap.Tunnel{}, false
	}
	kt := tcencap.Tunnel{Kind: kind, Src: t.Src.Netip(), Dst: t.Dst.Netip()}
	if kind == tcencap.GUE {
		kt.Port = t.Port
	}
	return kt, true
}

// tunnelMark returns the skb mark of the tunnel t (0: unavailable).
func (w *worker) tunnelMark(t *packet.Tunnel) uint32 {
	kt, _ := tcTunnel(t)
	if m, ok := w.kenc.marks[kt]; ok {
		return m
	}
	m, err := w.d.kenc.Mark(kt)
	if err != nil {
		w.d.log.Warn("kernel tunnel encapsulation unavailable for this tunnel: segmenting in user space", "type", t.Type, "src", kt.Src, "dst", kt.Dst, "err", err)
		m = 0
	}
	if w.kenc.marks == nil {
		w.kenc.marks = map[tcencap.Tunnel]uint32{}
	}
	w.kenc.marks[kt] = m
	return m
}

// TunnelMark returns the skb mark with which the director's own packets
// leaving for real server dest are encapsulated on egress the way the data
// path tunnels to it (the TC program of kernel encapsulation): health
// checks through the VIP of a tunnel service. It fails where that program
// is not loaded or cannot write the tunnel (IPIP, GUE and GRE
// without checksums only).
func (d *Dataplane) TunnelMark(dest netip.Addr, fwd ipvs.Forwarding) (uint32, error) {
	if d.kenc == nil {
		return 0, errors.New("dataplane: the kernel encapsulation program is not loaded (needs root and BPF)")
	}
	dest = dest.Unmap()
	r, err := d.ctl.RouteTo(dest)
	if err != nil {
		return 0, fmt.Errorf("dataplane: no route to real server %s: %w", dest, err)
	}
	src := r.Src
	if x := d.byIx[r.Ifindex]; !src.IsValid() && x != nil {
		src = x.addrOf(dest.Is4())
	}
	v := ipvs.Verdict{Dest: ipvs.AddrFrom(dest), Forwarding: fwd}
	t := tunnelFor(&v, &nextHop{srcAddr: src})
	kt, ok := tcTunnel(&t)
	if !ok || !src.IsValid() {
		return 0, fmt.Errorf("dataplane: the kernel encapsulation program cannot tunnel to %s (IPIP, GUE and GRE without checksums only)", dest)
	}
	return d.kenc.Mark(kt)
}

// tunnelKernel sends a TCP super-frame for the tunnel t whole, for
// the TC program to encapsulate; false when it cannot (the caller
// segments it). The inner packet is what packet.Encap would carry: TTL
// decremented (an expired one is answered, as for any packet), the
// partial checksum left partial; gso_size fits the tunnel's path MTU.
func (w *worker) tunnelKernel(in *iface, f *RxFrame, p *packet.Packet, t *packet.Tunnel, hop *nextHop) bool {
	typ, size := p.GSO()
	if typ&^packet.GSOECN != packet.GSOTCPv4 && typ&^packet.GSOECN != packet.GSOTCPv6 {
		return false
	}
	port := w.kernelTunnel(p, t, hop.ifindex)
	if port == nil {
		return false
	}
	size = min(size, packet.MaxSegment(p, t.InnerMTU(p)))
	// the outer IPv4 total length (IPv6 payload length) must hold the
	// whole super-frame
	if size <= 0 || t.Src == t.Dst || p.IPLen()+t.Overhead(p) > 0xffff {
		return false
	}
	mark := w.tunnelMark(t)
	if mark == 0 {
		return false
	}
	b := f.Data()
	if w.refused(in, b, p, packet.DecrementTTL(b, p), false) {
		return true
	}
	packet.RewriteMAC(b, t.DstMAC, t.SrcMAC)
	h := p.VnetHeader()
	h.GSOSize = uint16(size)
	h.Encode(f.Buf[f.Off-vnetLen:])
	if err := port.QueueMark(f.Buf[f.Off-vnetLen:f.Off+p.End], mark); err != nil {
		w.count(dropSend)
	}
	return true
}

// queueTunnel queues an encapsulated frame of p (the inner packet) for
// tunnel t: on the marking sender when the tunnel's super-frames go
// through it, so they and the flow's other frames stay in order.
func (w *worker) queueTunnel(ifindex int, p *packet.Packet, t *packet.Tunnel, vnetAndFrame []byte) {
	if port := w.kernelTunnel(p, t, ifindex); port != nil {
		if err := port.QueueMark(vnetAndFrame, 0); err != nil {
			w.count(dropSend)
		}
		return
	}
	w.queue(ifindex, vnetAndFrame)
}
