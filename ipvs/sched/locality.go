package sched

import (
	"github.com/govs/gvs/ipvs"
)

// What lblc and lblcr share (ip_vs_lblc.c and ip_vs_lblcr.c keep two
// copies of the same table code): a hash table of entries keyed by the
// packet's destination address, its garbage collection on a 60-second
// timer, and the rule that decides a cached server is too busy.

const (
	locTabBits = 10 // CONFIG_IP_VS_LBLC_TAB_BITS, CONFIG_IP_VS_LBLCR_TAB_BITS (defaults; not in Debian's config)
	locTabSize = 1 << locTabBits
	locTabMask = locTabSize - 1
	// locMaxSize is tbl->max_size: past it the timer evicts idle entries.
	locMaxSize = locTabSize * 16

	second = int64(1e9)
	// locCheckInterval is CHECK_EXPIRE_INTERVAL, the garbage collector's period.
	locCheckInterval = 60 * second
	// locEntryTimeout is ENTRY_TIMEOUT: idle time after which an entry may
	// be evicted when the table is over locMaxSize.
	locEntryTimeout = 6 * 60 * second
	// locExpiration is DEFAULT_EXPIRATION, the default of the sysctls
	// lblc_expiration and lblcr_expiration (the engine has no knob for
	// them): lblc forgets entries unused that long at its full checks;
	// lblcr also drops the busiest server from a set unchanged that long.
	locExpiration = 24 * 3600 * second
	// locFullCheckEvery is COUNT_FOR_FULL_EXPIRATION: every 30th timer run
	// (half an hour) is a full expiration check.
	locFullCheckEvery = 30
)

// locEntry is struct ip_vs_lblc_entry or struct ip_vs_lblcr_entry.
type locEntry struct {
	addr    ipvs.Addr
	bucket  uint32
	lastuse int64
	dest    *ipvs.Dest   // lblc: the cached server
	set     []*ipvs.Dest // lblcr: the server set, newest first (list_add_rcu)
	lastmod int64        // lblcr: when the set last gained or lost a server
}

// locTable is struct ip_vs_lblc_table / ip_vs_lblcr_table. Its users
// serialize on the service lock (the kernel's sched_lock).
type locTable struct {
	buckets   [locTabSize][]*locEntry // each bucket newest first (hlist_add_head_rcu)
	entries   int
	rover     int
	counter   int
	armed     bool
	nextCheck int64
}

func newLocTable() *locTable { return &locTable{counter: 1} }

// locBucket is ip_vs_lblc_hashkey / ip_vs_lblcr_hashkey.
func locBucket(a *ipvs.Addr, fam ipvs.Family) uint32 {
	return hash32(foldAddr(a, fam, fam), locTabBits)
}

func (t *locTable) get(a *ipvs.Addr, fam ipvs.Family) *locEntry {
	for _, en := range t.buckets[locBucket(a, fam)] {
		if en.addr == *a {
			return en
		}
	}
	return nil
}

func (t *locTable) add(en *locEntry, fam ipvs.Family) {
	en.bucket = locBucket(&en.addr, fam)
	b := t.buckets[en.bucket]
	t.buckets[en.bucket] = append(append(make([]*locEntry, 0, len(b)+1), en), b...)
	t.entries++
}

func (t *locTable) del(en *locEntry) {
	b := t.buckets[en.bucket]
	for i, x := range b {
		if x == en {
			t.buckets[en.bucket] = append(b[:i:i], b[i+1:]...)
			t.entries--
			return
		}
	}
}

// expire is the periodic timer (ip_vs_lblc_check_expire /
// ip_vs_lblcr_check_expire), run from the engine's housekeeping ticks: the
// kernel arms it when the service is created and re-arms it 60 s after each
// run; here it is armed by the first tick. Every 30th run removes every
// entry unused for expiration; the others do nothing while the table holds
// at most locMaxSize entries, and otherwise walk the buckets from the rover
// evicting entries idle for locEntryTimeout until (entries - max) * 4/3
// (at most max/2) are gone.
func (t *locTable) expire(now, expiration int64) {
	if !t.armed {
		t.armed, t.nextCheck = true, now+locCheckInterval
		return
	}
	if now < t.nextCheck {
		return
	}
	t.nextCheck = now + locCheckInterval
	if t.counter%locFullCheckEvery == 0 {
		t.sweep(func(en *locEntry) bool { return now >= en.lastuse+expiration }, 0, false)
		t.counter = 1
		return
	}
	if t.entries <= locMaxSize {
		t.counter++
		return
	}
	goal := (t.entries - locMaxSize) * 4 / 3
	if goal > locMaxSize/2 {
		goal = locMaxSize / 2
	}
	t.sweep(func(en *locEntry) bool { return now >= en.lastuse+locEntryTimeout }, goal, true)
}

// sweep walks every bucket once starting after the rover, deleting the
// entries stale says so; when limited it stops after the bucket in which
// goal deletions were reached. The rover ends on the last bucket visited.
func (t *locTable) sweep(stale func(*locEntry) bool, goal int, limited bool) {
	j := t.rover
	for i := 0; i < locTabSize; i++ {
		j = (j + 1) & locTabMask
		b := t.buckets[j]
		kept := b[:0]
		for _, en := range b {
			if stale(en) {
				t.entries--
				goal--
				continue
			}
			kept = append(kept, en)
		}
		clear(b[len(kept):])
		t.buckets[j] = kept
		if limited && goal <= 0 {
			break
		}
	}
	t.rover = j
}

// rebind points entries that still reference a deleted destination at the
// destination re-added with the same address and port. The kernel keeps a
// deleted destination that a cache entry references in its trash and
// returns that same object when the server is added back, so the entry is
// valid again; the engine reuses a deleted destination only while
// connections use it, otherwise it creates a new one, which this maps back.
func (t *locTable) rebind(list []*ipvs.Dest) {
	current := func(d *ipvs.Dest) *ipvs.Dest {
		if d.Available() {
			return nil
		}
		for _, x := range list {
			if x != d && x.Addr() == d.Addr() && x.Port() == d.Port() {
				return x
			}
		}
		return nil
	}
	for _, b := range t.buckets {
		for _, en := range b {
			if en.dest != nil {
				if x := current(en.dest); x != nil {
					en.dest = x
				}
			}
			for i := 0; i < len(en.set); i++ {
				x := current(en.set[i])
				if x == nil {
					continue
				}
				if position(en.set, x, -1) >= 0 {
					en.set = append(en.set[:i:i], en.set[i+1:]...)
					i--
				} else {
					en.set[i] = x
				}
			}
		}
	}
}

// localityOverloaded is is_overloaded of lblc and lblcr: the server has
// more active connections than its weight while some server of the service
// has fewer than half its weight active (the cache entry then moves).
func localityOverloaded(d *ipvs.Dest, svc *ipvs.Service) bool {
	if d.ActiveConns() > d.Weight() {
		for _, o := range svc.Dests() {
			if o.ActiveConns()*2 < o.Weight() {
				return true
			}
		}
	}
	return false
}
