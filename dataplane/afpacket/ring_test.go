//go:build linux

package afpacket

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
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
			// (up to 5 s: under the whole suite's load ARP can take a while)
			seenIn, seenOut := 0, 0
			var f Frame
			for start := time.Now(); time.Since(start) < 5*time.Second && seenIn == 0; {
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

// TestFanoutByCPU: in a CPU fanout group, a frame goes to the socket whose
// join order is the receiving CPU modulo the group's size. A datagram sent
// on a veth is received by the peer on the sending thread's CPU, so a
// sender pinned to CPU c reaches ring c.
func TestFanoutByCPU(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil || !allowed.IsSet(0) || !allowed.IsSet(1) {
		t.Skip("needs CPUs 0 and 1 (this process may run on", allowed.Count(), "CPUs)")
	}
	a, b := twoNamespaces(t)
	var rings [2]*Ring
	err := inNetns(a, func() {
		ifi, err := net.InterfaceByName("va")
		if err != nil {
			t.Fatal(err)
		}
		for i := range rings {
			if rings[i], err = Open(Config{Ifindex: ifi.Index, Frames: 64, FanoutGroup: 0x4758, FanoutByCPU: true}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rings {
		defer r.Close()
	}
	var conn *net.UDPConn
	if err := inNetns(b, func() {
		var err error
		conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 7010})
		if err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// sendFrom writes datagrams tagged tag from a thread pinned to cpu
	sendFrom := func(cpu int, tag byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // the thread ends with the goroutine: its affinity goes with it
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 10; i++ {
				conn.Write([]byte{tag})
			}
		}()
		<-done
	}
	// seen[ring][cpu]: datagrams of the sender on cpu that ring took
	var seen [2][2]int
	warm := false // a warm-up datagram (tag 9) came through
	collect := func() {
		var f Frame
		for i, r := range rings {
			for r.Next(&f) {
				d := f.Data()
				if len(d) >= 14+20+8+1 && binary.BigEndian.Uint16(d[12:]) == 0x0800 && d[14+9] == unix.IPPROTO_UDP &&
					binary.BigEndian.Uint16(d[14+20+2:]) == 7010 && d[14+20+8] < 2 {
					seen[i][d[14+20+8]]++
				}
				if len(d) >= 14+20+8+1 && binary.BigEndian.Uint16(d[12:]) == 0x0800 && d[14+9] == unix.IPPROTO_UDP &&
					binary.BigEndian.Uint16(d[14+20+2:]) == 7010 && d[14+20+8] == 9 {
					warm = true
				}
				r.Release(&f)
			}
		}
	}
	// first resolve the neighbour: datagrams queued behind ARP leave on
	// the CPU that receives the answer (their tag, 9, is not counted);
	// until one has come through (up to 5 s: under the whole suite's load
	// ARP can take a while)
	for start := time.Now(); !warm && time.Since(start) < 5*time.Second; {
		sendFrom(0, 9)
		time.Sleep(50 * time.Millisecond)
		collect()
	}
	if !warm {
		t.Fatal("no datagram came through: the neighbour was never resolved")
	}
	for try := 0; try < 20 && seen[0][0]+seen[1][1] < 20; try++ {
		sendFrom(0, 0)
		sendFrom(1, 1)
		time.Sleep(10 * time.Millisecond)
		collect()
	}
	if seen[0][0] == 0 || seen[1][1] == 0 || seen[0][1] != 0 || seen[1][0] != 0 {
		t.Fatalf("datagrams by ring and sender CPU %v: want ring 0 only CPU 0's, ring 1 only CPU 1's", seen)
	}
}
