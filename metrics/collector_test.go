package metrics

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/govs/gvs/ipvs"
	_ "github.com/govs/gvs/ipvs/sched" // registers the schedulers
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeSource struct {
	e           *ipvs.Engine
	rx, tx      []uint64
	drops       map[string]uint64
	delayBounds []float64
	delayCounts []uint64
	delaySum    float64
	fpOn        bool
	fpEntries   uint64
	fpEvents    map[string]uint64
}

func (s fakeSource) Engine() *ipvs.Engine              { return s.e }
func (s fakeSource) WorkerPackets() (rx, tx []uint64)  { return s.rx, s.tx }
func (s fakeSource) DataplaneDrops() map[string]uint64 { return s.drops }
func (s fakeSource) ReceiveDelay() ([]float64, []uint64, float64) {
	return s.delayBounds, s.delayCounts, s.delaySum
}
func (s fakeSource) FastPath() (uint64, map[string]uint64, bool) {
	return s.fpEntries, s.fpEvents, s.fpOn
}
func (s fakeSource) register(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewCollector(s)); err != nil {
		t.Fatal(err)
	}
	return reg
}

var (
	vip    = netip.MustParseAddr("10.0.2.100")
	rs1    = netip.MustParseAddr("10.0.2.11")
	rs2    = netip.MustParseAddr("10.0.2.12")
	client = netip.MustParseAddr("10.0.1.2")
	svcKey = ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: vip, Port: 80}
)

// engineWithTraffic has one rr service over two real servers and three
// client SYNs. rr starts at the most recently added server (the kernel adds
// destinations at the head of the list), so rs2 gets two connections and
// rs1 one; SYN_RECV counts as active since Linux 4.11.
func engineWithTraffic(t *testing.T) *ipvs.Engine {
	t.Helper()
	e, err := ipvs.New(ipvs.Config{HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddService(ipvs.ServiceConfig{ServiceKey: svcKey, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{rs1, rs2} {
		if err := e.AddDest(svcKey, ipvs.DestConfig{Addr: a, Port: 80, Weight: 2}); err != nil {
			t.Fatal(err)
		}
	}
	w := e.NewWorker()
	for port := uint16(40000); port < 40003; port++ {
		f := ipvs.Flow{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Src: ipvs.AddrFrom(client), SrcPort: port, Dst: ipvs.AddrFrom(vip), DstPort: 80}
		if v := w.In(&f, &ipvs.PacketInfo{TCPFlags: ipvs.TCPSyn, Bytes: 60}, 1); v.Action != ipvs.ActionForward {
			t.Fatalf("SYN from port %d: %+v", port, v)
		}
	}
	return e
}

func TestNodeExporterNames(t *testing.T) {
	src := fakeSource{e: engineWithTraffic(t), rx: []uint64{5, 7}, tx: []uint64{4, 6}, drops: map[string]uint64{"malformed": 3}}
	reg := src.register(t)
	// The names, help and labels node_exporter's IPVS collector exports:
	// existing dashboards query exactly these.
	want := `
# HELP node_ipvs_connections_total The total number of connections made.
# TYPE node_ipvs_connections_total counter
node_ipvs_connections_total 3
# HELP node_ipvs_incoming_packets_total The total number of incoming packets.
# TYPE node_ipvs_incoming_packets_total counter
node_ipvs_incoming_packets_total 3
# HELP node_ipvs_incoming_bytes_total The total amount of incoming data.
# TYPE node_ipvs_incoming_bytes_total counter
node_ipvs_incoming_bytes_total 180
# HELP node_ipvs_backend_weight The current backend weight by local and remote address.
# TYPE node_ipvs_backend_weight gauge
node_ipvs_backend_weight{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.11",remote_port="80"} 2
node_ipvs_backend_weight{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.12",remote_port="80"} 2
# HELP node_ipvs_backend_connections_active The current active connections by local and remote address.
# TYPE node_ipvs_backend_connections_active gauge
node_ipvs_backend_connections_active{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.11",remote_port="80"} 1
node_ipvs_backend_connections_active{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.12",remote_port="80"} 2
# HELP node_ipvs_backend_connections_inactive The current inactive connections by local and remote address.
# TYPE node_ipvs_backend_connections_inactive gauge
node_ipvs_backend_connections_inactive{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.11",remote_port="80"} 0
node_ipvs_backend_connections_inactive{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.2.12",remote_port="80"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"node_ipvs_connections_total", "node_ipvs_incoming_packets_total", "node_ipvs_incoming_bytes_total",
		"node_ipvs_backend_weight", "node_ipvs_backend_connections_inactive", "node_ipvs_backend_connections_active"); err != nil {
		t.Fatal(err)
	}
}

func TestGVSMetrics(t *testing.T) {
	src := fakeSource{e: engineWithTraffic(t), rx: []uint64{5, 7}, tx: []uint64{4, 6}, drops: map[string]uint64{"malformed": 3}}
	reg := src.register(t)
	want := `
# HELP gvs_conn_table_entries Connection table entries (connections and persistence templates).
# TYPE gvs_conn_table_entries gauge
gvs_conn_table_entries 3
# HELP gvs_worker_received_packets_total Frames received per packet worker.
# TYPE gvs_worker_received_packets_total counter
gvs_worker_received_packets_total{worker="0"} 5
gvs_worker_received_packets_total{worker="1"} 7
# HELP gvs_service_connections_total Connections scheduled per virtual service.
# TYPE gvs_service_connections_total counter
gvs_service_connections_total{local_address="10.0.2.100",local_mark="",local_port="80",proto="TCP"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"gvs_conn_table_entries", "gvs_worker_received_packets_total", "gvs_service_connections_total"); err != nil {
		t.Fatal(err)
	}
	// Drops: the data path's reasons next to the engine's, one series each.
	reasons := counters(t, reg, "gvs_drops_total", "reason")
	if reasons["malformed"] != 3 {
		t.Errorf("data path drop reason: %v", reasons)
	}
	if _, ok := reasons[ipvs.DropNoDest.String()]; !ok {
		t.Errorf("engine drop reason %q missing: %v", ipvs.DropNoDest, reasons)
	}
}

func TestFWMarkServiceLabels(t *testing.T) {
	e, err := ipvs.New(ipvs.Config{HashSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	key := ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 7}
	if err := e.AddService(ipvs.ServiceConfig{ServiceKey: key, Scheduler: "wlc"}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddDest(key, ipvs.DestConfig{Addr: rs1, Weight: 5}); err != nil {
		t.Fatal(err)
	}
	reg := fakeSource{e: e}.register(t)
	// node_exporter labels a mark service with its mark, an empty address
	// and protocol, and port 0.
	want := `
# HELP node_ipvs_backend_weight The current backend weight by local and remote address.
# TYPE node_ipvs_backend_weight gauge
node_ipvs_backend_weight{local_address="",local_mark="7",local_port="0",proto="",remote_address="10.0.2.11",remote_port="0"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "node_ipvs_backend_weight"); err != nil {
		t.Fatal(err)
	}
}

// The receive delay is a Prometheus histogram with cumulative buckets;
// without a data path it is not exported at all.
func TestReceiveDelayHistogram(t *testing.T) {
	src := fakeSource{e: engineWithTraffic(t), delayBounds: []float64{0.00001, 0.0001}, delayCounts: []uint64{4, 2, 1}, delaySum: 0.0125}
	want := `
# HELP gvs_worker_receive_delay_seconds Time from the kernel putting a frame in a packet worker's ring to the worker taking it (wake-up and queueing).
# TYPE gvs_worker_receive_delay_seconds histogram
gvs_worker_receive_delay_seconds_bucket{le="1e-05"} 4
gvs_worker_receive_delay_seconds_bucket{le="0.0001"} 6
gvs_worker_receive_delay_seconds_bucket{le="+Inf"} 7
gvs_worker_receive_delay_seconds_sum 0.0125
gvs_worker_receive_delay_seconds_count 7
`
	if err := testutil.GatherAndCompare(src.register(t), strings.NewReader(want), "gvs_worker_receive_delay_seconds"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(fakeSource{e: engineWithTraffic(t)}.register(t), "gvs_worker_receive_delay_seconds"); err != nil || n != 0 {
		t.Fatalf("without a data path: %d series, %v", n, err)
	}
}

// The kernel fast path's flows are a gauge and its events a counter by
// kind; without a fast path neither is exported.
func TestFastPathMetrics(t *testing.T) {
	src := fakeSource{e: engineWithTraffic(t), fpOn: true, fpEntries: 12, fpEvents: map[string]uint64{"installed": 40, "adopted": 9}}
	want := `
# HELP gvs_fastpath_entries Flows the kernel fast path forwards now (entries gvsd holds in its flow map).
# TYPE gvs_fastpath_entries gauge
gvs_fastpath_entries 12
`
	reg := src.register(t)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gvs_fastpath_entries"); err != nil {
		t.Fatal(err)
	}
	events := counters(t, reg, "gvs_fastpath_events_total", "event")
	if len(events) != 2 || events["installed"] != 40 || events["adopted"] != 9 {
		t.Errorf("events %v, want installed 40 and adopted 9", events)
	}
	if n, err := testutil.GatherAndCount(fakeSource{e: engineWithTraffic(t)}.register(t), "gvs_fastpath_entries", "gvs_fastpath_events_total"); err != nil || n != 0 {
		t.Fatalf("without a fast path: %d series, %v", n, err)
	}
}

// counters gathers counter family name from reg by the value of its one
// label; a label value exported twice is an error.
func counters(t *testing.T, reg *prometheus.Registry, name, label string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					if _, dup := out[l.GetValue()]; dup {
						t.Errorf("%s %q exported twice", label, l.GetValue())
					}
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
