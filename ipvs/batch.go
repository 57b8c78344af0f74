package ipvs

// Packet is one packet of a batch for Worker.Process.
type Packet struct {
	Flow Flow
	Info PacketInfo
	// Reply marks a packet from a real server (NAT reply direction).
	Reply bool
	// Verdict is filled by Process.
	Verdict Verdict
	hash    uint64
}

// Process handles a batch of packets, In or Out by each packet's Reply
// flag. It computes every hash first and warms the cache lines the lookups
// will need, so a batch pays its memory latency once instead of per packet;
// the data path hands over whole receive batches.
func (w *Worker) Process(batch []Packet, now int64) {
	t := w.e.table
	for i := range batch {
		p := &batch[i]
		if p.Reply {
			p.hash = t.hashKey(p.Flow.Protocol, p.Flow.Family, &p.Flow.Dst, p.Flow.DstPort, false)
		} else {
			p.hash = t.hashKey(p.Flow.Protocol, p.Flow.Family, &p.Flow.Src, p.Flow.SrcPort, false)
		}
		t.prefetchSlot(p.hash)
	}
	for i := range batch {
		t.prefetchEntry(batch[i].hash)
	}
	for i := range batch {
		p := &batch[i]
		if p.Reply {
			p.Verdict = w.out(&p.Flow, &p.Info, now, p.hash)
		} else {
			p.Verdict = w.in(&p.Flow, &p.Info, now, p.hash)
		}
	}
}
