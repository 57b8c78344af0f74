package api

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/ipvsadm"
)

type firstDest struct{}

func (firstDest) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	for _, d := range svc.Dests() {
		if d.Weight() > 0 {
			return d
		}
	}
	return nil
}

func init() {
	// The API test needs scheduler names only, not their behaviour; the
	// real schedulers register themselves when package sched is linked.
	have := map[string]bool{}
	for _, n := range ipvs.Schedulers() {
		have[n] = true
	}
	for _, n := range []string{"rr", "wlc", "sh"} {
		if !have[n] {
			ipvs.RegisterScheduler(n, func(*ipvs.Service) (ipvs.Scheduler, error) { return firstDest{}, nil })
		}
	}
}

// serve starts an API server over a fresh engine on a Unix socket.
func serve(t *testing.T) (*Client, *ipvsadm.LocalBackend) {
	t.Helper()
	eng, err := ipvs.New(ipvs.Config{HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	lb := ipvsadm.NewLocalBackend(eng)
	lb.Interface = func(string) (int, bool) { return 1500, true }
	sock := filepath.Join(t.TempDir(), "gvsd.sock")
	ln, err := ListenUnix(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewServer(lb, nil, nil).Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return DialUnix(sock), lb
}

func run(b ipvsadm.Backend, stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	cli := &ipvsadm.CLI{Backend: b, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	rc := cli.Run(context.Background(), append([]string{"gvsadm"}, args...))
	return out.String(), errb.String(), rc
}

// TestGvsadmThroughAPI runs the same ipvsadm command lines against an
// in-process engine and through the HTTP API: output, errors and exit
// codes must not change on the way.
func TestGvsadmThroughAPI(t *testing.T) {
	remote, _ := serve(t)
	eng, _ := ipvs.New(ipvs.Config{HashSeed: 1})
	local := ipvsadm.NewLocalBackend(eng)
	local.Interface = func(string) (int, bool) { return 1500, true }
	script := [][]string{
		{"-A", "-t", "10.0.0.1:80", "-s", "rr"},
		{"-A", "-t", "10.0.0.1:80", "-s", "rr"}, // exists
		{"-a", "-t", "10.0.0.1:80", "-r", "10.0.1.1:80", "-m", "-w", "3"},
		{"-a", "-t", "10.0.0.1:80", "-r", "10.0.1.2:8080", "-g"},
		{"-a", "-t", "10.0.0.9:80", "-r", "10.0.1.2:8080", "-g"}, // no service
		{"-A", "-u", "[2001:db8::1]:53", "-s", "sh", "-b", "sh-port", "-p", "600"},
		{"-a", "-u", "[2001:db8::1]:53", "-r", "[2001:db8:1::5]:53", "-i", "--tun-type", "gue", "--tun-port", "6080"},
		{"-A", "-f", "7", "-s", "wlc"},
		{"-e", "-t", "10.0.0.1:80", "-r", "10.0.1.1:80", "-m", "-w", "0"},
		{"-e", "-t", "10.0.0.1:80", "-r", "10.0.1.9:80", "-m"}, // no dest
		{"-A", "-t", "10.0.0.2:80", "-s", "nope"},
		{"--set", "100", "50", "30"},
		{"-L", "-n", "--timeout"},
		{"-Ln"}, {"-Ln", "--stats"}, {"-Ln", "--rate"}, {"-Ln", "--thresholds"}, {"-Ln", "--tun-info"},
		{"-Ln", "-t", "10.0.0.1:80"}, {"-Ln", "-t", "10.0.0.5:80"},
		{"-Ln", "--json"},
		{"-Lnc"},
		{"--start-daemon", "master", "--mcast-interface", "eth0"},
		{"--start-daemon", "master", "--mcast-interface", "eth0"},
		{"-L", "--daemon"},
		{"--stop-daemon", "master"}, {"--stop-daemon", "master"},
		{"-Z"}, {"-Z", "-t", "10.0.0.1:80"},
		{"-S", "-n"},
		{"-d", "-t", "10.0.0.1:80", "-r", "10.0.1.2:8080"},
		{"-D", "-f", "7"},
		{"-Sn"},
		{"-C"}, {"-Ln"},
	}
	for _, args := range script {
		lo, le, lrc := run(local, "", args...)
		ro, re, rrc := run(remote, "", args...)
		if lo != ro || le != re || lrc != rrc {
			t.Errorf("gvsadm %v:\nlocal  rc=%d stdout=%q stderr=%q\nremote rc=%d stdout=%q stderr=%q", args, lrc, lo, le, rrc, ro, re)
		}
	}
	// restore: all or nothing, failing line named, through the API too
	rules := "-A -t 10.0.0.3:80 -s rr\n-a -t 10.0.0.3:80 -r 10.0.1.1:80 -m\n-A -t 10.0.0.3:80 -s rr\n"
	lo, le, lrc := run(local, rules, "-R")
	ro, re, rrc := run(remote, rules, "-R")
	if lo != ro || le != re || lrc != rrc || lrc == 0 {
		t.Errorf("restore: local rc=%d %q %q, remote rc=%d %q %q", lrc, lo, le, rrc, ro, re)
	}
	if out, _, _ := run(remote, "", "-Sn"); out != "" {
		t.Errorf("failed restore left state behind: %q", out)
	}
}

func TestTokenRequired(t *testing.T) {
	if _, err := WithToken(http.NotFoundHandler(), " "); err == nil {
		t.Fatal("an empty token must refuse to start")
	}
}

func TestServiceIDRoundTrip(t *testing.T) {
	for _, id := range []string{"tcp:10.0.0.1:80", "udp:[2001:db8::1]:53", "sctp:10.0.0.2:3868", "fwm:7", "fwm6:9"} {
		k, err := ParseServiceID(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := ServiceID(k); got != id {
			t.Errorf("%s -> %s", id, got)
		}
	}
	for _, bad := range []string{"", "tcp", "icmp:1.2.3.4:1", "fwm:0", "tcp:1.2.3.4"} {
		if _, err := ParseServiceID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
