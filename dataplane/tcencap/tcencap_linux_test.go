//go:build linux

package tcencap

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/govs/gvs/dataplane/afpacket"
	"github.com/govs/gvs/internal/nettest"
	"golang.org/x/sys/unix"
)

// inNetns runs fn in the named namespace, failing the test if it cannot.
func inNetns(t testing.TB, name string, fn func()) {
	t.Helper()
	if err := nettest.InNetns(name, fn); err != nil {
		t.Fatal(err)
	}
}

var sh = nettest.Run

// twoNamespaces builds a director namespace (va, 10.98.0.1) and a real
// server namespace (vb, 10.98.0.2) joined by a veth pair with default
// offloads.
func twoNamespaces(t testing.TB) (a, b string) {
	return nettest.VethPair(t, "tce", "10.98.0.1/24", "10.98.0.2/24")
}

const (
	payloadLen = 64000
	mss        = 1400 // fits 1500 with the outer headers: 20 + 12 (GUE) + 20 + 20 + 1400
	innerTTL   = 63
	innerID    = 0x1234
)

// superFrame builds the virtio-net header and Ethernet frame of a TCP GSO
// super-frame from a client to a VIP, its checksum partial (the
// pseudo-header sum in the field), as a worker sends it: DF set, TOS CE.
func superFrame(dst, src net.HardwareAddr) []byte {
	b := frameStart(dst, src, 1, 20) // TCPV4
	f := b[10:]
	ip := f[14:34]
	ip[0], ip[1] = 0x45, 0x03 // CE
	binary.BigEndian.PutUint16(ip[2:], uint16(40+payloadLen))
	binary.BigEndian.PutUint16(ip[4:], innerID)
	binary.BigEndian.PutUint16(ip[6:], 0x4000)
	ip[8], ip[9] = innerTTL, 6
	copy(ip[12:16], []byte{10, 1, 0, 10})
	copy(ip[16:20], []byte{192, 0, 2, 30})
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip, 0)))
	tcp := f[34:54]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	binary.BigEndian.PutUint32(tcp[8:], 1)
	tcp[12], tcp[13] = 5<<4, 0x18 // PSH ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	for i := range payloadLen {
		f[54+i] = byte(i)
	}
	ps := sum(ip[12:20], 6+uint32(20+payloadLen))
	binary.BigEndian.PutUint16(tcp[16:], fold(ps))
	return b
}

var sum, fold = nettest.Sum, nettest.Fold

// frameStart allocates a super-frame with an IP header of l3 bytes (20:
// IPv4, 40: IPv6) and a TCP header before the payload, and writes its
// virtio-net header (NEEDS_CSUM, the GSO type, hdr_len, gso_size,
// csum_start, csum_offset), MACs and EtherType.
func frameStart(dst, src net.HardwareAddr, gsoType byte, l3 int) []byte {
	b := make([]byte, 10+14+l3+20+payloadLen)
	b[0], b[1] = 1, gsoType
	binary.LittleEndian.PutUint16(b[2:], uint16(14+l3+20))
	binary.LittleEndian.PutUint16(b[4:], mss)
	binary.LittleEndian.PutUint16(b[6:], uint16(14+l3))
	binary.LittleEndian.PutUint16(b[8:], 16)
	f := b[10:]
	copy(f[0:6], dst)
	copy(f[6:12], src)
	et := uint16(0x0800)
	if l3 == 40 {
		et = 0x86dd
	}
	binary.BigEndian.PutUint16(f[12:], et)
	return b
}

// kinds are the tunnel forms the program writes: the outer protocol (the
// peer's raw socket), the tunnel header after the outer IPv4 header, and
// the veth offload that carries the super-frame whole.
var kinds = []struct {
	name    string
	tun     Tunnel
	proto   int
	tunHdr  int
	offload string
}{
	{"ipip", Tunnel{Kind: IPIP}, 4, 0, "tx-ipxip4-segmentation"},
	{"gue", Tunnel{Kind: GUE, Port: 6080}, 17, 12, "tx-udp_tnl-segmentation"},
	{"gre", Tunnel{Kind: GRE}, 47, 4, "tx-gre-segmentation"},
}

var (
	outerSrc = netip.MustParseAddr("10.98.0.1")
	outerDst = netip.MustParseAddr("10.98.0.2")
)

// wantTunnelHeader is the tunnel header (UDP + GUE, or GRE) packet.Encap
// writes for a plain segment of the super-frame's flow: what every
// datagram must carry, the UDP length aside.
func wantTunnelHeader(t *testing.T, tun Tunnel) []byte {
	tun.Src, tun.Dst = outerSrc, outerDst
	return tunnelHeaderOf(t, tun, false)
}

// attachVA opens the encapsulator and attaches it to va (in the calling
// thread's namespace) until the test ends.
func attachVA(t *testing.T) (*Encap, *net.Interface) {
	t.Helper()
	e, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	va, err := net.InterfaceByName("va")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Attach(va.Index); err != nil {
		t.Fatal(err)
	}
	return e, va
}

// send attaches the program in namespace a and sends one super-frame on a
// marking sender.
func send(t *testing.T, a string, peerMAC net.HardwareAddr, tun Tunnel) {
	tun.Src, tun.Dst = outerSrc, outerDst
	inNetns(t, a, func() {
		e, va := attachVA(t)
		mark, err := e.Mark(tun)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := e.Mark(tun); again != mark || mark != MarkBase|1 {
			t.Fatalf("marks %#x, %#x", mark, again)
		}
		if err := sendMarked(va, superFrame(peerMAC, va.HardwareAddr), mark); err != nil {
			t.Fatal(err)
		}
	})
}

// sendMarked sends one frame (virtio-net header first) on a marking
// sender of va, in the calling thread's namespace; the error is Flush's.
func sendMarked(va *net.Interface, frame []byte, mark uint32) error {
	s, err := afpacket.NewMarkSender(va.Index, 4)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.QueueMark(frame, mark); err != nil {
		return err
	}
	return s.Flush()
}

// packetSocket opens a packet socket on vb in namespace b for EtherType
// proto (200 ms receive timeout) and returns it with vb's MAC.
func packetSocket(t *testing.T, b string, proto uint16) (fd int, mac net.HardwareAddr) {
	inNetns(t, b, func() {
		vb, err := net.InterfaceByName("vb")
		if err != nil {
			t.Fatal(err)
		}
		mac = vb.HardwareAddr
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto))); err != nil {
			t.Fatal(err)
		}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: vb.Index, Protocol: htons(proto)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { unix.Close(fd) })
	return fd, mac
}

// receive reads tunnel datagrams in namespace b until payloadLen inner
// TCP payload bytes arrived (or a timeout), checking every outer header
// and the tunnel header against want.
func receive(t *testing.T, fd, proto int, want []byte) (datagrams, biggest int) {
	t.Helper()
	buf := make([]byte, 1<<17)
	got := 0
	deadline := time.Now().Add(3 * time.Second)
	for got < payloadLen && time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		p := buf[:n]
		datagrams++
		biggest = max(biggest, n)
		o := p[:20]
		if o[0] != 0x45 || int(o[9]) != proto || int(binary.BigEndian.Uint16(o[2:])) != n ||
			netip.AddrFrom4([4]byte(o[12:16])) != outerSrc || netip.AddrFrom4([4]byte(o[16:20])) != outerDst {
			t.Fatalf("outer header % x (length %d)", o, n)
		}
		if fold(sum(o, 0)) != 0xffff {
			t.Fatalf("outer header checksum: % x", o)
		}
		if o[8] != innerTTL || binary.BigEndian.Uint16(o[6:])&0xbfff != 0 || o[6]&0x40 == 0 || o[1] != 0x02 {
			t.Fatalf("outer TTL %d, flags %#x, TOS %#x: want %d, DF, ECT(0)", o[8], binary.BigEndian.Uint16(o[6:]), o[1], innerTTL)
		}
		th := p[20 : 20+len(want)]
		if proto == 17 {
			if int(binary.BigEndian.Uint16(th[4:])) != n-20 {
				t.Fatalf("UDP length %d in a datagram of %d", binary.BigEndian.Uint16(th[4:]), n)
			}
			th = append([]byte(nil), th...)
			copy(th[4:6], want[4:6])
		}
		if string(th) != string(want) {
			t.Fatalf("tunnel header % x, want % x", th, want)
		}
		in := p[20+len(want):]
		if in[0] != 0x45 || int(binary.BigEndian.Uint16(in[2:])) != len(in) || in[9] != 6 || fold(sum(in[:20], 0)) != 0xffff {
			t.Fatalf("inner header % x (length %d)", in[:20], len(in))
		}
		seg := in[20:]
		ps := sum(in[12:20], 6+uint32(len(seg)))
		field := binary.BigEndian.Uint16(seg[16:])
		// complete, or still the pseudo-header sum of a CHECKSUM_PARTIAL skb
		if fold(sum(seg, ps)) != 0xffff && field != fold(ps) {
			t.Fatalf("inner TCP checksum %#x", field)
		}
		seq := binary.BigEndian.Uint32(seg[4:]) - 1000
		for i, c := range seg[20:] {
			if c != byte(int(seq)+i) {
				t.Fatalf("payload byte %d of segment at %d", i, seq)
			}
		}
		got += len(seg) - 20
	}
	if got != payloadLen {
		t.Fatalf("%d of %d payload bytes in %d datagrams", got, payloadLen, datagrams)
	}
	return datagrams, biggest
}

// rawSocket opens a raw IPv4 socket of the tunnel's protocol in namespace b.
func rawSocket(t *testing.T, b string, proto int) (fd int, mac net.HardwareAddr) {
	inNetns(t, b, func() {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			t.Fatal(err)
		}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
		vb, err := net.InterfaceByName("vb")
		if err != nil {
			t.Fatal(err)
		}
		mac = vb.HardwareAddr
	})
	t.Cleanup(func() { unix.Close(fd) })
	return fd, mac
}

// TestSuperFrameEncapsulated: a 64 KB TCP super-frame sent with a tunnel's
// mark leaves as one IPIP, GUE or GRE super-frame (veth carries
// SKB_GSO_IPXIP4, _UDP_TUNNEL and _GRE whole), which the peer's kernel
// takes in (its raw socket reads it whole), with the outer and tunnel
// headers packet.Encap would write (the GUE source port hashed from the
// inner flow as there).
func TestSuperFrameEncapsulated(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			want := wantTunnelHeader(t, k.tun)
			a, b := twoNamespaces(t)
			fd, mac := rawSocket(t, b, k.proto)
			send(t, a, mac, k.tun)
			n, biggest := receive(t, fd, k.proto, want)
			t.Logf("%d datagram(s), the largest %d bytes", n, biggest)
			if n != 1 {
				t.Fatalf("%d datagrams: want the super-frame whole", n)
			}
		})
	}
}

// TestSuperFrameSegmented: with the veth's segmentation offload for the
// tunnel off, the director's kernel segments after encapsulation: every
// segment fits the 1500-byte MTU and carries its own outer and tunnel
// headers.
func TestSuperFrameSegmented(t *testing.T) {
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("tcencap: needs ethtool (.ci/packages.txt)")
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			want := wantTunnelHeader(t, k.tun)
			a, b := twoNamespaces(t)
			sh(t, "ip", "netns", "exec", a, "ethtool", "-K", "va", k.offload, "off")
			fd, mac := rawSocket(t, b, k.proto)
			send(t, a, mac, k.tun)
			n, biggest := receive(t, fd, k.proto, want)
			// the segment size leaves room for the longest tunnel header (GUE)
			if biggest > 1500 || n != (payloadLen+mss-1)/mss {
				t.Fatalf("%d datagrams, the largest %d bytes: want %d of at most 1500", n, biggest, (payloadLen+mss-1)/mss)
			}
		})
	}
}

// TestUnknownTunnelDropped: a frame with a mark of GVS's range whose
// tunnel is not in the map is dropped, never sent unencapsulated; an
// unmarked frame passes untouched.
func TestUnknownTunnelDropped(t *testing.T) {
	a, b := twoNamespaces(t)
	fd, mac := packetSocket(t, b, unix.ETH_P_IP)
	send := func(mark uint32) {
		inNetns(t, a, func() {
			va, err := net.InterfaceByName("va")
			if err != nil {
				t.Fatal(err)
			}
			// the program's drop comes back as ENOBUFS
			if err := sendMarked(va, superFrame(mac, va.HardwareAddr), mark); err != nil && (mark == 0 || !errors.Is(err, unix.ENOBUFS)) {
				t.Fatal(err)
			}
		})
	}
	// the TCP super-frame itself, to the VIP: what must not leave
	leaked := func() int {
		n, buf := 0, make([]byte, 1<<17)
		for {
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return n
			}
			if k >= 34 && buf[14+9] == 6 && netip.AddrFrom4([4]byte(buf[14+16:14+20])) == netip.MustParseAddr("192.0.2.30") {
				n++
			}
		}
	}
	inNetns(t, a, func() { attachVA(t) })
	send(MarkBase | 7)
	if n := leaked(); n != 0 {
		t.Fatalf("%d unencapsulated frames left with an unknown tunnel's mark", n)
	}
	send(0)
	if n := leaked(); n == 0 {
		t.Fatal("control: the unmarked frame did not arrive")
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
