package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/govs/gvs/lab"
)

type method struct {
	name, forward string
	vip           int
}

var methods = []method{{"NAT", "masq", 0}, {"DR", "route", 1}, {"TUN", "tunnel", 2}}

// matrixConfig declares, for NAT, DR and TUN, a TCP (HTTP) and a UDP
// (echo) service on IPv4 and IPv6, each over the three real servers with rr.
func matrixConfig(tunnel string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, v6 := range []bool{false, true} {
		for _, m := range methods {
			for _, svc := range []struct {
				proto string
				port  int
			}{{"tcp", lab.HTTPPort}, {"udp", lab.UDPEchoPort}} {
				fmt.Fprintf(&b, "  - protocol: %s\n    address: %q\n    port: %d\n    scheduler: rr\n    real_servers:\n", svc.proto, lab.VIP(m.vip, v6), svc.port)
				for n := 1; n <= 3; n++ {
					fmt.Fprintf(&b, "      - {address: %q, port: %d, forward: %s", lab.RealServer(n, v6), svc.port, m.forward)
					if m.forward == "tunnel" && tunnel != "" {
						fmt.Fprintf(&b, ", tunnel: %s", tunnel)
					}
					b.WriteString("}\n")
				}
			}
		}
	}
	return b.String()
}

func url(a netip.Addr, port int, path string) string {
	return fmt.Sprintf("http://%s%s", netip.AddrPortFrom(a, uint16(port)), path)
}

// TestForwardingMatrix: for NAT, DR and TUN, TCP and UDP, IPv4 and IPv6,
// the real servers are reached in rr order (newest destination first, as
// the kernel), each sees the client's own address (and, for NAT, its own
// address as the local one; for DR and TUN, the VIP), replies reach the
// client, and the listing counts the traffic. Both ways of spreading
// frames over the workers (gvsd --fanout): by flow, the default, and by
// receiving CPU.
func TestForwardingMatrix(t *testing.T) {
	for _, fanout := range []string{"flow", "cpu"} {
		t.Run("fanout="+fanout, func(t *testing.T) {
			d := director(t, matrixConfig(""), "--fanout", fanout)
			forwardingMatrix(t, d)
			// after the traffic: the workers have surely started (and, by
			// CPU, pinned their threads)
			if pinned := pinnedThreads(t, d.Pid()); (fanout == "cpu") != (pinned > 0) && runtime.NumCPU() > 1 {
				t.Fatalf("fanout %s: %d of gvsd's threads kept on fewer CPUs than the machine's", fanout, pinned)
			}
		})
	}
}

// pinnedThreads counts a process's threads allowed on fewer CPUs than
// this test's own process (gvsd --fanout cpu keeps each worker's on its
// own). Not than gvsd's main thread: a worker may run on that thread and
// pin it too (CI once counted none that way).
func pinnedThreads(t *testing.T, pid int) int {
	t.Helper()
	allowed := func(status string) int {
		b, err := os.ReadFile(status)
		if err != nil {
			return -1 // a thread that ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				n := 0
				for _, r := range strings.Split(strings.TrimSpace(v), ",") {
					lo, hi, found := strings.Cut(r, "-")
					a, _ := strconv.Atoi(lo)
					b := a
					if found {
						b, _ = strconv.Atoi(hi)
					}
					n += b - a + 1
				}
				return n
			}
		}
		return -1
	}
	all := allowed("/proc/self/status")
	if pid <= 0 || all < 0 {
		t.Fatalf("no CPU list to compare with (gvsd's pid %d)", pid)
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	pinned := 0
	for _, task := range tasks {
		if n := allowed(task); n >= 0 && n < all {
			pinned++
		}
	}
	return pinned
}

func forwardingMatrix(t *testing.T, d *lab.Director) {
	l := d.Lab
	c := ctx(t)
	want := []string{"rs3", "rs2", "rs1", "rs3", "rs2", "rs1"}
	for _, v6 := range []bool{false, true} {
		for _, m := range methods {
			vip := lab.VIP(m.vip, v6)
			name := fmt.Sprintf("%s/%s", m.name, map[bool]string{false: "IPv4", true: "IPv6"}[v6])
			t.Run(name+"/tcp", func(t *testing.T) {
				for i, w := range want {
					src := lab.Client(i, v6)
					out, err := l.HTTPGet(c, src.String(), url(vip, lab.HTTPPort, "/whoami"))
					if err != nil {
						t.Fatal(err)
					}
					got := strings.Fields(out)
					if len(got) == 0 || got[0] != w {
						t.Fatalf("connection %d went to %q, want %s (rr order)", i+1, out, w)
					}
					if cl := field(out, "client"); !strings.HasPrefix(cl, src.String()+":") {
						t.Fatalf("real server saw client %s, want %s", cl, src)
					}
					wantLocal := vip
					if m.forward == "masq" {
						wantLocal = lab.RealServer(int(w[2]-'0'), v6)
					}
					if local := field(out, "local"); local != netip.AddrPortFrom(wantLocal, lab.HTTPPort).String() &&
						local != fmt.Sprintf("%s:%d", wantLocal, lab.HTTPPort) {
						t.Fatalf("real server's local address %s, want %s", local, wantLocal)
					}
				}
			})
			t.Run(name+"/udp", func(t *testing.T) {
				for i, w := range want {
					src := lab.Client(i, v6)
					out, err := l.UDPEcho(c, src.String(), vip.String(), lab.UDPEchoPort, "ping")
					if err != nil {
						t.Fatalf("%v %s", err, out)
					}
					if got := strings.Fields(out); len(got) == 0 || got[0] != w {
						t.Fatalf("datagram %d went to %q, want %s", i+1, out, w)
					}
					if cl := field(out, "client"); !strings.HasPrefix(cl, netip.AddrPortFrom(src, 0).String()[:len(netip.AddrPortFrom(src, 0).String())-1]) {
						t.Fatalf("real server saw client %s, want %s", cl, src)
					}
				}
			})
		}
	}
	// the listing's counters match: 2 connections per real server and
	// service; NAT services saw replies, DR and TUN none
	stats := adm(t, d, "-Ln", "--stats")
	for _, v6 := range []bool{false, true} {
		for _, m := range methods {
			for _, port := range []int{lab.HTTPPort, lab.UDPEchoPort} {
				block := serviceBlock(stats, netip.AddrPortFrom(lab.VIP(m.vip, v6), uint16(port)))
				if len(block) != 4 {
					t.Fatalf("listing of %s %d: %q", lab.VIP(m.vip, v6), port, block)
				}
				for _, line := range block[1:] {
					f := strings.Fields(line) // -> addr conns inpkts outpkts inbytes outbytes
					if f[2] != "2" {
						t.Errorf("%s: %s connections, want 2: %s", m.name, f[2], line)
					}
					if (m.forward == "masq") != (f[4] != "0") {
						t.Errorf("%s: outgoing packets %s: %s", m.name, f[4], line)
					}
				}
			}
		}
	}
}

// serviceBlock returns a service's line and its destination lines from a listing.
func serviceBlock(listing string, svc netip.AddrPort) []string {
	var out []string
	in := false
	for _, line := range strings.Split(listing, "\n") {
		if strings.HasPrefix(line, "  ->") {
			if in {
				out = append(out, line)
			}
			continue
		}
		f := strings.Fields(line)
		in = len(f) > 1 && f[1] == svc.String()
		if in {
			out = append(out, line)
		}
	}
	return out
}

// TestTunnelTypes: GUE and GRE encapsulation reach the decapsulating real servers too.
func TestTunnelTypes(t *testing.T) {
	for _, tun := range []string{"{type: gue, port: 6080}", "{type: gre}", "{type: gre, checksum: csum}", "{type: gue, port: 6080, checksum: csum}"} {
		t.Run(tun, func(t *testing.T) {
			d := director(t, matrixConfig(tun))
			for _, v6 := range []bool{false, true} {
				for i := 0; i < 3; i++ {
					out, err := d.Lab.HTTPGet(ctx(t), lab.Client(i, v6).String(), url(lab.VIP(2, v6), lab.HTTPPort, "/whoami"))
					if err != nil || !strings.HasPrefix(out, "rs") {
						t.Fatalf("%v %q", err, out)
					}
				}
			}
		})
	}
}
