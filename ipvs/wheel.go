package ipvs

// Connection expiry: a hashed timing wheel per shard, linked through the
// entries themselves, so there is no goroutine or runtime timer per
// connection.
//
// Refreshing a connection on a packet only stores its new expiry time; the
// entry stays where it is. When its slot comes due, an entry that is not yet
// expired is moved to the slot of its real expiry. Each entry is therefore
// touched at most once per timeout period, and a sweep costs the number of
// entries whose slot is due, not the table size.

const (
	wheelBits = 12
	wheelSize = 1 << wheelBits
	wheelMask = wheelSize - 1
	// TickShift sets the wheel's resolution: 2^27 ns, about 134 ms.
	tickShift = 27
)

// Tick is the wheel resolution in nanoseconds.
const Tick = int64(1) << tickShift

type wheel struct {
	heads []uint32 // per slot: first entry (index+1)
	tick  int64    // every tick before this one has been processed
}

// wheelAdd links entry idx into the slot of its expiry time.
func (s *shard) wheelAdd(idx uint32, e *connEntry) {
	w := &s.wheel
	if w.heads == nil {
		w.heads = make([]uint32, wheelSize)
	}
	t := w.tick + int64(int32(e.expires-uint32(w.tick)))
	if t < w.tick {
		t = w.tick
	}
	if t >= w.tick+wheelSize {
		t = w.tick + wheelSize - 1 // beyond the horizon: revisit then
	}
	slot := t & wheelMask
	e.wtick = uint32(t)
	e.wprev = 0
	e.wnext = w.heads[slot]
	if e.wnext != 0 {
		s.entry(e.wnext).wprev = idx
	}
	w.heads[slot] = idx
}

// wheelRemove unlinks entry idx.
func (s *shard) wheelRemove(idx uint32, e *connEntry) {
	if e.wprev != 0 {
		s.entry(e.wprev).wnext = e.wnext
	} else if s.wheel.heads != nil && s.wheel.heads[e.wtick&wheelMask] == idx {
		s.wheel.heads[e.wtick&wheelMask] = e.wnext
	}
	if e.wnext != 0 {
		s.entry(e.wnext).wprev = e.wprev
	}
	e.wprev, e.wnext = 0, 0
}

// wheelDue detaches and returns the list of the next due slot, advancing
// the wheel, or 0 and false when no slot before nowTick remains.
func (s *shard) wheelDue(nowTick int64) (uint32, bool) {
	w := &s.wheel
	if w.heads == nil || s.used == 0 {
		w.tick = nowTick // nothing linked: skip ahead
		return 0, false
	}
	if nowTick-w.tick > wheelSize {
		// Long idle (or a clock jump): visiting each slot once covers every entry.
		w.tick = nowTick - wheelSize
	}
	if w.tick >= nowTick {
		return 0, false
	}
	slot := w.tick & wheelMask
	w.tick++
	head := w.heads[slot]
	w.heads[slot] = 0
	return head, true
}

// wheelRefresh records a new expiry. Later expiries only store the time (the
// entry is moved when its slot comes due); an earlier one, after a change to
// a shorter timeout, moves the entry now so it is not kept too long.
func (s *shard) wheelRefresh(idx uint32, e *connEntry, expires uint32) {
	e.expires = expires
	if int32(expires-e.wtick) < 0 {
		s.wheelRemove(idx, e)
		s.wheelAdd(idx, e)
	}
}

// expiryTick is the wheel tick at which an entry with timeout ms, refreshed
// at now, expires (rounded up: never early).
func expiryTick(now int64, timeoutMS uint32) uint32 {
	return uint32((now + int64(timeoutMS)*1e6 + Tick - 1) >> tickShift)
}
