package ipvs

import (
	"sync"
	"sync/atomic"
)

// defense holds the engaged state of IPVS's three defense strategies,
// recomputed by housekeeping from the table's fill level (update_defense_level).
type defense struct {
	mu          sync.Mutex
	dropEntry   atomic.Bool
	secureTCP   atomic.Bool
	dropRate    atomic.Int32 // drop 1 of N new-connection packets; 0 = off
	dropCounter atomic.Int32
	// modes as reported (1 auto idle, 2 auto engaged, 0 off, 3 always)
	entryMode, packetMode, secureMode int
}

// DefenseStatus reports the strategies' modes the way the kernel's sysctls
// read back: 1 armed, 2 engaged automatically, 0 off, 3 always on.
type DefenseStatus struct {
	DropEntry, DropPacket, SecureTCP int
	DropRate                         int
}

func (d *defense) shouldDropPacket() bool {
	rate := d.dropRate.Load()
	if rate == 0 {
		return false
	}
	if d.dropCounter.Add(-1) > 0 {
		return false
	}
	d.dropCounter.Store(rate)
	return true
}

func autoMode(setting int, overloaded bool) (mode int, on bool) {
	switch setting {
	case 1, 2:
		if overloaded {
			return 2, true
		}
		return 1, false
	case 3:
		return 3, true
	}
	return 0, false
}

// update engages or releases the defenses; count and max describe the table.
func (d *defense) update(o *Options, count, max int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	amem := int64(float64(max) * (1 - o.LoadThreshold))
	avail := max - count
	overloaded := avail < amem

	var on bool
	d.entryMode, on = autoMode(o.DropEntry, overloaded)
	d.dropEntry.Store(on)

	d.secureMode, on = autoMode(o.SecureTCP, overloaded)
	d.secureTCP.Store(on)

	d.packetMode, on = autoMode(o.DropPacket, overloaded)
	switch {
	case !on:
		d.dropRate.Store(0)
	case d.packetMode == 3:
		d.dropRate.Store(int32(o.AmDropRate))
	default:
		rate := int32(1)
		if amem-avail > 0 {
			rate = int32(amem / (amem - avail))
		}
		if rate < 1 {
			rate = 1
		}
		if d.dropRate.Load() != rate {
			d.dropRate.Store(rate)
			d.dropCounter.Store(rate)
		}
	}
}

func (d *defense) status() DefenseStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return DefenseStatus{DropEntry: d.entryMode, DropPacket: d.packetMode, SecureTCP: d.secureMode, DropRate: int(d.dropRate.Load())}
}

// Defense reports the defense strategies' state.
func (e *Engine) Defense() DefenseStatus { return e.defense.status() }

// sourceLimiter counts connections per client address for PerSourceLimit.
// It is touched only when connections are created and destroyed.
type sourceLimiter struct {
	parts [64]struct {
		mu sync.Mutex
		m  map[srcKey]uint32
		_  [40]byte
	}
}

type srcKey struct {
	af   Family
	addr Addr
}

func (l *sourceLimiter) part(addr Addr) int {
	return int(addr[15]^addr[14]^addr[13]^addr[7]) & 63
}

func (l *sourceLimiter) acquire(af Family, addr Addr, limit uint32) bool {
	p := &l.parts[l.part(addr)]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[srcKey]uint32{}
	}
	k := srcKey{af, addr}
	if p.m[k] >= limit {
		return false
	}
	p.m[k]++
	return true
}

func (l *sourceLimiter) release(af Family, addr Addr) {
	p := &l.parts[l.part(addr)]
	p.mu.Lock()
	defer p.mu.Unlock()
	k := srcKey{af, addr}
	if n := p.m[k]; n > 1 {
		p.m[k] = n - 1
	} else {
		delete(p.m, k)
	}
}

// SourceConns returns how many connections a client address holds under the per-source limit.
func (e *Engine) SourceConns(af Family, addr Addr) uint32 {
	p := &e.sources.parts[e.sources.part(addr)]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[srcKey{af, addr}]
}
