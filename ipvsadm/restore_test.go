package ipvsadm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/govs/gvs/ipvs"
)

func TestReadConfigStream(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // lines joined by "|", words by " ", line number first
	}{
		{"-A -t x\n-C\n", "1:-A -t x|2:-C"},
		{"-A\t-t x  \r\n\n   -C", "1:-A -t x|2:|3:-C"},
		{"-C\n-C  ", "1:-C"},                 // two blanks then EOF: dropped, as ipvsadm does
		{"-C\n-C ", "1:-C|2:-C"},             // one blank then EOF: kept
		{"ipvsadm -C\nipvsadm\n", "1:-C|2:"}, // the word ipvsadm is dropped
		{"-A ipvsadm -t x\n", "1:-A -t x"},
		{"# comment\n", "1:# comment"}, // no comment syntax
		{"\n\n-C\n", "1:|2:|3:-C"},
		{"", ""},
		{"   ", ""},
		{"-s \"rr\"\n", "1:-s \"rr\""},
	} {
		var got []string
		for _, l := range readConfigStream([]byte(c.in), "ipvsadm") {
			got = append(got, fmt.Sprintf("%d:%s", l.num, strings.Join(l.args[1:], " ")))
		}
		if g := strings.Join(got, "|"); g != c.want {
			t.Errorf("%q: got %q, want %q", c.in, g, c.want)
		}
	}
}

// state captures everything a restore may change.
func (env *testEnv) state() string {
	save, _, _ := env.run(nil, "-S", "-n")
	list, _, _ := env.run(nil, "-L", "-n", "--thresholds")
	tout, _, _ := env.run(nil, "-L", "--timeout")
	dmn, _, _ := env.run(nil, "-L", "--daemon")
	return save + list + tout + dmn
}

func seedState(env *testEnv) {
	for _, args := range [][]string{
		{"-A", "-t", "10.0.0.1:80", "-s", "rr"},
		{"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.1:80", "-m", "-w", "3", "-x", "10", "-y", "5"},
		{"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.2:80", "-m"},
		{"-A", "-u", "10.0.0.1:53", "-s", "wlc", "-p", "60"},
		{"-a", "-u", "10.0.0.1:53", "-r", "192.168.1.3:53", "-m"},
		{"--set", "100", "20", "30"},
		{"--start-daemon", "master", "--mcast-interface", "sync0"},
	} {
		env.mustRun(args...)
	}
}

func TestRestoreAtomic(t *testing.T) {
	for _, c := range []struct {
		name, stream, stderr string
		rc                   int
	}{
		{"kernel error last", "-C\n-A -t 10.0.0.9:80 -s rr\n-a -t 10.0.0.9:80 -r 1.1.1.1:80 -m\n--set 1 2 3\n-A -t 10.0.0.9:80\n",
			"line 5: Service already exists\n", 255},
		{"kernel error first", "-A -t 10.0.0.1:80\n-C\n", "line 1: Service already exists\n", 255},
		{"parse error", "-C\n--set 1 2 3\n-A -t 10.0.0.9:80 -s rr -w 2\n", "line 3: Illegal 'weight' option with the 'add-service' command\n", 2},
		{"popt error", "-C\n-A -t 10.0.0.9:80 --bogus\n", "line 2: --bogus: unknown option\n", 255},
		{"nested restore", "-C\n-R\n", "line 2: Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n", 255},
		{"listing a missing service", "-D -t 10.0.0.1:80\n-L -n -t 10.0.0.1:80\n", "line 2: No such service\n", 1},
		{"dest error after edits", "-E -t 10.0.0.1:80 -s wlc\n-e -t 10.0.0.1:80 -r 192.168.1.1:80 -g -w 9\n-d -t 10.0.0.1:80 -r 192.168.1.2:80\n-a -t 10.0.0.9:80 -r 1.1.1.1:80 -m\n",
			"line 4: Service not defined\n", 255},
		{"daemon error", "--stop-daemon master\n--start-daemon backup --mcast-interface sync0\n--start-daemon backup --mcast-interface sync1\n",
			"line 3: Daemon has already run\n", 255},
		{"threshold range", "-e -t 10.0.0.1:80 -r 192.168.1.1:80 -m -x 1 -y 2\n", "line 1: Numerical result out of range\n", 255},
		{"mixed family with daemon", "-a -t 10.0.0.1:80 -r 2001:db8::1 -i\n", "line 1: Invalid operation.  Possibly wrong module version, address not unicast, ...\n", 255},
		{"zero a missing service", "-C\n-Z -t 10.0.0.1:80\n", "line 2: No such service\n", 255},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t, "")
			seedState(env)
			before := env.state()
			out, errs, rc := env.run([]byte(c.stream), "-R")
			if out != "" || errs != c.stderr || rc != c.rc {
				t.Errorf("got stdout %q stderr %q rc %d, want stderr %q rc %d", out, errs, rc, c.stderr, c.rc)
			}
			if after := env.state(); after != before {
				t.Errorf("state changed by a failed restore:\n--- before\n%s--- after\n%s", before, after)
			}
		})
	}
}

func TestRestoreSnapshots(t *testing.T) {
	env := newTestEnv(t, "")
	seedState(env)
	stream := "-L -n -t 10.0.0.1:80\n-C\n-A -t 10.0.0.5:80 -s rr\n-S -n\n--set 1 2 3\n-L --timeout\n--stop-daemon master\n-L --daemon\n-A -u 10.0.0.5:53\n-Ln\n-v\n-A -t 10.0.0.6:80\n"
	out, errs, rc := env.run([]byte(stream), "-R")
	want := "Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  10.0.0.1:80 rr\n" +
		"  -> 192.168.1.1:80               Masq    3      0          0         \n" +
		"  -> 192.168.1.2:80               Masq    1      0          0         \n" +
		"-A -t 10.0.0.5:80 -s rr\n" +
		"Timeout (tcp tcpfin udp): 1 2 3\n" +
		"IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  10.0.0.5:80 rr\n" +
		"UDP  10.0.0.5:53 wlc\n" +
		Version + "\n"
	if out != want || errs != "" || rc != 0 {
		t.Fatalf("got rc %d stderr %q stdout\n%s\nwant\n%s", rc, errs, out, want)
	}
	// -v ended the stream: the line after it was not applied
	if s, _, _ := env.run(nil, "-S", "-n"); s != "-A -t 10.0.0.5:80 -s rr\n-A -u 10.0.0.5:53 -s wlc\n" {
		t.Errorf("after restore: %q", s)
	}
}

// TestRestoreRollback drives the apply phase alone (as if the engine had
// been changed behind the backend's back after validation) and checks that
// the undo log restores everything.
func TestRestoreRollback(t *testing.T) {
	env := newTestEnv(t, "")
	seedState(env)
	before := env.state()
	k1 := ipvs.ServiceKey{Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}
	k2 := ipvs.ServiceKey{Protocol: ipvs.ProtoUDP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 53}
	k9 := ipvs.ServiceKey{Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("10.0.0.9"), Port: 80}
	d1 := ipvs.DestConfig{Addr: netip.MustParseAddr("192.168.1.1"), Port: 80, Weight: 7, Forwarding: ipvs.Forwarding{Method: ipvs.Route}}
	d2 := ipvs.DestConfig{Addr: netip.MustParseAddr("192.168.1.2"), Port: 80}
	ops := []RestoreOp{
		{Kind: OpEditService, Service: ipvs.ServiceConfig{ServiceKey: k1, Scheduler: "wlc"}},
		{Kind: OpEditDest, Service: ipvs.ServiceConfig{ServiceKey: k1}, Dest: d1},
		{Kind: OpDelDest, Service: ipvs.ServiceConfig{ServiceKey: k1}, Dest: d2},
		{Kind: OpAddDest, Service: ipvs.ServiceConfig{ServiceKey: k1}, Dest: ipvs.DestConfig{Addr: netip.MustParseAddr("192.168.1.9"), Port: 80, Weight: 1}},
		{Kind: OpDelService, Service: ipvs.ServiceConfig{ServiceKey: k2}},
		{Kind: OpSetTimeouts, Timeouts: Timeouts{1, 2, 3}},
		{Kind: OpStopDaemon, Daemon: DaemonConfig{State: DaemonMaster}},
		{Kind: OpStartDaemon, Daemon: DaemonConfig{State: DaemonBackup, Interface: "sync0"}},
		{Kind: OpFlush},
		{Kind: OpAddService, Service: ipvs.ServiceConfig{ServiceKey: k9, Scheduler: "rr"}},
		{Kind: OpSnapshot, All: true},
		{Kind: OpDelService, Service: ipvs.ServiceConfig{ServiceKey: k2}}, // fails: flushed
	}
	b := env.backend
	b.mu.Lock()
	_, err := b.apply(ops)
	b.mu.Unlock()
	var re *RestoreError
	if !errors.As(err, &re) || re.Index != len(ops)-1 || ipvs.CodeOf(re.Err) != ipvs.ErrNoService {
		t.Fatalf("apply: %v", err)
	}
	if after := env.state(); after != before {
		t.Errorf("rollback did not restore the state:\n--- before\n%s--- after\n%s", before, after)
	}
	// and validation alone catches the same failure without touching anything
	if _, err := b.Restore(context.Background(), ops); !errors.As(err, &re) || re.Index != len(ops)-1 {
		t.Fatalf("Restore: %v", err)
	}
	if after := env.state(); after != before {
		t.Errorf("failed Restore changed the state")
	}
}

// TestRestoreConcurrent runs restores and listings at once (for -race).
func TestRestoreConcurrent(t *testing.T) {
	env := newTestEnv(t, "")
	seedState(env)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				stream := fmt.Sprintf("-A -t 10.1.%d.%d:80 -s rr\n-a -t 10.1.%d.%d:80 -r 192.168.2.1:80 -m\n", g, i, g, i)
				if _, e, rc := env.run([]byte(stream), "-R"); rc != 0 {
					t.Errorf("restore: %d %s", rc, e)
				}
				env.run(nil, "-L", "-n")
				if _, e, rc := env.run([]byte("-A -t 10.0.0.1:80\n"), "-R"); rc != 255 || e != "line 1: Service already exists\n" {
					t.Errorf("failing restore: %d %q", rc, e)
				}
			}
		}(g)
	}
	wg.Wait()
	out, _, _ := env.run(nil, "-S", "-n")
	if n := strings.Count(out, "\n-A ") + 1; n != 2+80 {
		t.Errorf("%d services after concurrent restores, want 82", n)
	}
}

func TestMsortMatchesGlibc(t *testing.T) {
	// golden 205: destinations of TCP 10.0.0.1:80, in the kernel's order
	// (newest first), sorted by ipvsadm; the comparison is not transitive
	// for addresses 2^31 apart, so only glibc's merge sort gives this order.
	in := []string{"[2001:db8::5]:80", "10.0.0.5:79", "10.0.0.5:81", "1.0.0.5:80", "100.0.0.5:80", "200.0.0.5:80", "192.168.0.5:80", "10.0.0.5:80"}
	want := []string{"1.0.0.5:80", "10.0.0.5:79", "10.0.0.5:81", "[2001:db8::5]:80", "100.0.0.5:80", "192.168.0.5:80", "200.0.0.5:80", "10.0.0.5:80"}
	ds := make([]destEntry, len(in))
	for i, s := range in {
		ap := netip.MustParseAddrPort(s)
		ds[i] = destEntry{af: addrAF(ap.Addr()), addr: inetAddrFrom(ap.Addr()), port: ap.Port()}
	}
	msort(ds, cmpDests)
	var got []string
	for _, d := range ds {
		got = append(got, netip.AddrPortFrom(d.addr.netip(d.af), d.port).String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
