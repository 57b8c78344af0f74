package ipvsadm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// raceEnabled is set by race_test.go when the race detector slows everything down.
var raceEnabled bool

// bigRules is a rule file of n services with m destinations each, in the
// commands ipvsadm-save writes (not sorted, to exercise the sort): TCP,
// UDP, IPv6 and fwmark services, persistence, scheduler flags, NAT, DR and
// GUE tunnels.
func bigRules(n, m int) string {
	var b strings.Builder
	for i := n - 1; i >= 0; i-- {
		var svc string
		switch i % 4 {
		case 0:
			svc = fmt.Sprintf("-t 10.%d.%d.1:80", i/256, i%256)
			fmt.Fprintf(&b, "-A %s -s wlc\n", svc)
		case 1:
			svc = fmt.Sprintf("-u 10.%d.%d.2:53", i/256, i%256)
			fmt.Fprintf(&b, "-A %s -s rr -p 300 -M 255.255.255.0\n", svc)
		case 2:
			svc = fmt.Sprintf("-t [2001:db8::%x]:443", i)
			fmt.Fprintf(&b, "-A %s -s wrr -p 60 -M 64\n", svc)
		case 3:
			svc = fmt.Sprintf("-f %d", i+1)
			fmt.Fprintf(&b, "-A %s -s sh -b sh-port\n", svc)
		}
		for j := 0; j < m; j++ {
			switch {
			case i%4 == 2:
				fmt.Fprintf(&b, "-a %s -r [2001:db8:1::%x]:443 -m -w %d\n", svc, i*16+j, j)
			case i%4 == 3:
				fmt.Fprintf(&b, "-a %s -r 172.16.%d.%d:0 -g -w 2\n", svc, j, i%250+1)
			case j == m-1:
				fmt.Fprintf(&b, "-a %s -r 192.168.%d.%d -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n", svc, j, i%250+1)
			default:
				fmt.Fprintf(&b, "-a %s -r 192.168.%d.%d:8080 -m -w %d -x 100 -y 10\n", svc, j, i%250+1, j+1)
			}
		}
	}
	return b.String()
}

func restoreSave(t testing.TB, env *testEnv, rules string) string {
	if out, errs, rc := env.run([]byte(rules), "-R"); rc != 0 || errs != "" || out != "" {
		t.Fatalf("restore: rc %d %q %q", rc, errs, out)
	}
	save, errs, rc := env.run(nil, "-S", "-n")
	if rc != 0 || errs != "" {
		t.Fatalf("save: rc %d %q", rc, errs)
	}
	return save
}

// TestRoundTripLarge: restore, save, restore, save of 1,000 services with
// 10 destinations each gives the same bytes, and the second restore + save
// takes well under the one-second budget.
func TestRoundTripLarge(t *testing.T) {
	const n, m = 1000, 10
	rules := bigRules(n, m)
	s1 := restoreSave(t, newTestEnv(t, ""), rules)
	if got := strings.Count(s1, "\n"); got != n*(m+1) {
		t.Fatalf("saved %d lines, want %d", got, n*(m+1))
	}
	env := newTestEnv(t, "")
	start := time.Now()
	s2 := restoreSave(t, env, s1)
	elapsed := time.Since(start)
	if s1 != s2 {
		t.Fatalf("restore-save-restore is not byte-identical")
	}
	// restoring the file again fails as a whole (every service exists) and changes nothing
	if _, errs, rc := env.run([]byte(s1), "-R"); rc != 255 || errs != "line 1: Service already exists\n" {
		t.Fatalf("second restore: %d %q", rc, errs)
	}
	if s3, _, _ := env.run(nil, "-S", "-n"); s3 != s1 {
		t.Fatal("a failed restore changed the rules")
	}
	t.Logf("restore + save of %d services x %d destinations (%d lines, %d bytes): %v",
		n, m, n*(m+1), len(s1), elapsed)
	bound := 3 * time.Second // the target is 1 s; the bound leaves room for a loaded machine
	if raceEnabled {
		bound = 30 * time.Second
	}
	if elapsed > bound {
		t.Errorf("round trip took %v (target 1 s, bound %v)", elapsed, bound)
	}
}

func BenchmarkRestoreSave1000x10(b *testing.B) {
	s1 := restoreSave(b, newTestEnv(b, ""), bigRules(1000, 10))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := newTestEnv(b, "")
		b.StartTimer()
		if s := restoreSave(b, env, s1); s != s1 {
			b.Fatal("not identical")
		}
	}
}
