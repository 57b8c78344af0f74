package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

// TestKernelScheduling: with kernel scheduling (on by default), once each real server
// of a DR, TUN (IPIP) or NAT rr service has had a connection, new
// connections are scheduled by the fast path's socket filter: with gvsd's
// process stopped (SIGSTOP), new HTTP requests still get their answers
// (NAT: the replies too come back through the kernel, from the service's
// port 8080 to the servers' 80 and back), in round robin over the three
// real servers, and once gvsd runs again the engine lists every one of
// those connections with its real server. With
// kernel_scheduling: false, the same request fails while gvsd is stopped (the control that
// shows stopping gvsd stops its scheduling).
func TestKernelScheduling(t *testing.T) {
	for _, tc := range []struct {
		name, forward string
		port          int
		on            bool
	}{{"dr", "route", lab.HTTPPort, true}, {"tun", "tunnel", lab.HTTPPort, true}, {"nat", "masq", 8080, true}, {"off", "route", lab.HTTPPort, false}} {
		on := tc.on
		t.Run(tc.name, func(t *testing.T) {
			config := "services:\n" + rsConfig("tcp", "10.0.2.100", tc.port, "rr", tc.forward, "", lab.HTTPPort)
			if !on {
				config = "kernel_scheduling: false\n" + config // on by default
			}
			d := director(t, config)
			l := d.Lab
			src := lab.Client(0, false).String()
			url := fmt.Sprintf("http://10.0.2.100:%d/whoami", tc.port)
			svc := fmt.Sprintf("TCP 10.0.2.100:%d", tc.port)
			seen := map[string]bool{}
			var order []string // the answering servers, in order
			for range 3 {      // each real server once: their next hops are learned
				rs := whoami(t, l, src, url)
				seen[rs] = true
				order = append(order, rs)
			}
			if len(seen) != 3 {
				t.Fatalf("rr over 3 real servers answered from %v", seen)
			}
			time.Sleep(300 * time.Millisecond)
			out0 := parseStats(t, adm(t, d, "-L", "-n", "--stats"))[svc][2]
			pid := d.Pid()
			if pid <= 0 {
				t.Fatal("no gvsd process")
			}
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped := true
			cont := func() {
				if stopped {
					stopped = false
					if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
						t.Error(err)
					}
				}
			}
			defer cont()
			if !on {
				c, cancel := context.WithTimeout(ctx(t), 1500*time.Millisecond)
				defer cancel()
				if out, err := l.HTTPGet(c, src, url); err == nil {
					t.Fatalf("answered %q while gvsd was stopped, without kernel scheduling", out)
				}
				return
			}
			for i := range 6 {
				// a client address of its own per request, so no request
				// meets another's 4-tuple: a real server's challenge ACK
				// makes the client reset and send its SYN again, and that
				// retransmission is gvsd's to send, which is stopped (the
				// lab's real servers keep no TIME_WAIT for the same reason)
				out, err := l.HTTPGet(ctx(t), lab.Client(1+i, false).String(), url)
				if err != nil {
					t.Fatalf("request %d with gvsd stopped: %v", i, err)
				}
				order = append(order, strings.Fields(out)[0])
			}
			// the kernel's round continues the engine's
			for i := 3; i < 9; i++ {
				if order[i] != order[i-3] || order[i] == order[i-1] {
					t.Fatalf("answers %v (the last 6 with gvsd stopped): want one round robin over 3 real servers", order)
				}
			}
			cont()
			// the engine records each connection from its SYN's copy
			var st map[string][5]uint64
			for deadline := time.Now().Add(5 * time.Second); ; {
				st = parseStats(t, adm(t, d, "-L", "-n", "--stats"))
				// NAT: the servers' packets the kernel forwarded through
				// the reply entries (at least a SYN+ACK and the response
				// per connection) reach the counters with the sweeps
				outOK := tc.forward != "masq" || st[svc][2] >= out0+6*2
				if (st[svc][0] == 9 && outOK) || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if got := st[svc][0]; got != 9 {
				t.Fatalf("the service counts %d connections, want 9 (3 before, 6 scheduled by the kernel):\n%s", got, adm(t, d, "-L", "-n", "--stats"))
			}
			if tc.forward == "masq" && st[svc][2] < out0+6*2 {
				t.Errorf("the service counts %d packets out, %d before the 6 kernel-scheduled connections: their replies through the kernel's reply entries are not counted", st[svc][2], out0)
			}
			for n := 1; n <= 3; n++ {
				rs := "-> " + lab.RealServer(n, false).String() + ":80"
				if got := st[rs][0]; got != 3 {
					t.Errorf("%s counts %d connections, want 3", rs, got)
				}
			}
		})
	}
}
