//go:build linux

package tundecap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The integration test builds two network namespaces joined by a veth
// pair: a "director" sending tunnelled packets and a real server running
// the decapsulator with the VIPs on lo. Each packet is a client's UDP
// datagram to a VIP, and a UDP socket bound to the VIP must receive it.
var (
	rsLAN4 = netip.MustParseAddr("10.0.2.11")
	rsLAN6 = netip.MustParseAddr("fd00:2::11")
)

const guePort = 6080

func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("tundecap: the integration test needs root (network namespaces); CI runs it as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("tundecap: the integration test needs iproute2; CI installs it")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("tundecap: no /dev/net/tun")
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn with the calling thread in namespace name, on a thread
// of its own that is thrown away afterwards (it stays locked), so no
// other goroutine ever runs in the wrong namespace. Sockets fn opens stay
// in that namespace.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

type testbed struct {
	tx, rx string // namespace names
}

func newTestbed(t *testing.T) *testbed {
	needNetns(t)
	b := &testbed{tx: fmt.Sprintf("gvstd%d-dir", os.Getpid()), rx: fmt.Sprintf("gvstd%d-rs", os.Getpid())}
	for _, ns := range []string{b.tx, b.rx} {
		exec.Command("ip", "netns", "del", ns).Run()
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// no duplicate address detection: addresses usable at once
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "eth0", "netns", b.tx, "type", "veth", "peer", "name", "eth0", "netns", b.rx)
	for _, c := range [][]string{
		{b.tx, "addr", "add", "10.0.2.1/24", "dev", "eth0"},
		{b.tx, "addr", "add", "fd00:2::1/64", "dev", "eth0", "nodad"},
		{b.rx, "addr", "add", "10.0.2.11/24", "dev", "eth0"},
		{b.rx, "addr", "add", "fd00:2::11/64", "dev", "eth0", "nodad"},
		{b.rx, "addr", "add", "10.0.2.100/32", "dev", "lo"},
		{b.rx, "addr", "add", "fd00:2::100/128", "dev", "lo", "nodad"},
		{b.tx, "link", "set", "eth0", "up"},
		{b.rx, "link", "set", "eth0", "up"},
	} {
		run(t, append([]string{"ip", "-n", c[0]}, c[1:]...)...)
	}
	// The first packets after link-up can wait seconds for neighbour
	// resolution (an early solicitation is lost while the peer's link
	// comes up); the cases below allow 2s each, so resolve both families
	// first.
	for _, dst := range []string{"10.0.2.11:9", "[fd00:2::11]:9"} {
		if err := inNetns(b.tx, func() error { return awaitPortUnreachable(dst, 10*time.Second) }); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// awaitPortUnreachable sends UDP datagrams to a closed port until the
// peer's "port unreachable" comes back: both directions resolved.
func awaitPortUnreachable(dst string, within time.Duration) error {
	c, err := net.Dial("udp", dst)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 16)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		c.Write([]byte("probe"))
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Read(buf); errors.Is(err, unix.ECONNREFUSED) {
			return nil
		}
	}
	return fmt.Errorf("%s: no answer within %v", dst, within)
}

// startDecap runs the decapsulator in the real server's namespace.
func (b *testbed) startDecap(t *testing.T, cfg Config) *Decap {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var d *Decap
	err := inNetns(b.rx, func() (err error) {
		d, err = Start(context.Background(), cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// listen binds UDP sockets to the VIPs (port 9000) in the real server.
func (b *testbed) listen(t *testing.T) (v4, v6 *net.UDPConn) {
	t.Helper()
	err := inNetns(b.rx, func() (err error) {
		if v4, err = net.ListenUDP("udp4", &net.UDPAddr{IP: vip4.AsSlice(), Port: 9000}); err != nil {
			return err
		}
		v6, err = net.ListenUDP("udp6", &net.UDPAddr{IP: vip6.AsSlice(), Port: 9000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v4.Close(); v6.Close() })
	return v4, v6
}

// sender opens a socket in the director's namespace.
func (b *testbed) socket(t *testing.T, family, typ, proto int) int {
	t.Helper()
	var fd int
	err := inNetns(b.tx, func() (err error) {
		fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func sockaddr(a netip.Addr, port int) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: port}
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: port}
}

// expect reads one datagram and checks its payload and the client's address.
func expect(t *testing.T, c *net.UDPConn, payload string, from netip.Addr) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, addr, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("%q not received: %v", payload, err)
	}
	if got := string(buf[:n]); got != payload || addr.Addr().Unmap() != from || addr.Port() != 40000 {
		t.Fatalf("received %q from %v, want %q from %v:40000", got, addr, payload, from)
	}
}

// settledStats polls the counters until ok holds or a second passes and
// returns the last reading: a receiver can see a packet before the
// user-space decapsulator's write returns and counts it.
func settledStats(d *Decap, ok func(Stats) bool) Stats {
	s := d.Stats()
	for deadline := time.Now().Add(time.Second); !ok(s) && time.Now().Before(deadline); s = d.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func expectNothing(t *testing.T, c *net.UDPConn) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, addr, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("unexpected %q from %v", buf[:n], addr)
	}
}

func TestDecapsulatesOnTheWire(t *testing.T) {
	b := newTestbed(t)
	l4, l6 := b.listen(t)

	// Control: without a decapsulator the kernel (no ipip module) answers
	// an ipip packet with "protocol unreachable"; the test can see that.
	icmp := b.socket(t, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	ipip := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoIPIP)
	send := func(fd int, pkt []byte, to netip.Addr, port int) {
		t.Helper()
		if err := unix.Sendto(fd, pkt, 0, sockaddr(to, port)); err != nil {
			t.Fatal(err)
		}
	}
	send(ipip, innerUDP(false, "nobody home", false), rsLAN4, 0)
	if !protoUnreachable(t, icmp, 3*time.Second) {
		t.Fatal("control: no ICMP protocol unreachable without a decapsulator")
	}

	d := b.startDecap(t, Config{GUEPort: guePort})
	ipip6in4 := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoIPv6)
	gre4 := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoGRE)
	ipip4in6 := b.socket(t, unix.AF_INET6, unix.SOCK_RAW, ProtoIPIP)
	ipip6in6 := b.socket(t, unix.AF_INET6, unix.SOCK_RAW, ProtoIPv6)
	gre6 := b.socket(t, unix.AF_INET6, unix.SOCK_RAW, ProtoGRE)
	gue4 := b.socket(t, unix.AF_INET, unix.SOCK_DGRAM, 0)
	gue6 := b.socket(t, unix.AF_INET6, unix.SOCK_DGRAM, 0)
	gue6nocsum := b.socket(t, unix.AF_INET6, unix.SOCK_DGRAM, 0)
	// IPVS sends GUE over IPv6 with a zero UDP checksum by default
	if err := unix.SetsockoptInt(gue6nocsum, unix.IPPROTO_UDP, unix.UDP_NO_CHECK6_TX, 1); err != nil {
		t.Fatal(err)
	}

	partialUDP4 := innerUDP(false, "gue remcsum", true)
	cases := []struct {
		name    string
		fd      int
		to      netip.Addr
		port    int
		pkt     []byte
		rx      *net.UDPConn
		payload string
	}{
		{"ipip", ipip, rsLAN4, 0, innerUDP(false, "ipip", false), l4, "ipip"},
		{"6in4", ipip6in4, rsLAN4, 0, innerUDP(true, "6in4", false), l6, "6in4"},
		{"gre", gre4, rsLAN4, 0, grePacket(innerUDP(false, "gre", false), greOptions{csum: true}), l4, "gre"},
		{"gre ipv6 inner, key", gre4, rsLAN4, 0, grePacket(innerUDP(true, "gre6", false), greOptions{key: true}), l6, "gre6"},
		{"4in6", ipip4in6, rsLAN6, 0, innerUDP(false, "4in6", false), l4, "4in6"},
		{"6in6", ipip6in6, rsLAN6, 0, innerUDP(true, "6in6", false), l6, "6in6"},
		{"gre over ipv6", gre6, rsLAN6, 0, grePacket(innerUDP(true, "gre over 6", false), greOptions{}), l6, "gre over 6"},
		{"gue", gue4, rsLAN4, guePort, guePacket(innerUDP(false, "gue", false), false, 0, 0), l4, "gue"},
		{"gue ipv6 inner", gue4, rsLAN4, guePort, guePacket(innerUDP(true, "gue6", false), false, 0, 0), l6, "gue6"},
		{"gue over ipv6, zero udp checksum", gue6nocsum, rsLAN6, guePort, guePacket(innerUDP(true, "gue nocsum", false), false, 0, 0), l6, "gue nocsum"},
		{"gue variant 1", gue6, rsLAN6, guePort, innerUDP(false, "gue direct", false), l4, "gue direct"},
		{"gue remote checksum offload", gue4, rsLAN4, guePort, guePacket(partialUDP4, true, 20, 26), l4, "gue remcsum"},
		{"ipip partial checksum", ipip, rsLAN4, 0, innerUDP(false, "ipip partial", true), l4, "ipip partial"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			send(c.fd, c.pkt, c.to, c.port)
			from := client4
			if c.rx == l6 {
				from = client6
			}
			expect(t, c.rx, c.payload, from)
		})
	}

	t.Run("veth CHECKSUM_PARTIAL", func(t *testing.T) {
		b.sendPartialFrame(t, innerUDP(false, "veth partial", true))
		expect(t, l4, "veth partial", client4)
	})

	t.Run("malformed", func(t *testing.T) {
		before := d.Stats()
		send(ipip, []byte("not an ip packet at all, just bytes"), rsLAN4, 0)
		send(gre4, []byte{0x00, 0x01, 0x08, 0x00, 0x45}, rsLAN4, 0) // GRE version 1
		send(gue4, []byte{0x20, 4, 0, 0}, rsLAN4, guePort)          // GUE control message
		send(ipip6in6, innerUDP(false, "v4 in a 41 packet", false), rsLAN6, 0)
		expectNothing(t, l4)
		expectNothing(t, l6)
		after := d.Stats()
		if got := after.Dropped[DropInner] - before.Dropped[DropInner]; got != 2 {
			t.Errorf("bad inner drops: %d, want 2", got)
		}
		if after.Dropped[DropGRE]-before.Dropped[DropGRE] != 1 || after.Dropped[DropGUE]-before.Dropped[DropGUE] != 1 {
			t.Errorf("counters %+v", after)
		}
	})

	t.Run("no protocol unreachable", func(t *testing.T) {
		send(ipip, innerUDP(false, "quiet", false), rsLAN4, 0)
		expect(t, l4, "quiet", client4)
		if protoUnreachable(t, icmp, time.Second) {
			t.Fatal("the kernel answered protocol unreachable although the decapsulator runs")
		}
	})

	s := d.Stats()
	t.Logf("counters: %v", s.LogAttrs())
	if want := uint64(len(cases) + 2); s.Delivered != want {
		t.Errorf("delivered %d, want %d", s.Delivered, want)
	}
	if s.Partial != 3 {
		t.Errorf("partial checksums passed on: %d, want 3", s.Partial)
	}
	if s.Dropped[DropWrite] != 0 || s.Dropped[DropTruncated] != 0 {
		t.Errorf("drops %v", s.LogAttrs())
	}
}

// protoUnreachable reports whether an ICMP protocol unreachable arrives
// within wait.
func protoUnreachable(t *testing.T, fd int, wait time.Duration) bool {
	t.Helper()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ihl := int(buf[0]&0x0f) * 4
		if n > ihl+1 && buf[ihl] == 3 && buf[ihl+1] == 2 {
			return true
		}
	}
	return false
}

// sendPartialFrame sends an ipip frame from the director's eth0 through a
// packet socket with a virtio-net header asking for the inner checksum to
// be completed later: the real server's stack receives a CHECKSUM_PARTIAL
// packet, as from any local sender on a veth, and its raw socket reads the
// inner segment with only the pseudo-header sum in place.
func (b *testbed) sendPartialFrame(t *testing.T, inner []byte) {
	t.Helper()
	var src, dst net.HardwareAddr
	var ifindex int
	if err := inNetns(b.rx, func() error {
		ifi, err := net.InterfaceByName("eth0")
		dst = ifi.HardwareAddr
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var fd int
	err := inNetns(b.tx, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		src, ifindex = ifi.HardwareAddr, ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	outer := ipv4Packet(netip.MustParseAddr("10.0.2.1"), rsLAN4, ProtoIPIP, inner)
	frame := make([]byte, vnetHdrLen+14+len(outer))
	h := frame[:vnetHdrLen]
	h[0] = vnetNeedsCsum
	l4 := 14 + 20 + int(inner[0]&0x0f)*4
	binary.NativeEndian.PutUint16(h[6:], uint16(l4))
	binary.NativeEndian.PutUint16(h[8:], 6)
	eth := frame[vnetHdrLen:]
	copy(eth[0:6], dst)
	copy(eth[6:12], src)
	binary.BigEndian.PutUint16(eth[12:], 0x0800)
	copy(eth[14:], outer)
	if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: ifindex, Protocol: 0x0008}); err != nil {
		t.Fatal(err)
	}
}

// TestAllowFrom: tunnels from sources outside --allow-from are dropped and counted.
func TestAllowFrom(t *testing.T) {
	b := newTestbed(t)
	l4, _ := b.listen(t)
	d := b.startDecap(t, Config{TUN: "gvstun9", AllowFrom: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("fd00:2::1/128")}})
	ipip4 := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoIPIP)
	ipip6 := b.socket(t, unix.AF_INET6, unix.SOCK_RAW, ProtoIPIP)
	if err := unix.Sendto(ipip4, innerUDP(false, "from a stranger", false), 0, sockaddr(rsLAN4, 0)); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, l4)
	if err := unix.Sendto(ipip6, innerUDP(false, "from the director", false), 0, sockaddr(rsLAN6, 0)); err != nil {
		t.Fatal(err)
	}
	expect(t, l4, "from the director", client4)
	if s := settledStats(d, func(s Stats) bool { return s.Delivered == 1 }); s.Dropped[DropNotAllowed] != 1 || s.Delivered != 1 {
		t.Fatalf("counters %v", s.LogAttrs())
	}
	// Close removes the TUN device
	d.Close()
	if err := inNetns(b.rx, func() error {
		_, err := net.InterfaceByName("gvstun9")
		return err
	}); err == nil {
		t.Fatal("the TUN device outlived Close")
	}
}

// BenchmarkDecapOnTheWire sends ipip packets (small UDP inside) from the
// director's namespace as fast as a raw socket goes and reports how many
// the decapsulator delivered per second and the allocations per packet of
// the whole process (the decapsulator's share should be zero).
func BenchmarkDecapOnTheWire(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	tb := newTestbedB(b)
	var d *Decap
	if err := inNetns(tb.rx, func() (err error) {
		d, err = Start(context.Background(), Config{Logger: slog.New(slog.DiscardHandler)})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var fd int
	if err := inNetns(tb.tx, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, ProtoIPIP)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	// a sink for the inner datagrams, so the stack does not answer each
	// with a port unreachable
	var sink *net.UDPConn
	if err := inNetns(tb.rx, func() (err error) {
		sink, err = net.ListenUDP("udp4", &net.UDPAddr{IP: vip4.AsSlice(), Port: 9000})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	pkt := innerUDP(false, "0123456789abcdef", false)
	to := sockaddr(rsLAN4, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := unix.Sendto(fd, pkt, 0, to); err != nil {
			b.Fatal(err)
		}
	}
	sent := time.Since(start)
	// until the decapsulator has read everything that reached it
	last, lastChange := uint64(0), time.Now()
	for d.Stats().Received < uint64(b.N) && time.Since(lastChange) < 50*time.Millisecond {
		if r := d.Stats().Received; r != last {
			last, lastChange = r, time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	if d.Stats().Received < uint64(b.N) {
		elapsed = lastChange.Sub(start)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	s := d.Stats()
	b.ReportMetric(float64(s.Delivered)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(b.N)/sent.Seconds(), "sent/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "process-allocs/pkt")
	b.ReportMetric(100*float64(uint64(b.N)-s.Delivered)/float64(b.N), "%lost")
}

func newTestbedB(b *testing.B) *testbed {
	tb := &testbed{tx: fmt.Sprintf("gvstb%d-dir", os.Getpid()), rx: fmt.Sprintf("gvstb%d-rs", os.Getpid())}
	sh := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{tb.tx, tb.rx} {
		exec.Command("ip", "netns", "del", ns).Run()
		sh("ip", "netns", "add", ns)
		b.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh("ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh("ip", "link", "add", "eth0", "netns", tb.tx, "type", "veth", "peer", "name", "eth0", "netns", tb.rx)
	sh("ip", "-n", tb.tx, "addr", "add", "10.0.2.1/24", "dev", "eth0")
	sh("ip", "-n", tb.rx, "addr", "add", "10.0.2.11/24", "dev", "eth0")
	sh("ip", "-n", tb.rx, "addr", "add", "10.0.2.100/32", "dev", "lo")
	sh("ip", "-n", tb.tx, "link", "set", "eth0", "up")
	sh("ip", "-n", tb.rx, "link", "set", "eth0", "up")
	return tb
}

// TestSuperFrameWhole: a TCP segment longer than the TUN device's MTU
// whose checksum is partial (a director's GSO super-frame, encapsulated in
// the kernel, reaches the raw or GUE socket whole; here a tunnel datagram
// the director's kernel fragments and the real server's reassembles) goes
// to the stack in one piece, with a GSO header of MSS-sized segments: in
// IPIP, GRE and GUE, and an IPv6 one in IPv4.
func TestSuperFrameWhole(t *testing.T) {
	b := newTestbed(t)
	d := b.startDecap(t, Config{TUN: "gvstun8", GUEPort: guePort})
	var capFd int
	err := inNetns(b.rx, func() error {
		ifi, err := net.InterfaceByName("gvstun8")
		if err != nil {
			return err
		}
		capFd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(capFd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return err
		}
		if err := unix.SetsockoptTimeval(capFd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
			return err
		}
		return unix.Bind(capFd, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: htons(unix.ETH_P_ALL)})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(capFd)
	socket := func(typ, proto int) int {
		fd := b.socket(t, unix.AF_INET, typ, proto)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	ipip, ip6in4 := socket(unix.SOCK_RAW, ProtoIPIP), socket(unix.SOCK_RAW, ProtoIPv6)
	gre, gue := socket(unix.SOCK_RAW, ProtoGRE), socket(unix.SOCK_DGRAM, 0)
	payload := strings.Repeat("0123456789", 6000)
	cases := []struct {
		name string
		v6   bool
		fd   int
		port int
		wrap func([]byte) []byte
	}{
		{"ipip", false, ipip, 0, func(p []byte) []byte { return p }},
		{"gre", false, gre, 0, func(p []byte) []byte { return grePacket(p, greOptions{}) }},
		{"gue", false, gue, guePort, func(p []byte) []byte { return guePacket(p, false, 0, 0) }},
		{"6in4", true, ip6in4, 0, func(p []byte) []byte { return p }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inner := innerTCP(c.v6, payload, true)
			if err := unix.Sendto(c.fd, c.wrap(inner), 0, sockaddr(rsLAN4, c.port)); err != nil {
				t.Fatal(err)
			}
			ipLen, gsoType := 40, byte(vnetGSOTCPv4)
			if c.v6 {
				ipLen, gsoType = 60, vnetGSOTCPv6
			}
			buf := make([]byte, 1<<17)
			for {
				n, _, err := unix.Recvfrom(capFd, buf, 0)
				if err != nil {
					s := d.Stats()
					t.Fatalf("the super-frame did not come in whole through the TUN device: %v (counters %v)", err, s.LogAttrs())
				}
				if n < vnetHdrLen+ipLen || len(buf[vnetHdrLen:n]) != len(inner) {
					continue // not this test's packet (router solicitations and the like)
				}
				h, pkt := buf[:vnetHdrLen], buf[vnetHdrLen:n]
				e := binary.NativeEndian
				if h[0]&vnetNeedsCsum == 0 || h[1] != gsoType || int(e.Uint16(h[4:])) != 1500-ipLen {
					t.Fatalf("%d bytes with virtio-net header % x, want NEEDS_CSUM, GSO type %d, gso_size %d", len(pkt), h, gsoType, 1500-ipLen)
				}
				if string(pkt[ipLen:]) != payload {
					t.Fatal("payload changed")
				}
				break
			}
			n := uint64(i + 1)
			if s := settledStats(d, func(s Stats) bool { return s.GSO == n && s.Partial == n && s.Delivered == n }); s.GSO != n || s.Partial != n || s.Delivered != n {
				t.Fatalf("counters %v", s.LogAttrs())
			}
		})
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// TestKernelDecap: with Config.Kernel, IPv4-outer IPIP, 6in4, GRE without
// options and GUE without UDP checksum are decapsulated by the TC program
// (they never reach the sockets); the other tunnels still come to the
// user-space decapsulator. (An inner checksum left partial reaches the
// kernel path only on an skb still marked CHECKSUM_PARTIAL, which the
// stack accepts as the ipip module's packets; bytes that merely look
// partial, as a raw socket sends them here, are the user-space path's
// case and TestDecapsulatesOnTheWire's.)
func TestKernelDecap(t *testing.T) {
	b := newTestbed(t)
	l4, l6 := b.listen(t)
	d := b.startDecap(t, Config{GUEPort: guePort, Kernel: true, AllowFrom: []netip.Prefix{netip.MustParsePrefix("10.0.2.0/24"), netip.MustParsePrefix("fd00:2::/64")}})
	if d.kernel == nil {
		t.Fatal("the kernel program did not load (see the log)")
	}
	ipip := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoIPIP)
	ipip6in4 := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoIPv6)
	gre4 := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoGRE)
	ipip4in6 := b.socket(t, unix.AF_INET6, unix.SOCK_RAW, ProtoIPIP)
	gue4 := b.socket(t, unix.AF_INET, unix.SOCK_DGRAM, 0)
	gue4nocsum := b.socket(t, unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err := unix.SetsockoptInt(gue4nocsum, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		kernel  bool
		fd      int
		to      netip.Addr
		port    int
		pkt     []byte
		rx      *net.UDPConn
		payload string
	}{
		{"ipip", true, ipip, rsLAN4, 0, innerUDP(false, "k ipip", false), l4, "k ipip"},
		{"6in4", true, ipip6in4, rsLAN4, 0, innerUDP(true, "k 6in4", false), l6, "k 6in4"},
		{"gre", true, gre4, rsLAN4, 0, grePacket(innerUDP(false, "k gre", false), greOptions{}), l4, "k gre"},
		{"gre ipv6 inner", true, gre4, rsLAN4, 0, grePacket(innerUDP(true, "k gre6", false), greOptions{}), l6, "k gre6"},
		{"gue without udp checksum", true, gue4nocsum, rsLAN4, guePort, guePacket(innerUDP(false, "k gue", false), false, 0, 0), l4, "k gue"},
		{"gre with checksum", false, gre4, rsLAN4, 0, grePacket(innerUDP(false, "u gre", false), greOptions{csum: true}), l4, "u gre"},
		{"gue with udp checksum", false, gue4, rsLAN4, guePort, guePacket(innerUDP(false, "u gue", false), false, 0, 0), l4, "u gue"},
		{"4in6", false, ipip4in6, rsLAN6, 0, innerUDP(false, "u 4in6", false), l4, "u 4in6"},
	}
	var inKernel, inUser uint64
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := d.Stats()
			if err := unix.Sendto(c.fd, c.pkt, 0, sockaddr(c.to, c.port)); err != nil {
				t.Fatal(err)
			}
			from := client4
			if c.rx == l6 {
				from = client6
			}
			expect(t, c.rx, c.payload, from)
			want := func(k, u uint64) bool { return c.kernel && k == 1 && u == 0 || !c.kernel && k == 0 && u == 1 }
			after := settledStats(d, func(s Stats) bool { return want(s.Kernel-before.Kernel, s.Delivered-before.Delivered) })
			if k, u := after.Kernel-before.Kernel, after.Delivered-before.Delivered; !want(k, u) {
				t.Fatalf("decapsulated %d in the kernel and %d in user space, want it in the %s", k, u, map[bool]string{true: "kernel", false: "user space"}[c.kernel])
			}
			if c.kernel {
				inKernel++
			} else {
				inUser++
			}
		})
	}
	if s := d.Stats(); s.Kernel != inKernel || s.Delivered != inUser {
		t.Errorf("counters %v, want %d in the kernel, %d in user space", s.LogAttrs(), inKernel, inUser)
	}
}

// TestKernelDecapAllowFrom: the kernel program refuses an outer source
// outside AllowFrom (so does user space after it).
func TestKernelDecapAllowFrom(t *testing.T) {
	b := newTestbed(t)
	l4, _ := b.listen(t)
	d := b.startDecap(t, Config{TUN: "gvstun8", Kernel: true, AllowFrom: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	if d.kernel == nil {
		t.Fatal("the kernel program did not load (see the log): nothing here would test it")
	}
	ipip := b.socket(t, unix.AF_INET, unix.SOCK_RAW, ProtoIPIP)
	if err := unix.Sendto(ipip, innerUDP(false, "from a stranger", false), 0, sockaddr(rsLAN4, 0)); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, l4)
	if s := d.Stats(); s.Kernel != 0 || s.Dropped[DropNotAllowed] != 1 {
		t.Fatalf("counters %v, want nothing in the kernel and one not_allowed drop", s.LogAttrs())
	}
}
