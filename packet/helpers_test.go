package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test frames are built with gopacket (an implementation independent of
// this package) and the package's outputs are decoded and verified with
// it, checksums included.

var (
	macClient   = MAC{0x02, 0, 0, 0, 0, 0x01}
	macDirector = MAC{0x02, 0, 0, 0, 0, 0x02}
	macReal     = MAC{0x02, 0, 0, 0, 0, 0x03}
)

// genSpec describes a generated packet.
type genSpec struct {
	fam       Family
	proto     uint8
	vlans     int
	src, dst  Addr
	sport     uint16
	dport     uint16
	ttl       uint8
	tos       uint8
	df        bool
	ipOptions bool // IPv4 options
	ext       bool // IPv6 destination options header
	payload   []byte
	tcpFlags  uint8
	udpNoCsum bool // IPv4 UDP without checksum
	seq       uint32
}

func randAddr(r *rand.Rand, f Family) Addr {
	if f == IPv4 {
		a := byte(1 + r.IntN(222))
		if a == 127 {
			a = 10
		}
		return AddrFrom4([4]byte{a, byte(r.Uint32()), byte(r.Uint32()), byte(1 + r.IntN(254))})
	}
	var a Addr
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	a[0] = 0x20 // global unicast, never mapped
	return a
}

func randSpec(r *rand.Rand) genSpec {
	s := genSpec{fam: IPv4}
	if r.IntN(2) == 1 {
		s.fam = IPv6
	}
	s.proto = []uint8{ProtoTCP, ProtoUDP, ProtoSCTP}[r.IntN(3)]
	s.vlans = r.IntN(3)
	s.src, s.dst = randAddr(r, s.fam), randAddr(r, s.fam)
	s.sport, s.dport = uint16(1+r.IntN(65535)), uint16(1+r.IntN(65535))
	s.ttl = uint8(2 + r.IntN(254))
	s.tos = uint8(r.Uint32())
	s.df = r.IntN(2) == 1
	s.ipOptions = s.fam == IPv4 && r.IntN(4) == 0
	s.ext = s.fam == IPv6 && r.IntN(4) == 0
	n := r.IntN(1400)
	if r.IntN(4) == 0 {
		n = r.IntN(3)
	}
	s.payload = make([]byte, n)
	for i := range s.payload {
		s.payload[i] = byte(r.Uint32())
	}
	s.tcpFlags = uint8(r.Uint32())
	s.udpNoCsum = s.fam == IPv4 && r.IntN(5) == 0
	s.seq = r.Uint32()
	return s
}

func ipOf(a Addr) net.IP { return net.IP(a.Netip().AsSlice()) }

// l3Layers returns the link and IP layers of a frame for s.
func (s *genSpec) l3Layers(next layers.IPProtocol) ([]gopacket.SerializableLayer, gopacket.NetworkLayer) {
	var ls []gopacket.SerializableLayer
	et := layers.EthernetTypeIPv4
	if s.fam == IPv6 {
		et = layers.EthernetTypeIPv6
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(macClient[:]), DstMAC: net.HardwareAddr(macDirector[:]), EthernetType: et}
	ls = append(ls, eth)
	if s.vlans > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		if s.vlans == 2 {
			eth.EthernetType = layers.EthernetTypeQinQ
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q})
		}
		ls = append(ls, &layers.Dot1Q{Priority: 3, VLANIdentifier: 42, Type: et})
	}
	if s.fam == IPv4 {
		ip := &layers.IPv4{Version: 4, TOS: s.tos, TTL: s.ttl, Protocol: next, SrcIP: ipOf(s.src), DstIP: ipOf(s.dst), Id: uint16(s.seq)}
		if s.df {
			ip.Flags = layers.IPv4DontFragment
		}
		if s.ipOptions {
			ip.Options = []layers.IPv4Option{
				{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}},       // router alert (copied)
				{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, // record route (not copied)
				{OptionType: 1, OptionLength: 1}, {OptionType: 0, OptionLength: 1},  // NOP, EOL
			}
		}
		return append(ls, ip), ip
	}
	ip := &layers.IPv6{Version: 6, TrafficClass: s.tos, FlowLabel: s.seq & 0xfffff, HopLimit: s.ttl, NextHeader: next, SrcIP: ipOf(s.src), DstIP: ipOf(s.dst)}
	if s.ext {
		ip.NextHeader = layers.IPProtocolIPv6Destination
		ls = append(ls, ip, gopacket.Payload([]byte{byte(next), 0, 1, 4, 0, 0, 0, 0})) // PadN
		return ls, ip
	}
	return append(ls, ip), ip
}

// build serializes the frame for s.
func (s *genSpec) build(t testing.TB) []byte {
	t.Helper()
	var l4 []gopacket.SerializableLayer
	ls, nl := s.l3Layers(layers.IPProtocol(s.proto))
	switch s.proto {
	case ProtoTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: s.seq, Ack: ^s.seq, Window: 4096}
		setTCPFlags(tcp, s.tcpFlags)
		if s.seq&3 == 0 {
			tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}
		}
		tcp.SetNetworkLayerForChecksum(nl)
		l4 = []gopacket.SerializableLayer{tcp, gopacket.Payload(s.payload)}
	case ProtoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		udp.SetNetworkLayerForChecksum(nl)
		l4 = []gopacket.SerializableLayer{udp, gopacket.Payload(s.payload)}
	case ProtoSCTP:
		chunk := make([]byte, 16+len(s.payload))
		chunk[0], chunk[1] = SCTPChunkData, 3
		binary.BigEndian.PutUint16(chunk[2:], uint16(len(chunk)))
		binary.BigEndian.PutUint32(chunk[4:], s.seq)
		copy(chunk[16:], s.payload)
		for len(chunk)%4 != 0 {
			chunk = append(chunk, 0)
		}
		l4 = []gopacket.SerializableLayer{&layers.SCTP{SrcPort: layers.SCTPPort(s.sport), DstPort: layers.SCTPPort(s.dport), VerificationTag: s.seq}, gopacket.Payload(chunk)}
	}
	frame := serialize(t, append(ls, l4...)...)
	if s.proto == ProtoUDP && s.udpNoCsum {
		var p Packet
		if r := Parse(frame, &p); r != DropNone {
			t.Fatalf("generated frame: %v", r)
		}
		frame[p.L4Off+6], frame[p.L4Off+7] = 0, 0
	}
	return frame
}

func setTCPFlags(t *layers.TCP, f uint8) {
	t.FIN, t.SYN, t.RST, t.PSH = f&TCPFin != 0, f&TCPSyn != 0, f&TCPRst != 0, f&TCPPsh != 0
	t.ACK, t.URG, t.ECE, t.CWR = f&TCPAck != 0, f&TCPUrg != 0, f&TCPEce != 0, f&TCPCwr != 0
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return bytes.Clone(buf.Bytes())
}

// decoded is a frame decoded by gopacket, with the checksums verified.
type decoded struct {
	pkt  gopacket.Packet
	eth  *layers.Ethernet
	ip4  *layers.IPv4
	ip6  *layers.IPv6
	tcp  *layers.TCP
	udp  *layers.UDP
	sctp *layers.SCTP
	icmp *layers.ICMPv4
	icm6 *layers.ICMPv6
	gre  *layers.GRE
	// the tunnelled packet, for IPIP, GRE and GUE
	inner *decoded
	gue   []byte // the GUE header
}

// decode decodes frame (an Ethernet frame, or an IP packet with first set
// to LayerTypeIPv4/IPv6) and verifies every checksum in it: IPv4 header,
// TCP, UDP, ICMP, ICMPv6, GRE, SCTP, recursively into tunnels.
func decode(frame []byte, first gopacket.LayerType, guePort uint16) (*decoded, error) {
	pkt := gopacket.NewPacket(frame, first, gopacket.Default)
	// errors above the transport layer are gopacket guessing applications
	// from port numbers: not ours
	if e := pkt.ErrorLayer(); e != nil && pkt.TransportLayer() == nil {
		return nil, fmt.Errorf("gopacket: %v", e.Error())
	}
	d := &decoded{pkt: pkt}
	var nl gopacket.NetworkLayer
	for _, l := range pkt.Layers() {
		switch v := l.(type) {
		case *layers.Ethernet:
			d.eth = v
		case *layers.IPv4:
			if d.ip4 != nil || d.ip6 != nil || d.gre != nil {
				return d, d.tunnelled(v.Contents, v.Payload, layers.LayerTypeIPv4)
			}
			d.ip4, nl = v, v
			if err, r := v.VerifyChecksum(); err != nil || !r.Valid {
				return nil, fmt.Errorf("bad IPv4 header checksum %#04x", v.Checksum)
			}
		case *layers.IPv6:
			if d.ip4 != nil || d.ip6 != nil || d.gre != nil {
				return d, d.tunnelled(v.Contents, v.Payload, layers.LayerTypeIPv6)
			}
			d.ip6, nl = v, v
		case *layers.TCP:
			d.tcp = v
			v.SetNetworkLayerForChecksum(nl)
			if err, r := v.VerifyChecksum(); err != nil || !r.Valid {
				return nil, fmt.Errorf("bad TCP checksum %#04x (want %#04x)", v.Checksum, r.Correct)
			}
		case *layers.UDP:
			d.udp = v
			v.SetNetworkLayerForChecksum(nl)
			if err, r := v.VerifyChecksum(); err != nil || !r.Valid {
				return nil, fmt.Errorf("bad UDP checksum %#04x (want %#04x)", v.Checksum, r.Correct)
			}
			if guePort != 0 && uint16(v.DstPort) == guePort {
				pl := v.Payload
				if len(pl) < 4 {
					return nil, fmt.Errorf("short GUE")
				}
				hl := 4 + int(pl[0]&0x1f)*4
				if len(pl) < hl {
					return nil, fmt.Errorf("short GUE options")
				}
				d.gue = pl[:hl]
				lt := layers.LayerTypeIPv4
				if pl[1] == ProtoIPv6 {
					lt = layers.LayerTypeIPv6
				}
				in, err := decode(pl[hl:], lt, 0)
				if err != nil {
					return nil, fmt.Errorf("GUE inner: %w", err)
				}
				d.inner = in
				return d, nil
			}
		case *layers.SCTP:
			d.sctp = v
			all := append(append([]byte(nil), v.Contents...), v.Payload...)
			want := binary.LittleEndian.Uint32(all[8:])
			clear(all[8:12])
			if got := crc32.Checksum(all, crc32.MakeTable(crc32.Castagnoli)); got != want {
				return nil, fmt.Errorf("bad SCTP CRC32c %#08x (want %#08x)", want, got)
			}
		case *layers.ICMPv4:
			d.icmp = v
			if err, r := v.VerifyChecksum(); err != nil || !r.Valid {
				return nil, fmt.Errorf("bad ICMP checksum")
			}
		case *layers.ICMPv6:
			d.icm6 = v
			v.SetNetworkLayerForChecksum(nl)
			if err, r := v.VerifyChecksum(); err != nil || !r.Valid {
				return nil, fmt.Errorf("bad ICMPv6 checksum")
			}
		case *layers.GRE:
			d.gre = v
			if v.ChecksumPresent {
				if err, r := v.VerifyChecksum(); err != nil || !r.Valid {
					return nil, fmt.Errorf("bad GRE checksum")
				}
			}
		}
	}
	return d, nil
}

func (d *decoded) tunnelled(contents, payload []byte, lt gopacket.LayerType) error {
	in, err := decode(append(append([]byte(nil), contents...), payload...), lt, 0)
	if err != nil {
		return fmt.Errorf("inner: %w", err)
	}
	d.inner = in
	return nil
}

func mustDecode(t testing.TB, frame []byte, guePort uint16) *decoded {
	t.Helper()
	d, err := decode(frame, layers.LayerTypeEthernet, guePort)
	if err != nil {
		t.Fatalf("%v\n%s", err, gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default).Dump())
	}
	return d
}

// changedOnly fails unless a and b differ only at the allowed byte offsets.
func changedOnly(t testing.TB, a, b []byte, allowed ...[2]int) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("length %d, want %d", len(b), len(a))
	}
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		ok := false
		for _, r := range allowed {
			if i >= r[0] && i < r[1] {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("byte %d changed (%#02x -> %#02x)", i, a[i], b[i])
		}
	}
}

// partialSum writes the pseudo-header sum (CHECKSUM_PARTIAL) into the L4
// checksum field, with a 16-bit loop independent of checksum.go.
func makePartial(frame []byte, p *Packet) VnetHeader {
	off := tcpCsumOff
	if p.Key.Proto == ProtoUDP {
		off = udpCsumOff
	}
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	add(p.Key.Src.bytes(p.Key.Family))
	add(p.Key.Dst.bytes(p.Key.Family))
	s += uint32(p.Key.Proto) + uint32(p.End-p.L4Off)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(frame[p.L4Off+off:], uint16(s))
	return VnetHeader{Flags: VnetNeedsCsum, CsumStart: uint16(p.L4Off), CsumOffset: uint16(off)}
}

func mustParse(t testing.TB, frame []byte) *Packet {
	t.Helper()
	var p Packet
	if r := Parse(frame, &p); r != DropNone {
		t.Fatalf("Parse: %v\n%s", r, gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default).Dump())
	}
	return &p
}

func l4Layer(d *decoded) (sport, dport uint16, payload []byte) {
	switch {
	case d.tcp != nil:
		return uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort), d.tcp.Payload
	case d.udp != nil:
		return uint16(d.udp.SrcPort), uint16(d.udp.DstPort), d.udp.Payload
	case d.sctp != nil:
		return uint16(d.sctp.SrcPort), uint16(d.sctp.DstPort), d.sctp.Payload
	}
	return 0, 0, nil
}

func ipAddrs(d *decoded) (src, dst Addr, ttl uint8) {
	if d.ip4 != nil {
		return AddrFrom4([4]byte(d.ip4.SrcIP.To4())), AddrFrom4([4]byte(d.ip4.DstIP.To4())), d.ip4.TTL
	}
	return Addr(d.ip6.SrcIP.To16()), Addr(d.ip6.DstIP.To16()), d.ip6.HopLimit
}
