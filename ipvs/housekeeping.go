package ipvs

import (
	"context"
	"time"
)

// Housekeeping: expiry, rate estimation, defenses, trash. Run does it on a
// timer; tests call Housekeep with a chosen clock.

// sweepBudget bounds the entries one shard sweep visits before it lets go
// of the shard lock, so packet workers never wait long behind expiry.
const sweepBudget = 4096

// Run performs housekeeping until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(time.Duration(Tick))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Housekeep(e.Now())
		}
	}
}

// Housekeep expires due entries, samples the rate estimator every two
// seconds, updates the defenses and frees unreferenced deleted servers.
func (e *Engine) Housekeep(now int64) {
	e.Expire(now)
	opts := e.opts.Load()
	e.defense.update(opts, e.table.count.Load(), e.table.max)
	if e.defense.dropEntry.Load() {
		e.randomDropEntry(now)
	}
	if now-e.lastEstimate >= EstimatorInterval*1e9 {
		e.lastEstimate = now
		e.estimate()
		e.reapTrash()
		e.tickSchedulers(now)
	}
}

// Expire removes every entry whose time has come.
func (e *Engine) Expire(now int64) {
	for i := range e.table.shards {
		e.sweepShard(&e.table.shards[i], now)
	}
}

func (e *Engine) sweepShard(sh *shard, now int64) {
	nowTick := now >> tickShift
	var pending []ConnRef
	for {
		visited := 0
		sh.mu.Lock()
		for visited < sweepBudget {
			head, ok := sh.wheelDue(nowTick)
			if !ok {
				break
			}
			for idx := head; idx != 0; {
				c := sh.entry(idx)
				next := c.wnext
				c.wprev, c.wnext = 0, 0
				switch {
				case int32(c.expires-uint32(nowTick)) > 0:
					sh.wheelAdd(idx, c)
				case c.flags&ConnTemplate != 0 && c.nControl > 0:
					// still controls connections: look again later (IPVS: 60 s)
					c.expires = expiryTick(now, templateRecheckMS)
					sh.wheelAdd(idx, c)
				default:
					if ctl := e.unlinkConn(sh, idx, false); ctl != 0 {
						pending = append(pending, ctl)
					}
				}
				idx = next
				visited++
			}
		}
		done := visited < sweepBudget
		sh.mu.Unlock()
		for _, r := range pending {
			e.dropControl(r)
		}
		pending = pending[:0]
		if done {
			return
		}
	}
}

// expireDestConns expires every connection of d, then its templates that no
// longer control anything (ip_vs_expire_nodest_conn_flush).
func (e *Engine) expireDestConns(d *Dest) {
	for pass := 0; pass < 2; pass++ {
		for i := range e.table.shards {
			sh := &e.table.shards[i]
			var pending []ConnRef
			sh.mu.Lock()
			e.forEachEntry(sh, func(idx uint32, c *connEntry) {
				if c.destID != d.id {
					return
				}
				template := c.flags&ConnTemplate != 0
				if (pass == 0 && !template) || (pass == 1 && template && c.nControl == 0) {
					if ctl := e.unlinkConn(sh, idx, true); ctl != 0 {
						pending = append(pending, ctl)
					}
				}
			})
			sh.mu.Unlock()
			for _, r := range pending {
				e.dropControl(r)
			}
		}
	}
}

// forEachEntry visits every live entry of sh (locked).
func (e *Engine) forEachEntry(sh *shard, fn func(idx uint32, c *connEntry)) {
	for ci, chunk := range sh.chunks {
		for j := range chunk {
			c := &chunk[j]
			if c.proto == 0 && c.flags == 0 {
				continue // free
			}
			fn(uint32(ci*chunkSize+j+1), c)
		}
	}
}

// randomDropEntry is the drop_entry defense: from a slice of the table,
// drop half-open TCP entries and entries that carried almost no traffic
// (ip_vs_random_dropentry does the same on 1/32 of the hash buckets).
func (e *Engine) randomDropEntry(now int64) {
	start := int(uint64(now>>tickShift)*7) % numShards
	for k := 0; k < numShards/32; k++ {
		sh := &e.table.shards[(start+k)%numShards]
		var pending []ConnRef
		sh.mu.Lock()
		e.forEachEntry(sh, func(idx uint32, c *connEntry) {
			if c.flags&ConnTemplate != 0 {
				return
			}
			drop := false
			switch c.proto {
			case ProtoTCP:
				switch c.state {
				case TCPSynRecv, TCPSynAck:
					drop = true
				case TCPEstablished:
					drop = c.inPkts < 8
				}
			case ProtoUDP:
				drop = c.inPkts < 8
			}
			if drop {
				if ctl := e.unlinkConn(sh, idx, true); ctl != 0 {
					pending = append(pending, ctl)
				}
			}
		})
		sh.mu.Unlock()
		for _, r := range pending {
			e.dropControl(r)
		}
	}
}

func (e *Engine) tickSchedulers(now int64) {
	e.mu.Lock()
	svcs := append([]*Service(nil), e.svcOrder...)
	e.mu.Unlock()
	for _, s := range svcs {
		if t, ok := s.params.Load().sched.(SchedulerTicker); ok {
			t.Tick(s, now)
		}
	}
}

// ---- counters ----

func (s *counterSlot) store(c Counters) {
	s.conns.Store(c.Conns)
	s.inPkts.Store(c.InPkts)
	s.outPkts.Store(c.OutPkts)
	s.inBytes.Store(c.InBytes)
	s.outBytes.Store(c.OutBytes)
}

func (e *Engine) rawDestCounters(id uint32) (c Counters) {
	for _, w := range *e.workers.Load() {
		if p := w.destPub.Load(); p != nil && int(id) < len(*p) {
			c.add((*p)[id].read())
		}
	}
	return c
}

func (e *Engine) rawServiceCounters(id uint32) (c Counters) {
	for _, w := range *e.workers.Load() {
		if p := w.svcPub.Load(); p != nil && int(id) < len(*p) {
			c.add((*p)[id].read())
		}
	}
	return c
}

func (e *Engine) rawTotalCounters() (c Counters) {
	for _, w := range *e.workers.Load() {
		c.add(w.total.read())
	}
	return c
}

// DropCounts sums the workers' drop counters by reason.
func (e *Engine) DropCounts() (out [NumDropReasons]uint64) {
	for _, w := range *e.workers.Load() {
		d := w.Drops()
		for i := range out {
			out[i] += d[i]
		}
	}
	return out
}

// estimate samples every counter for the rate estimator.
func (e *Engine) estimate() {
	e.mu.Lock()
	svcs := append([]*Service(nil), e.svcOrder...)
	e.mu.Unlock()
	for _, s := range svcs {
		s.stats.sample(e.rawServiceCounters(s.id))
		for _, d := range s.Dests() {
			d.stats.sample(e.rawDestCounters(d.id))
		}
	}
	e.total.sample(e.rawTotalCounters())
}

// ---- connection listing ----

// Conns calls fn for every connection entry, templates included, a shard at
// a time (fn runs without locks held). It stops when fn returns false.
func (e *Engine) Conns(fn func(ConnInfo) bool) {
	now := e.Now()
	var buf []ConnInfo
	for i := range e.table.shards {
		sh := &e.table.shards[i]
		buf = buf[:0]
		sh.mu.Lock()
		e.forEachEntry(sh, func(idx uint32, c *connEntry) {
			ci := c.info(makeRef(i, idx), now)
			if k, ok := sh.peData[idx]; ok {
				ci.PEName, ci.PEData = k.name, k.data
			}
			buf = append(buf, ci)
		})
		sh.mu.Unlock()
		for _, ci := range buf {
			if !fn(ci) {
				return
			}
		}
	}
}
