//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/govs/gvs/internal/nettest"
	"golang.org/x/sys/unix"
)

// twoNamespaces builds two namespaces joined by a veth pair with default
// offloads: va 10.99.0.1 and vb 10.99.0.2.
func twoNamespaces(t testing.TB) (a, b string) {
	return nettest.VethPair(t, "afp", "10.99.0.1/24", "10.99.0.2/24")
}

var inNetns = nettest.InNetns

// TestRingReceivesSuperFrames checks the two facts the data path relies on:
// with offloads on, bulk TCP reaches the ring as GSO super-frames with a
// virtio-net header and partial checksums, and nothing is truncated.
func TestRingReceivesSuperFrames(t *testing.T) {
	a, b := twoNamespaces(t)
	var ring *Ring
	var ln net.Listener
	err := inNetns(a, func() {
		ifi, err := net.InterfaceByName("va")
		if err != nil {
			t.Fatal(err)
		}
		ring, err = Open(Config{Ifindex: ifi.Index, Frames: 64})
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp4", "10.99.0.1:7000")
		if err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	done := make(chan error, 1)
	go func() {
		if err := inNetns(b, func() {
			c, err := net.Dial("tcp4", "10.99.0.1:7000")
			if err != nil {
				done <- err
				return
			}
			_, err = c.Write(make([]byte, 4<<20))
			c.Close()
			done <- err
		}); err != nil {
			done <- err
		}
	}()
	var big, partial, truncated, unstamped int
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	var f Frame
	for time.Now().Before(deadline) && big == 0 {
		ring.Wait(100)
		for ring.Next(&f) {
			if f.Len < f.Orig {
				truncated++
			}
			// the kernel's receive stamp: within the test, not after now
			if f.Stamp < start.Add(-time.Second).UnixNano() || f.Stamp > time.Now().UnixNano() {
				unstamped++
			}
			vnet := f.Vnet()
			gsoType, gsoSize := vnet[1], binary.LittleEndian.Uint16(vnet[4:])
			if f.Len > 1514 && gsoType != 0 && gsoSize > 0 {
				big++
			}
			if f.CsumNotReady && vnet[0]&1 != 0 {
				partial++
			}
			ring.Release(&f)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if big == 0 || partial == 0 || truncated != 0 || unstamped != 0 {
		t.Fatalf("super-frames %d, partial checksums %d, truncated %d, stamps outside the test %d", big, partial, truncated, unstamped)
	}
}

// TestRingIgnoresOutgoing: a ring (alone or in a fanout group, whose hook
// is the group's) sees what arrives on the interface, never what the host
// itself sends out of it.
func TestRingIgnoresOutgoing(t *testing.T) {
	for _, fanout := range []uint16{0, 0x4757} {
		t.Run(fmt.Sprintf("fanout=%#x", fanout), func(t *testing.T) {
			a, b := twoNamespaces(t)
			var ring *Ring
			var out, in *net.UDPConn
			err := inNetns(a, func() {
				ifi, err := net.InterfaceByName("va")
				if err != nil {
					t.Fatal(err)
				}
				if ring, err = Open(Config{Ifindex: ifi.Index, Frames: 64, FanoutGroup: fanout}); err != nil {
					t.Fatal(err)
				}
				if out, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 2), Port: 7001}); err != nil {
					t.Fatal(err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ring.Close()
			defer out.Close()
			if err := inNetns(b, func() {
				var err error
				if in, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 99, 0, 2), Port: 7002}, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 7003}); err != nil {
					t.Fatal(err)
				}
			}); err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			// both directions, repeatedly: ARP settles, then UDP each way
			seenIn, seenOut := 0, 0
			var f Frame
			for i := 0; i < 20 && seenIn == 0; i++ {
				out.Write([]byte("outgoing"))
				in.Write([]byte("incoming"))
				ring.Wait(50)
				for ring.Next(&f) {
					d := f.Data()
					if len(d) >= 14+20+8 && binary.BigEndian.Uint16(d[12:]) == 0x0800 && d[14+9] == unix.IPPROTO_UDP {
						switch binary.BigEndian.Uint16(d[14+20+2:]) {
						case 7001:
							seenOut++
						case 7003:
							seenIn++
						}
					}
					ring.Release(&f)
				}
			}
			if seenIn == 0 {
				t.Fatal("the ring saw no incoming datagram (the test's control)")
			}
			if seenOut != 0 {
				t.Fatalf("the ring saw %d of the host's own outgoing datagrams", seenOut)
			}
		})
	}
}
