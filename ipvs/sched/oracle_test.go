package sched

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
)

// The oracle goldens (testdata/oracle, recorded from a real kernel by
// ../shared/ipvs-oracle) list, for each scheduler and weight set, which
// real server each successive connection reached. These tests replay the
// same services, destinations (added in the same order) and connection
// patterns through the engine and compare every choice and the final
// ActiveConn/InActConn listing.

var (
	reAddSvc  = regexp.MustCompile(`^\$ ipvsadm -A -t (\S+) -s (\S+)`)
	reAddDest = regexp.MustCompile(`^\$ ipvsadm -a -t (\S+) -r (\S+) -m -w (\d+)`)
	reConns   = regexp.MustCompile(`^\$ (seq|held)_conns (\d+) (\S+) (\d+) (same|vary)`)
	reConn    = regexp.MustCompile(`^conn (\d+) (\S+):(\d+) -> (rs\d+|ERR)`)
	reListing = regexp.MustCompile(`^  -> (\S+)\s+Masq\s+(\d+)\s+(\d+)\s+(\d+)`)
)

var rsName = map[string]string{"10.0.11.2": "rs1", "10.0.12.2": "rs2", "10.0.13.2": "rs3", "10.0.14.2": "rs4"}

type oracleCase struct {
	svc          ipvs.ServiceKey
	sched        string
	dests        []ipvs.DestConfig
	held         bool
	want         []string // rsN per connection
	clients      []netip.AddrPort
	listing      map[string][2]int32 // RIP -> active, inactive after the connections
	listingCount int
}

func parseOracle(t *testing.T, path string) oracleCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c oracleCase
	c.listing = map[string][2]int32{}
	afterConns := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := reAddSvc.FindStringSubmatch(line); m != nil {
			ap := netip.MustParseAddrPort(m[1])
			c.svc = ipvs.ServiceKey{Protocol: ipvs.ProtoTCP, Addr: ap.Addr(), Port: ap.Port()}
			c.sched = m[2]
		}
		if m := reAddDest.FindStringSubmatch(line); m != nil {
			ap := netip.MustParseAddrPort(m[2])
			w, _ := strconv.Atoi(m[3])
			c.dests = append(c.dests, ipvs.DestConfig{Addr: ap.Addr(), Port: ap.Port(), Weight: int32(w), Forwarding: ipvs.Forwarding{Method: ipvs.Masq}})
		}
		if m := reConns.FindStringSubmatch(line); m != nil {
			c.held = m[1] == "held"
			afterConns = true
		}
		if m := reConn.FindStringSubmatch(line); m != nil {
			c.want = append(c.want, m[4])
			p, _ := strconv.Atoi(m[3])
			c.clients = append(c.clients, netip.AddrPortFrom(netip.MustParseAddr(m[2]), uint16(p)))
		}
		if m := reListing.FindStringSubmatch(line); m != nil && afterConns {
			a, _ := strconv.Atoi(m[3])
			i, _ := strconv.Atoi(m[4])
			host := strings.Split(m[1], ":")[0]
			c.listing[host] = [2]int32{int32(a), int32(i)}
		}
	}
	if c.sched == "" || len(c.want) == 0 {
		t.Fatalf("%s: nothing to replay", path)
	}
	return c
}

func TestOracleTraffic(t *testing.T) {
	files, _ := filepath.Glob("testdata/oracle/1*-traffic-*.txt")
	if len(files) == 0 {
		t.Fatal("no oracle goldens")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c := parseOracle(t, path)
			e, err := ipvs.New(ipvs.Config{HashSeed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.AddService(ipvs.ServiceConfig{ServiceKey: c.svc, Scheduler: c.sched}); err != nil {
				t.Fatal(err)
			}
			for _, d := range c.dests {
				if err := e.AddDest(c.svc, d); err != nil {
					t.Fatal(err)
				}
			}
			w := e.NewWorker()
			var got []string
			for i, cl := range c.clients {
				in := &ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(cl.Addr()), SrcPort: cl.Port(),
					Dst: ipvs.AddrFrom(c.svc.Addr), DstPort: c.svc.Port}
				now := int64(i) * 1e9
				v := w.In(in, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn}, now)
				if v.Action != ipvs.ActionForward {
					got = append(got, "ERR")
					continue
				}
				got = append(got, rsName[v.Dest.Netip(ipvs.IPv4).String()])
				out := &ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: v.Dest, SrcPort: v.DestPort, Dst: in.Src, DstPort: in.SrcPort}
				w.Out(out, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn | ipvs.TCPAck}, now)
				w.In(in, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, now)
				if !c.held {
					w.In(in, &ipvs.PacketInfo{TCPFlags: ipvs.TCPFin | ipvs.TCPAck}, now)
					w.Out(out, &ipvs.PacketInfo{TCPFlags: ipvs.TCPFin | ipvs.TCPAck}, now)
					w.In(in, &ipvs.PacketInfo{TCPFlags: ipvs.TCPAck}, now)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("%s: engine chose %v\nkernel chose %v", c.sched, got, c.want)
			}
			st, _ := e.ServiceStatus(c.svc)
			for _, d := range st.Dests {
				want, ok := c.listing[d.Addr.String()]
				if !ok {
					continue
				}
				if d.ActiveConns != want[0] || d.InactConns != want[1] {
					t.Errorf("%s: ActiveConn/InActConn %d/%d, kernel %d/%d", d.Addr, d.ActiveConns, d.InactConns, want[0], want[1])
				}
			}
		})
	}
}
