package packet

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

var update = flag.Bool("update", false, "rewrite the golden pcap files under testdata/")

// writePcap encodes frames in the classic pcap format (Ethernet link type),
// one second apart, so tshark and tcpdump read them.
func writePcap(frames [][]byte) []byte {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	b.Write(hdr)
	for i, f := range frames {
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(i))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		b.Write(rec)
		b.Write(f)
	}
	return b.Bytes()
}

var (
	gClient  = MustParseAddr("198.51.100.7")
	gVIP     = MustParseAddr("203.0.113.10")
	gReal    = MustParseAddr("10.0.0.21")
	gDir     = MustParseAddr("10.0.0.1")
	gRouter  = MustParseAddr("198.51.100.1")
	gClient6 = MustParseAddr("2001:db8:1::7")
	gVIP6    = MustParseAddr("2001:db8:2::10")
	gReal6   = MustParseAddr("fd00::21")
	gDir6    = MustParseAddr("fd00::1")
	gPayload = []byte("GET / HTTP/1.1\r\nHost: gvs.example\r\n\r\n")
)

func gSpec(fam Family, proto uint8) genSpec {
	s := genSpec{fam: fam, proto: proto, src: gClient, dst: gVIP, sport: 40000, dport: 80, ttl: 64, df: true, payload: gPayload, tcpFlags: TCPAck | TCPPsh, seq: 0x1000}
	if fam == IPv6 {
		s.src, s.dst = gClient6, gVIP6
	}
	return s
}

// goldens builds every golden capture: the input frame(s), then the output(s).
func goldens(t *testing.T) map[string][][]byte {
	g := map[string][][]byte{}
	transform := func(name string, s genSpec, fn func(f *Frame, p *Packet) [][]byte) {
		in := s.build(t)
		f := inFrame(in)
		p := mustParse(t, f.Bytes())
		g[name] = append([][]byte{in}, fn(&f, p)...)
	}
	one := func(f *Frame) [][]byte { return [][]byte{bytes.Clone(f.Bytes())} }
	check := func(r DropReason) {
		t.Helper()
		if r != DropNone {
			t.Fatal(r)
		}
	}
	nat := func(fam Family, proto uint8, out bool) func(f *Frame, p *Packet) [][]byte {
		return func(f *Frame, p *Packet) [][]byte {
			real := gReal
			if fam == IPv6 {
				real = gReal6
			}
			if out {
				check(NATSource(f.Bytes(), p, gVIP.ifFam(fam), 80))
			} else {
				check(NATDest(f.Bytes(), p, real, 8080))
			}
			RewriteMAC(f.Bytes(), macReal, macDirector)
			return one(f)
		}
	}
	transform("nat-in-tcp4", gSpec(IPv4, ProtoTCP), nat(IPv4, ProtoTCP, false))
	transform("nat-in-udp6", gSpec(IPv6, ProtoUDP), nat(IPv6, ProtoUDP, false))
	transform("nat-in-sctp4", gSpec(IPv4, ProtoSCTP), nat(IPv4, ProtoSCTP, false))
	reply := gSpec(IPv4, ProtoTCP)
	reply.src, reply.dst, reply.sport, reply.dport = gReal, gClient, 8080, 40000
	transform("nat-out-tcp4", reply, nat(IPv4, ProtoTCP, true))
	dr := gSpec(IPv4, ProtoTCP)
	dr.vlans = 1
	transform("dr-tcp4-vlan", dr, func(f *Frame, p *Packet) [][]byte {
		check(DirectRoute(f.Bytes(), p, macReal, macDirector))
		return one(f)
	})
	tun := func(typ TunnelType, outer Family, csum bool) func(f *Frame, p *Packet) [][]byte {
		return func(f *Frame, p *Packet) [][]byte {
			tn := Tunnel{Type: typ, Src: gDir, Dst: gReal, Port: 6080, Csum: csum, MTU: 1500, DstMAC: macReal, SrcMAC: macDirector}
			if outer == IPv6 {
				tn.Src, tn.Dst = gDir6, gReal6
			}
			check(Encap(f, p, &tn, 0x4242))
			return one(f)
		}
	}
	transform("ipip", gSpec(IPv4, ProtoTCP), tun(TunnelIPIP, IPv4, false))
	transform("ip6ip6", gSpec(IPv6, ProtoTCP), tun(TunnelIPIP, IPv6, false))
	transform("6in4", gSpec(IPv6, ProtoUDP), tun(TunnelIPIP, IPv4, false))
	transform("4in6", gSpec(IPv4, ProtoUDP), tun(TunnelIPIP, IPv6, false))
	transform("gue", gSpec(IPv4, ProtoTCP), tun(TunnelGUE, IPv4, false))
	transform("gue-csum-6in6", gSpec(IPv6, ProtoTCP), tun(TunnelGUE, IPv6, true))
	transform("gre", gSpec(IPv4, ProtoTCP), tun(TunnelGRE, IPv4, false))
	transform("gre-csum-6in4", gSpec(IPv6, ProtoSCTP), tun(TunnelGRE, IPv4, true))

	// ICMP errors about NAT connections, both ways
	about := gSpec(IPv4, ProtoTCP)
	about.src, about.dst, about.sport, about.dport = gVIP, gClient, 80, 40000
	ab := about.build(t)
	abp := mustParse(t, ab)
	in := icmpErrorAbout(t, &about, ab[abp.L3Off:abp.End], gRouter, ICMPv4DestUnreach, ICMPv4FragNeeded, 1400, 60)
	f := inFrame(in)
	check(TranslateICMP(f.Bytes(), mustParse(t, f.Bytes()), ToRealServer, gReal, 8080))
	g["icmp-nat-in"] = [][]byte{ab, in, bytes.Clone(f.Bytes())}
	about6 := gSpec(IPv6, ProtoUDP)
	about6.src, about6.dst, about6.dport = gClient6, gReal6, 8080
	ab = about6.build(t)
	abp = mustParse(t, ab)
	in = icmpErrorAbout(t, &about6, ab[abp.L3Off:abp.End], gReal6, ICMPv6DestUnreach, ICMPv6PortUnreach, 0, 64)
	// the real server reports to the client: from the real server to the client
	f = inFrame(in)
	check(TranslateICMP(f.Bytes(), mustParse(t, f.Bytes()), ToClient, gVIP6, 80))
	g["icmp-nat-out6"] = [][]byte{ab, in, bytes.Clone(f.Bytes())}

	// path MTU: frag needed / packet too big, time exceeded, fragments
	build := func(name string, s genSpec, fn func(dst, orig []byte, p *Packet) (int, DropReason)) {
		in := s.build(t)
		buf := make([]byte, 2048)
		n, r := fn(buf, in, mustParse(t, in))
		check(r)
		g[name] = [][]byte{in, buf[:n]}
	}
	big := gSpec(IPv4, ProtoTCP)
	big.payload = bytes.Repeat([]byte("x"), 1460)
	tn := Tunnel{Type: TunnelGUE, Src: gDir, Dst: gReal, Port: 6080, MTU: 1500}
	build("frag-needed", big, func(dst, orig []byte, p *Packet) (int, DropReason) {
		return BuildFragNeeded(dst, orig, p, gDir, macDirector, tn.InnerMTU(p))
	})
	big6 := gSpec(IPv6, ProtoTCP)
	big6.payload = big.payload
	build("packet-too-big", big6, func(dst, orig []byte, p *Packet) (int, DropReason) {
		return BuildFragNeeded(dst, orig, p, gDir6, macDirector, 1280)
	})
	build("time-exceeded", gSpec(IPv4, ProtoUDP), func(dst, orig []byte, p *Packet) (int, DropReason) {
		return BuildTimeExceeded(dst, orig, p, gDir, macDirector)
	})
	big.df = false
	transform("ipip-fragments", big, func(f *Frame, p *Packet) [][]byte {
		tn := Tunnel{Type: TunnelIPIP, Src: gDir, Dst: gReal, MTU: 1500, DstMAC: macReal, SrcMAC: macDirector}
		check(Encap(f, p, &tn, 7))
		out := frames(4, 2048, 0)
		n, r := Fragment(out, f.Bytes(), tn.MTU, 7)
		check(r)
		var res [][]byte
		for i := range n {
			res = append(res, out[i].Bytes())
		}
		return res
	})
	big6.payload = bytes.Repeat([]byte("y"), 3000)
	transform("fragments6", big6, func(f *Frame, p *Packet) [][]byte {
		out := frames(4, 2048, 0)
		n, r := Fragment(out, f.Bytes(), 1280, 0xabcdef)
		check(r)
		var res [][]byte
		for i := range n {
			res = append(res, out[i].Bytes())
		}
		return res
	})
	gso := gSpec(IPv4, ProtoTCP)
	gso.payload = bytes.Repeat([]byte("z"), 4000)
	gso.tcpFlags = TCPAck | TCPPsh | TCPFin | TCPCwr
	transform("gso-tcp4", gso, func(f *Frame, p *Packet) [][]byte {
		out := frames(8, 2048, 0)
		n, r := Segment(out, f.Bytes(), p, 1448)
		check(r)
		var res [][]byte
		for i := range n {
			res = append(res, out[i].Bytes())
		}
		return res
	})

	// the VIPs' link-layer presence
	buf := make([]byte, 128)
	n, _ := BuildGratuitousARP(buf, macDirector, gVIP)
	g["gratuitous-arp"] = [][]byte{bytes.Clone(buf[:n])}
	n, _ = BuildUnsolicitedNA(buf, macDirector, gVIP6)
	g["unsolicited-na"] = [][]byte{bytes.Clone(buf[:n])}
	ns := buildNS(t, gClient6, MustParseAddr("ff02::1:ff00:10"), gVIP6, true, 255)
	np := mustParse(t, ns)
	var sol NeighborSolicitation
	check(ParseNeighborSolicitation(ns, np, &sol))
	n, _ = BuildNeighborAdvert(buf, ns, np, &sol, macDirector)
	g["neighbor-advert"] = [][]byte{ns, bytes.Clone(buf[:n])}
	return g
}

func (a Addr) ifFam(f Family) Addr {
	if f == IPv6 {
		return gVIP6
	}
	return a
}

func TestGolden(t *testing.T) {
	for name, frames := range goldens(t) {
		path := filepath.Join("testdata", name+".pcap")
		data := writePcap(frames)
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGolden -update)", err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s differs from the golden capture (run go test -run TestGolden -update and review)", path)
		}
		for i, f := range frames {
			if _, err := decode(f, layers.LayerTypeEthernet, 6080); err != nil {
				t.Errorf("%s frame %d: %v", name, i+1, err)
			}
		}
	}
}

// TestGoldenTshark has Wireshark's dissectors, an independent
// implementation, check every golden capture: no malformed packet, no bad
// checksum (IPv4, TCP, UDP, ICMP, SCTP CRC32c, GRE).
func TestGoldenTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark): golden captures not checked by Wireshark")
	}
	files, _ := filepath.Glob("testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no golden captures")
	}
	bad := regexp.MustCompile(`(?i)malformed|bad checksum|checksum status: bad|\[incorrect|crc32c.*incorrect|expert info \(error`)
	for _, f := range files {
		out, err := exec.Command(tshark, "-n", "-r", f, "-V",
			"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
			"-o", "sctp.checksum:CRC-32C").CombinedOutput()
		if err != nil {
			t.Errorf("tshark %s: %v\n%s", f, err, out)
			continue
		}
		// Wireshark checks the transport checksum of a quoted packet even
		// when the quote is truncated (RFC 1812's 576 bytes), as in these
		// two: the quoted checksum is the whole original packet's
		truncatedQuote := strings.Contains(f, "frag-needed") || strings.Contains(f, "packet-too-big")
		inICMP := false
		for _, line := range strings.Split(string(out), "\n") {
			if line != "" && line[0] != ' ' {
				inICMP = strings.HasPrefix(line, "Internet Control Message Protocol")
			}
			if bad.MatchString(line) && !(truncatedQuote && inICMP) {
				t.Errorf("%s: %s", f, strings.TrimSpace(line))
			}
		}
	}
}
