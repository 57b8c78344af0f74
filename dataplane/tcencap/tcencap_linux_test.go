//go:build linux

package tcencap

import (
	"encoding/binary"
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
	mss        = 1440 // fits 1500 with the outer header: 20 + 20 + 20 + 1440
	innerTTL   = 63
	innerID    = 0x1234
)

// superFrame builds the virtio-net header and Ethernet frame of a TCP GSO
// super-frame from a client to a VIP, its checksum partial (the
// pseudo-header sum in the field), as a worker sends it: DF set, TOS CE.
func superFrame(dst, src net.HardwareAddr) []byte {
	b := make([]byte, 10+14+20+20+payloadLen)
	// virtio-net header: NEEDS_CSUM, TCPV4, hdr_len, gso_size, csum_start, csum_offset
	b[0], b[1] = 1, 1
	binary.LittleEndian.PutUint16(b[2:], 14+40)
	binary.LittleEndian.PutUint16(b[4:], mss)
	binary.LittleEndian.PutUint16(b[6:], 14+20)
	binary.LittleEndian.PutUint16(b[8:], 16)
	f := b[10:]
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
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

// send attaches the program in namespace a and sends one super-frame on a
// marking sender, with a second, unmarked, plain frame first.
func send(t *testing.T, a, b string, peerMAC net.HardwareAddr) {
	inNetns(t, a, func() {
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
		mark, err := e.Mark(netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2"))
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := e.Mark(netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")); again != mark || mark != MarkBase|1 {
			t.Fatalf("marks %#x, %#x", mark, again)
		}
		s, err := afpacket.NewMarkSender(va.Index, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.QueueMark(superFrame(peerMAC, va.HardwareAddr), mark); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	})
}

// receive reads IPIP datagrams in namespace b until payloadLen inner TCP
// payload bytes arrived (or a timeout), checking every outer header.
func receive(t *testing.T, fd int) (datagrams, biggest int) {
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
		if o[0] != 0x45 || o[9] != 4 || int(binary.BigEndian.Uint16(o[2:])) != n ||
			netip.AddrFrom4([4]byte(o[12:16])) != netip.MustParseAddr("10.98.0.1") ||
			netip.AddrFrom4([4]byte(o[16:20])) != netip.MustParseAddr("10.98.0.2") {
			t.Fatalf("outer header % x (length %d)", o, n)
		}
		if fold(sum(o, 0)) != 0xffff {
			t.Fatalf("outer header checksum: % x", o)
		}
		if o[8] != innerTTL || binary.BigEndian.Uint16(o[6:])&0xbfff != 0 || o[6]&0x40 == 0 || o[1] != 0x02 {
			t.Fatalf("outer TTL %d, flags %#x, TOS %#x: want %d, DF, ECT(0)", o[8], binary.BigEndian.Uint16(o[6:]), o[1], innerTTL)
		}
		in := p[20:]
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

func rawIPIP(t *testing.T, b string) (fd int, mac net.HardwareAddr) {
	inNetns(t, b, func() {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 4)
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
// mark leaves as one IPIP super-frame (veth carries SKB_GSO_IPXIP4 whole),
// which the peer's kernel takes in (its raw IPIP socket reads it whole),
// with the outer header packet.Encap would write.
func TestSuperFrameEncapsulated(t *testing.T) {
	a, b := twoNamespaces(t)
	fd, mac := rawIPIP(t, b)
	send(t, a, b, mac)
	n, biggest := receive(t, fd)
	t.Logf("%d datagram(s), the largest %d bytes", n, biggest)
}

// TestSuperFrameSegmented: with the veth's IPIP segmentation offload off,
// the director's kernel segments after encapsulation: every segment fits
// the 1500-byte MTU and carries its own outer header.
func TestSuperFrameSegmented(t *testing.T) {
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("tcencap: needs ethtool (.ci/packages.txt)")
	}
	a, b := twoNamespaces(t)
	sh(t, "ip", "netns", "exec", a, "ethtool", "-K", "va", "tx-ipxip4-segmentation", "off")
	fd, mac := rawIPIP(t, b)
	send(t, a, b, mac)
	n, biggest := receive(t, fd)
	if biggest > 1500 || n != (payloadLen+mss-1)/mss {
		t.Fatalf("%d datagrams, the largest %d bytes: want %d of at most 1500", n, biggest, (payloadLen+mss-1)/mss)
	}
}
