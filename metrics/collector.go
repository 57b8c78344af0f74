package metrics

import (
	"strconv"

	"github.com/govs/gvs/ipvs"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what the collector reads on each scrape.
type Source interface {
	Engine() *ipvs.Engine
	// WorkerPackets returns, per packet worker, frames received and sent.
	WorkerPackets() (received, sent []uint64)
	// DataplaneDrops returns the data path's own drop counters by reason.
	DataplaneDrops() map[string]uint64
	// ReceiveDelay returns the data path's receive-delay histogram: bucket
	// upper bounds in seconds, the count in each bucket (one more than
	// bounds: the last is above every bound), the sum in seconds. No
	// bounds: no data path.
	ReceiveDelay() (bounds []float64, counts []uint64, sum float64)
	// FastPath returns the kernel fast path's flows now and its events by
	// kind; ok false: no fast path.
	FastPath() (entries uint64, events map[string]uint64, ok bool)
}

var backendLabels = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}

// Collector implements prometheus.Collector.
type Collector struct {
	src Source

	conns, inPkts, outPkts, inBytes, outBytes *prometheus.Desc
	active, inactive, weight                  *prometheus.Desc

	drops, tableSize, tableCap, workerRx, workerTx   *prometheus.Desc
	rxDelay, fpEntries, fpEvents                     *prometheus.Desc
	svcConns, svcIn, svcOut, svcInBytes, svcOutBytes *prometheus.Desc
	svcCPS, svcInPPS, svcOutPPS                      *prometheus.Desc
}

// NewCollector builds a collector over src.
func NewCollector(src Source) *Collector {
	d := prometheus.NewDesc
	svcLabels := []string{"local_address", "local_port", "proto", "local_mark"}
	return &Collector{
		src:      src,
		conns:    d("node_ipvs_connections_total", "The total number of connections made.", nil, nil),
		inPkts:   d("node_ipvs_incoming_packets_total", "The total number of incoming packets.", nil, nil),
		outPkts:  d("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", nil, nil),
		inBytes:  d("node_ipvs_incoming_bytes_total", "The total amount of incoming data.", nil, nil),
		outBytes: d("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", nil, nil),
		active:   d("node_ipvs_backend_connections_active", "The current active connections by local and remote address.", backendLabels, nil),
		inactive: d("node_ipvs_backend_connections_inactive", "The current inactive connections by local and remote address.", backendLabels, nil),
		weight:   d("node_ipvs_backend_weight", "The current backend weight by local and remote address.", backendLabels, nil),

		drops:     d("gvs_drops_total", "Packets GVS dropped, by reason.", []string{"reason"}, nil),
		tableSize: d("gvs_conn_table_entries", "Connection table entries (connections and persistence templates).", nil, nil),
		tableCap:  d("gvs_conn_table_capacity", "Connection table capacity (the hard cap).", nil, nil),
		workerRx:  d("gvs_worker_received_packets_total", "Frames received per packet worker.", []string{"worker"}, nil),
		workerTx:  d("gvs_worker_sent_packets_total", "Frames sent per packet worker.", []string{"worker"}, nil),
		rxDelay: d("gvs_worker_receive_delay_seconds",
			"Time from the kernel putting a frame in a packet worker's ring to the worker taking it (wake-up and queueing).", nil, nil),
		fpEntries: d("gvs_fastpath_entries", "Flows the kernel fast path forwards now (entries gvsd holds in its flow map).", nil, nil),
		fpEvents: d("gvs_fastpath_events_total",
			"Kernel fast path events by kind: installed (an entry for a flow gvsd scheduled), adopted (an entry of a connection the kernel scheduled, recorded), refused (the map was full), slow_step (a sweep or flush that ran late or long), walk_failed (a sweep could not read the map).", []string{"event"}, nil),

		svcConns:    d("gvs_service_connections_total", "Connections scheduled per virtual service.", svcLabels, nil),
		svcIn:       d("gvs_service_incoming_packets_total", "Incoming packets per virtual service.", svcLabels, nil),
		svcOut:      d("gvs_service_outgoing_packets_total", "Outgoing packets per virtual service.", svcLabels, nil),
		svcInBytes:  d("gvs_service_incoming_bytes_total", "Incoming bytes per virtual service.", svcLabels, nil),
		svcOutBytes: d("gvs_service_outgoing_bytes_total", "Outgoing bytes per virtual service.", svcLabels, nil),
		svcCPS:      d("gvs_service_connections_per_second", "Estimated connection rate per virtual service (IPVS estimator).", svcLabels, nil),
		svcInPPS:    d("gvs_service_incoming_packets_per_second", "Estimated incoming packet rate per virtual service.", svcLabels, nil),
		svcOutPPS:   d("gvs_service_outgoing_packets_per_second", "Estimated outgoing packet rate per virtual service.", svcLabels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.inPkts, c.outPkts, c.inBytes, c.outBytes, c.active, c.inactive, c.weight,
		c.drops, c.tableSize, c.tableCap, c.workerRx, c.workerTx, c.rxDelay, c.fpEntries, c.fpEvents,
		c.svcConns, c.svcIn, c.svcOut, c.svcInBytes, c.svcOutBytes, c.svcCPS, c.svcInPPS, c.svcOutPPS} {
		ch <- d
	}
}

func serviceLabels(s *ipvs.ServiceStatus) (addr, port, proto, mark string) {
	if s.FWMark != 0 {
		return "", "0", "", strconv.FormatUint(uint64(s.FWMark), 10)
	}
	return s.Addr.String(), strconv.Itoa(int(s.Port)), s.Protocol.String(), ""
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	e := c.src.Engine()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	tot, _ := e.TotalStats()
	counter(c.conns, tot.Conns)
	counter(c.inPkts, tot.InPkts)
	counter(c.outPkts, tot.OutPkts)
	counter(c.inBytes, tot.InBytes)
	counter(c.outBytes, tot.OutBytes)
	for _, s := range e.Services() {
		la, lp, proto, mark := serviceLabels(&s)
		counter(c.svcConns, s.Stats.Conns, la, lp, proto, mark)
		counter(c.svcIn, s.Stats.InPkts, la, lp, proto, mark)
		counter(c.svcOut, s.Stats.OutPkts, la, lp, proto, mark)
		counter(c.svcInBytes, s.Stats.InBytes, la, lp, proto, mark)
		counter(c.svcOutBytes, s.Stats.OutBytes, la, lp, proto, mark)
		gauge(c.svcCPS, float64(s.Rates.CPS), la, lp, proto, mark)
		gauge(c.svcInPPS, float64(s.Rates.InPPS), la, lp, proto, mark)
		gauge(c.svcOutPPS, float64(s.Rates.OutPPS), la, lp, proto, mark)
		for _, d := range s.Dests {
			labels := []string{la, lp, d.Addr.String(), strconv.Itoa(int(d.Port)), proto, mark}
			gauge(c.active, float64(d.ActiveConns), labels...)
			gauge(c.inactive, float64(d.InactConns), labels...)
			gauge(c.weight, float64(d.Weight), labels...)
		}
	}
	drops := e.DropCounts()
	for r := ipvs.DropReason(1); r < ipvs.NumDropReasons; r++ {
		counter(c.drops, drops[r], r.String())
	}
	for reason, n := range c.src.DataplaneDrops() {
		counter(c.drops, n, reason)
	}
	gauge(c.tableSize, float64(e.ConnCount()))
	gauge(c.tableCap, float64(e.MaxConns()))
	rx, tx := c.src.WorkerPackets()
	for i := range rx {
		counter(c.workerRx, rx[i], strconv.Itoa(i))
	}
	for i := range tx {
		counter(c.workerTx, tx[i], strconv.Itoa(i))
	}
	if entries, events, ok := c.src.FastPath(); ok {
		gauge(c.fpEntries, float64(entries))
		for kind, n := range events {
			counter(c.fpEvents, n, kind)
		}
	}
	if bounds, counts, sum := c.src.ReceiveDelay(); len(bounds) > 0 && len(counts) == len(bounds)+1 {
		buckets := make(map[float64]uint64, len(bounds))
		var total uint64
		for i, b := range bounds {
			total += counts[i]
			buckets[b] = total
		}
		total += counts[len(bounds)]
		ch <- prometheus.MustNewConstHistogram(c.rxDelay, total, sum, buckets)
	}
}
