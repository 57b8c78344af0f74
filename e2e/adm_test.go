package e2e

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

// rules is an ipvsadm-save file as an operator keeps it.
const rules = `-A -t 10.0.2.100:80 -s rr
-a -t 10.0.2.100:80 -r 10.0.2.11:80 -m -w 1
-a -t 10.0.2.100:80 -r 10.0.2.12:80 -m -w 1
-a -t 10.0.2.100:80 -r 10.0.2.13:80 -m -w 1
-A -u 10.0.2.100:9000 -s rr
-a -u 10.0.2.100:9000 -r 10.0.2.11:9000 -m -w 1
-a -u 10.0.2.100:9000 -r 10.0.2.12:9000 -m -w 1
-a -u 10.0.2.100:9000 -r 10.0.2.13:9000 -m -w 1
`

// TestRestoreStatsMetrics: a rule file restored with gvsadm -R into a
// running gvsd carries real traffic; gvsadm -Ln --stats shows it, the
// Prometheus endpoint reports the same counters, and -S gives the file back.
func TestRestoreStatsMetrics(t *testing.T) {
	d := director(t, "metrics:\n  listen: 127.0.0.1:9102\nservices: []\n")
	l := d.Lab
	gvsadm, err := l.Binary("gvsadm")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx(t), gvsadm, "-R")
	cmd.Env = append(os.Environ(), "GVSD_SOCKET="+d.Socket)
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gvsadm -R: %v %s", err, out)
	}
	for i := 0; i < 9; i++ {
		whoami(t, l, lab.Client(i%3, false).String(), "http://10.0.2.100/")
	}
	for i := 0; i < 3; i++ {
		if _, err := l.UDPEcho(ctx(t), lab.Client(0, false).String(), "10.0.2.100", 9000, "ping"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let the last FIN/ACKs pass before the counters are read

	stats := parseStats(t, adm(t, d, "-L", "-n", "--stats"))
	metrics, err := l.HTTPGetFrom(ctx(t), "dir", netip.Addr{}, "http://127.0.0.1:9102/metrics")
	if err != nil {
		t.Fatal(err)
	}
	tcp, udp := stats["TCP 10.0.2.100:80"], stats["UDP 10.0.2.100:9000"]
	if tcp[0] != 9 || udp[0] != 3 {
		t.Fatalf("--stats connections: TCP %v, UDP %v; want 9 and 3", tcp, udp)
	}
	for n := 1; n <= 3; n++ {
		if c := stats["-> "+lab.RealServer(n, false).String()+":80"]; c[0] != 3 {
			t.Errorf("rs%d: %v connections, want 3", n, c)
		}
	}
	if tcp[1] < 9*4 || tcp[2] < 9*3 || tcp[3] == 0 || tcp[4] == 0 {
		t.Errorf("TCP packet/byte counters too small for 9 HTTP exchanges: %v", tcp)
	}
	want := map[string]uint64{
		"node_ipvs_connections_total":      tcp[0] + udp[0],
		"node_ipvs_incoming_packets_total": tcp[1] + udp[1],
		"node_ipvs_outgoing_packets_total": tcp[2] + udp[2],
		"node_ipvs_incoming_bytes_total":   tcp[3] + udp[3],
		"node_ipvs_outgoing_bytes_total":   tcp[4] + udp[4],
	}
	got := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(metrics))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			if _, ok := want[f[0]]; ok {
				v, _ := strconv.ParseFloat(f[1], 64)
				got[f[0]] = uint64(v)
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d on the metrics endpoint, %d in gvsadm -Ln --stats", k, got[k], v)
		}
	}
	if !strings.Contains(metrics, `node_ipvs_backend_weight{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.11",remote_port="80"} 1`) {
		t.Errorf("metrics lack the node_exporter backend series:\n%s", grepLines(metrics, "node_ipvs_backend_weight"))
	}
	// the workers' receive delay: every frame they took from a ring, in the
	// histogram (but for a batch being taken as the scrape ran)
	rx, delayed := 0.0, 0.0
	for _, line := range strings.Split(metrics, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch {
		case strings.HasPrefix(f[0], "gvs_worker_received_packets_total{"):
			rx += v
		case f[0] == "gvs_worker_receive_delay_seconds_count":
			delayed = v
		}
	}
	if rx == 0 || delayed > rx || rx-delayed > 64 {
		t.Errorf("receive delay measured for %.0f frames, workers received %.0f:\n%s", delayed, rx, grepLines(metrics, "gvs_worker_receive"))
	}
	if saved := adm(t, d, "-S", "-n"); saved != rules {
		t.Errorf("gvsadm -S -n after -R:\n%s\nwant:\n%s", saved, rules)
	}
}

// parseStats reads gvsadm -Ln --stats into Conns, InPkts, OutPkts,
// InBytes, OutBytes per service ("TCP 10.0.2.100:80") and per destination
// ("-> 10.0.2.11:80", the last service's when several share one).
func parseStats(t *testing.T, out string) map[string][5]uint64 {
	t.Helper()
	res := map[string][5]uint64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		var key string
		var nums []string
		switch {
		case len(f) == 7 && (f[0] == "TCP" || f[0] == "UDP"):
			key, nums = f[0]+" "+f[1], f[2:]
		case len(f) == 7 && f[0] == "->":
			key, nums = "-> "+f[1], f[2:]
		default:
			continue
		}
		var v [5]uint64
		for i, s := range nums {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("--stats field %q in %q (small counters print without K/M): %v", s, line, err)
			}
			v[i] = n
		}
		res[key] = v
	}
	return res
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
