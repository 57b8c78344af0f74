//go:build linux

package lab

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govs/gvs/internal/nettest"
	"golang.org/x/sys/unix"
)

func needLab(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip("lab: needs root and iproute2/nginx-light; CI installs them (" + err.Error() + ")")
	}
	if err := ServicesAvailable(); err != nil {
		t.Skip("lab: needs root and iproute2/nginx-light; CI installs them (" + err.Error() + ")")
	}
	for _, tool := range []string{"curl", "dig", "ping", "tcpdump", "iperf3"} {
		if _, err := lookPath(tool); err != nil {
			t.Skipf("lab: the test needs %s; CI installs it (lab/packages.txt)", tool)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func upLab(t *testing.T, opts Options) *Lab {
	t.Helper()
	start := time.Now()
	l, err := Up(testCtx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab %s up in %v", opts.Prefix, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { l.Down() })
	return l
}

func TestLab(t *testing.T) {
	needLab(t)
	ctx := testCtx(t)
	prefix := fmt.Sprintf("gvslt%d", os.Getpid()%100000)
	l := upLab(t, Options{Prefix: prefix})

	t.Run("client reaches real servers through the router", func(t *testing.T) {
		for n := 1; n <= 3; n++ {
			out, err := l.Exec(ctx, "client", "curl", "-s", "-m", "3", fmt.Sprintf("http://%s/", RealServer(n, false)))
			if err != nil || out != RS(n)+"\n" {
				t.Fatalf("curl rs%d: %q %v", n, out, err)
			}
			// IPv6, from the primary address, on the second port
			out, err = l.Exec(ctx, "client", "curl", "-s", "-m", "3", fmt.Sprintf("http://[%s]:%d/whoami", RealServer(n, true), HTTPAltPort))
			if err != nil || !strings.HasPrefix(out, fmt.Sprintf("rs%d client=%s:", n, Client(0, true))) {
				t.Fatalf("curl rs%d over IPv6: %q %v", n, out, err)
			}
		}
		// from an alias, in-process
		out, err := l.HTTPGet(ctx, Client(5, false).String(), fmt.Sprintf("http://%s:%d/whoami", RealServer(2, false), HTTPSPort))
		if err != nil || !strings.HasPrefix(out, "rs2 client="+Client(5, false).String()+":") {
			t.Fatalf("HTTPGet from an alias: %q %v", out, err)
		}
	})

	t.Run("real servers route NAT replies via the director, VIP replies via the router", func(t *testing.T) {
		for _, c := range []struct{ args, via string }{
			{"route get " + Client(0, false).String(), "via " + Director4.String()},
			{"route get " + Client(0, false).String() + " from " + VIP(0, false).String(), "via " + RouterLAN4.String()},
			{"-6 route get " + Client(0, true).String(), "via " + Director6.String()},
			{"-6 route get " + Client(0, true).String() + " from " + VIP(3, true).String(), "via " + RouterLAN6.String()},
		} {
			out, err := l.Run(ctx, "rs1", append([]string{"ip"}, strings.Fields(c.args)...)...)
			if err != nil || !strings.Contains(out, c.via) {
				t.Fatalf("ip %s: %q %v, want %q", c.args, out, err, c.via)
			}
		}
	})

	t.Run("only the director answers ARP and NDP for a VIP", func(t *testing.T) {
		dirMAC := mac(t, l, "dir", "eth0")
		for _, v6 := range []bool{false, true} {
			vip := VIP(0, v6)
			l.Exec(ctx, "router", "ping", "-c", "1", "-W", "1", vip.String())
			if neigh := neighbour(t, l, vip); strings.Contains(neigh, "lladdr") {
				t.Fatalf("a real server answered for %s: %s", vip, neigh)
			}
			for i := 0; i < 2; i++ { // twice: adding is idempotent
				if err := l.AddVIP(ctx, "dir", vip); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := l.Exec(ctx, "router", "ping", "-c", "1", "-W", "2", vip.String()); err != nil {
				t.Fatalf("ping %s on the director: %v %s", vip, err, out)
			}
			if neigh := neighbour(t, l, vip); !strings.Contains(neigh, "lladdr "+dirMAC) {
				t.Fatalf("the router has %q for %s, want the director's %s", neigh, vip, dirMAC)
			}
			for i := 0; i < 2; i++ {
				if err := l.DelVIP(ctx, "dir", vip); err != nil {
					t.Fatal(err)
				}
			}
		}
	})

	t.Run("a reply from a VIP reaches the client via the router, not the director", func(t *testing.T) {
		atDirector, err := l.Capture(ctx, "dir", "eth0", "udp port 7777")
		if err != nil {
			t.Fatal(err)
		}
		atRouter, err := l.Capture(ctx, "router", "eth0", "udp port 7777")
		if err != nil {
			t.Fatal(err)
		}
		for _, v6 := range []bool{false, true} {
			client := listenUDP(t, l, netip.AddrPortFrom(Client(0, v6), 7777))
			var c *net.UDPConn
			err := l.Do("rs1", func() (err error) {
				c, err = net.DialUDP("udp", &net.UDPAddr{IP: VIP(1, v6).AsSlice()}, net.UDPAddrFromAddrPort(netip.AddrPortFrom(Client(0, v6), 7777)))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("dr reply"))
			c.Close()
			got, from := readUDP(t, client)
			if got != "dr reply" || from.Addr() != VIP(1, v6) {
				t.Fatalf("client got %q from %v", got, from)
			}
		}
		if pkts, err := atRouter.Packets(ctx); err != nil || len(pkts) != 2 {
			t.Fatalf("the router's client side saw %q %v, want the two replies", pkts, err)
		}
		if pkts, err := atDirector.Packets(ctx); err != nil || len(pkts) != 0 {
			t.Fatalf("the director saw %q %v", pkts, err)
		}
	})

	t.Run("TUN: tunnelled packets reach the VIP's service, replies go to the client directly", func(t *testing.T) {
		for i, c := range []struct {
			name   string
			v6     bool
			family int
			proto  int
			to     netip.AddrPort
			wrap   func([]byte) []byte
		}{
			{"ipip", false, unix.AF_INET, 4, netip.AddrPortFrom(RealServer(1, false), 0), nil},
			{"6in6", true, unix.AF_INET6, 41, netip.AddrPortFrom(RealServer(2, true), 0), nil},
			{"gue", true, unix.AF_INET, 0, netip.AddrPortFrom(RealServer(3, false), GUEPort), func(p []byte) []byte { return append([]byte{0, 41, 0, 0}, p...) }},
		} {
			port := uint16(7780 + i)
			client := listenUDP(t, l, netip.AddrPortFrom(Client(0, c.v6), port))
			inner := udpPacket(netip.AddrPortFrom(Client(0, c.v6), port), netip.AddrPortFrom(VIP(2, c.v6), UDPEchoPort), "via "+c.name)
			if c.wrap != nil {
				inner = c.wrap(inner)
			}
			var fd int
			err := l.Do("dir", func() (err error) {
				typ, proto := unix.SOCK_RAW, c.proto
				if c.proto == 0 {
					typ = unix.SOCK_DGRAM
				}
				fd, err = unix.Socket(c.family, typ|unix.SOCK_CLOEXEC, proto)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var sa unix.Sockaddr
			if c.to.Addr().Is6() {
				sa = &unix.SockaddrInet6{Addr: c.to.Addr().As16(), Port: int(c.to.Port())}
			} else {
				sa = &unix.SockaddrInet4{Addr: c.to.Addr().As4(), Port: int(c.to.Port())}
			}
			err = unix.Sendto(fd, inner, 0, sa)
			unix.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			got, from := readUDP(t, client)
			want := fmt.Sprintf("local=%s via %s", VIP(2, c.v6), c.name)
			if !strings.HasSuffix(got, want) || from.Addr() != VIP(2, c.v6) {
				t.Fatalf("%s: client got %q from %v, want ...%q from the VIP", c.name, got, from, want)
			}
		}
	})

	t.Run("UDP services answer", func(t *testing.T) {
		out, err := l.Exec(ctx, "client", "dig", "+short", "+time=2", "+tries=1", "@"+RealServer(2, false).String(), "TXT", "whoami.lab")
		if err != nil || strings.TrimSpace(out) != `"rs2"` {
			t.Fatalf("dnsmasq: %q %v", out, err)
		}
		out, err = l.Exec(ctx, "client", "dig", "+short", "+time=2", "+tries=1", "@"+RealServer(3, true).String(), "AAAA", "whoami.lab")
		if err != nil || strings.TrimSpace(out) != RealServer(3, true).String() {
			t.Fatalf("dnsmasq over IPv6: %q %v", out, err)
		}
		for _, v6 := range []bool{false, true} {
			out, err = l.UDPEcho(ctx, Client(2, v6).String(), RealServer(3, v6).String(), UDPEchoPort, "ping")
			if err != nil || !strings.HasPrefix(out, "rs3 client=") || !strings.HasSuffix(out, "local="+RealServer(3, v6).String()+" ping") {
				t.Fatalf("UDP echo: %q %v", out, err)
			}
		}
	})

	t.Run("nginx stops and starts", func(t *testing.T) {
		l.StopNginx(2)
		if out, err := l.HTTPGet(ctx, Client(0, false).String(), "http://10.0.2.12/"); err == nil {
			t.Fatalf("nginx still answers: %q", out)
		}
		if err := l.StartNginx(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if out, err := l.HTTPGet(ctx, Client(0, false).String(), "http://10.0.2.12/"); err != nil || out != "rs2\n" {
			t.Fatalf("after restart: %q %v", out, err)
		}
	})

	t.Run("big file", func(t *testing.T) {
		if err := l.SetBigFile(3 << 20); err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(l.BigFilePath())
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.HTTPGet(ctx, Client(0, false).String(), "http://10.0.2.13/big")
		if err != nil || sha256.Sum256([]byte(out)) != sha256.Sum256(want) || len(out) != 3<<20 {
			t.Fatalf("/big: %d bytes, %v", len(out), err)
		}
	})

	t.Run("iperf3 on demand", func(t *testing.T) {
		if err := l.StartIperf(ctx, 1, 0); err != nil {
			t.Fatal(err)
		}
		defer l.StopIperf(1, 0)
		if out, err := l.Exec(ctx, "client", "iperf3", "-c", RealServer(1, false).String(), "-n", "4M"); err != nil {
			t.Fatalf("iperf3: %v %s", err, out)
		}
	})

	t.Run("namespace handles", func(t *testing.T) {
		h, err := l.Netns("rs1")
		if err != nil || !h.IsOpen() {
			t.Fatal(err)
		}
		h.Close()
		err = l.Do("rs1", func() error {
			_, err := net.InterfaceByName("gvstun0")
			return err
		})
		if err != nil {
			t.Fatalf("no TUN device in rs1: %v", err)
		}
		if _, err := net.InterfaceByName("gvstun0"); err == nil {
			t.Fatal("the TUN device shows in the test's own namespace")
		}
		defer func() {
			if recover() == nil {
				t.Fatal("a panic inside Do was lost")
			}
		}()
		l.Do("rs1", func() error { panic("inside") })
	})

	t.Run("Down leaves nothing behind", func(t *testing.T) {
		procs := l.Processes()
		if len(procs) < 12 {
			t.Fatalf("processes: %+v", procs)
		}
		for _, p := range procs {
			if !p.Alive {
				t.Fatalf("%s died: %s", p.Name, l.Log(p.Name))
			}
		}
		if err := l.Down(); err != nil {
			t.Fatal(err)
		}
		if err := l.Down(); err != nil {
			t.Fatalf("second Down: %v", err)
		}
		checkGone(t, prefix, procs, l.Dir)
	})
}

// TestCleanAfterCrash: a lab whose process is gone (nothing called Down) is
// removed by Clean, as gvs-lab down does from another process.
func TestCleanAfterCrash(t *testing.T) {
	needLab(t)
	prefix := fmt.Sprintf("gvslc%d", os.Getpid()%100000)
	l := upLab(t, Options{Prefix: prefix, Servers: 1, Director2: true})
	if _, err := l.Exec(testCtx(t), "dir2", "ping", "-c", "1", "-W", "2", Director4.String()); err != nil {
		t.Fatalf("dir2 cannot reach dir: %v", err)
	}
	// start something the way a test might, outside Spawn
	orphan := exec.Command("ip", "netns", "exec", l.NS("rs1"), "sleep", "600")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	go orphan.Wait()
	attached, err := Attach(prefix)
	if err != nil || attached.Dir != l.Dir || attached.Opts.Servers != 1 {
		t.Fatalf("Attach: %+v %v", attached, err)
	}
	procs := attached.Processes()
	if err := Clean(prefix); err != nil {
		t.Fatal(err)
	}
	checkGone(t, prefix, append(procs, Process{Name: "sleep", Pid: orphan.Process.Pid}), l.Dir)
}

func checkGone(t *testing.T, prefix string, procs []Process, dir string) {
	t.Helper()
	if names, err := Namespaces(prefix); err != nil || len(names) != 0 {
		t.Fatalf("namespaces left: %v %v", names, err)
	}
	time.Sleep(100 * time.Millisecond)
	for _, p := range procs {
		if st := startTime(p.Pid); st != 0 && !zombie(p.Pid) {
			if err := syscall.Kill(p.Pid, 0); err == nil {
				t.Fatalf("process %s (%d) left running", p.Name, p.Pid)
			}
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("work directory %s left", dir)
	}
	if _, err := os.Stat(runDirFor(prefix)); err == nil {
		t.Fatalf("run directory %s left", runDirFor(prefix))
	}
}

func mac(t *testing.T, l *Lab, role, iface string) string {
	t.Helper()
	var hw string
	err := l.Do(role, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err == nil {
			hw = ifi.HardwareAddr.String()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hw
}

func neighbour(t *testing.T, l *Lab, a netip.Addr) string {
	t.Helper()
	out, err := l.Run(testCtx(t), "router", "ip", "neigh", "show", a.String())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func listenUDP(t *testing.T, l *Lab, at netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := l.Do("client", func() (err error) {
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(at))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readUDP(t *testing.T, c *net.UDPConn) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// udpPacket builds an IP packet carrying a UDP datagram, checksums
// included: what a director puts inside a tunnel.
func udpPacket(src, dst netip.AddrPort, payload string) []byte {
	udp := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], payload)
	pseudo := append(append(src.Addr().AsSlice(), dst.Addr().AsSlice()...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	c := ^fold(sum(pseudo) + sum(udp))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	if src.Addr().Is6() {
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(udp)))
		ip[6], ip[7] = 17, 64
		copy(ip[8:], src.Addr().AsSlice())
		copy(ip[24:], dst.Addr().AsSlice())
		return append(ip, udp...)
	}
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], src.Addr().AsSlice())
	copy(ip[16:], dst.Addr().AsSlice())
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip)))
	return append(ip, udp...)
}

func sum(b []byte) uint32 { return nettest.Sum(b, 0) }

var fold = nettest.Fold
