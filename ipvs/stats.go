package ipvs

import (
	"sync"
	"sync/atomic"
)

// Counters are the cumulative traffic counters IPVS keeps per service, per
// destination and in total.
type Counters struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inpkts"`
	OutPkts  uint64 `json:"outpkts"`
	InBytes  uint64 `json:"inbytes"`
	OutBytes uint64 `json:"outbytes"`
}

func (c *Counters) add(o Counters) {
	c.Conns += o.Conns
	c.InPkts += o.InPkts
	c.OutPkts += o.OutPkts
	c.InBytes += o.InBytes
	c.OutBytes += o.OutBytes
}

func (c Counters) sub(o Counters) Counters {
	return Counters{c.Conns - o.Conns, c.InPkts - o.InPkts, c.OutPkts - o.OutPkts, c.InBytes - o.InBytes, c.OutBytes - o.OutBytes}
}

// Rates are the estimator's smoothed per-second figures (ipvsadm --rate).
type Rates struct {
	CPS    uint64 `json:"cps"`
	InPPS  uint64 `json:"inpps"`
	OutPPS uint64 `json:"outpps"`
	InBPS  uint64 `json:"inbps"`
	OutBPS uint64 `json:"outbps"`
}

// counterSlot is one worker's counters for one object. Only the owning
// worker writes it (plain load+store, no locked instruction); readers sum
// slots across workers with atomic loads.
type counterSlot struct {
	conns, inPkts, outPkts, inBytes, outBytes atomic.Uint64
}

func (s *counterSlot) addInN(pkts, bytes uint64) {
	s.inPkts.Store(s.inPkts.Load() + pkts)
	s.inBytes.Store(s.inBytes.Load() + bytes)
}

func (s *counterSlot) addOutN(pkts, bytes uint64) {
	s.outPkts.Store(s.outPkts.Load() + pkts)
	s.outBytes.Store(s.outBytes.Load() + bytes)
}

func (s *counterSlot) addConn() { s.conns.Store(s.conns.Load() + 1) }

func (s *counterSlot) read() Counters {
	return Counters{s.conns.Load(), s.inPkts.Load(), s.outPkts.Load(), s.inBytes.Load(), s.outBytes.Load()}
}

// statsBlock is the per-object bookkeeping next to the workers' counters:
// the baseline subtracted from their sums (set by zeroing, and when a
// registry slot is reused) and the rate estimator.
type statsBlock struct {
	mu   sync.Mutex
	base Counters
	est  estimator
}

// estimator reproduces IPVS's rate estimator: every 2 s the counter deltas
// are scaled (<<9 for packets and connections, <<4 for bytes, i.e. per-second
// rates times 2^10 and 2^5) and folded into an average with weight 1/4.
type estimator struct {
	last                              Counters
	cps, inpps, outpps, inbps, outbps int64
}

// EstimatorInterval is how often the engine samples counters for rates.
const EstimatorInterval = 2 // seconds

func (e *estimator) sample(c Counters) {
	ewma := func(avg *int64, rate int64) { *avg += (rate - *avg) >> 2 }
	ewma(&e.cps, int64(c.Conns-e.last.Conns)<<9)
	ewma(&e.inpps, int64(c.InPkts-e.last.InPkts)<<9)
	ewma(&e.outpps, int64(c.OutPkts-e.last.OutPkts)<<9)
	ewma(&e.inbps, int64(c.InBytes-e.last.InBytes)<<4)
	ewma(&e.outbps, int64(c.OutBytes-e.last.OutBytes)<<4)
	e.last = c
}

func (e *estimator) rates() Rates {
	r := func(v int64, round int64, shift uint) uint64 {
		if v < 0 {
			return 0
		}
		return uint64((v + round) >> shift)
	}
	return Rates{
		CPS:    r(e.cps, 0x1ff, 10),
		InPPS:  r(e.inpps, 0x1ff, 10),
		OutPPS: r(e.outpps, 0x1ff, 10),
		InBPS:  r(e.inbps, 0xf, 5),
		OutBPS: r(e.outbps, 0xf, 5),
	}
}

// reset zeroes the block against the current raw sum (ipvsadm -Z).
func (b *statsBlock) reset(raw Counters) {
	b.mu.Lock()
	b.base = raw
	b.est = estimator{}
	b.mu.Unlock()
}

func (b *statsBlock) snapshot(raw Counters) (Counters, Rates) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return raw.sub(b.base), b.est.rates()
}

func (b *statsBlock) sample(raw Counters) {
	b.mu.Lock()
	b.est.sample(raw.sub(b.base))
	b.mu.Unlock()
}
