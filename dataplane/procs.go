package dataplane

import (
	"os"
	"runtime"
	"sync"
)

// A packet worker that finds its rings empty blocks in ppoll, a system
// call, and the Go runtime counts its P as busy meanwhile. With one P per
// CPU (the default GOMAXPROCS) and a worker per CPU, every P is then in a
// system call and none is idle, so the runtime's monitor thread (sysmon)
// takes each sleeping worker's P away after 20 µs and keeps waking every
// 20 µs to do it again: 8–13 % of gvsd's CPU in the connection load's
// profiles, plus the P's hand-back when the worker wakes. Each running
// data path therefore adds one P per worker that blocks, so the other
// goroutines always find an idle P and a sleeping worker keeps its own.
// An operator's GOMAXPROCS setting is left as it is.
var procs struct {
	sync.Mutex
	base, extra int // GOMAXPROCS before any reservation; the Ps added
}

// baseProcs is GOMAXPROCS without the data paths' reservations: the
// default worker count.
func baseProcs() int {
	procs.Lock()
	defer procs.Unlock()
	if procs.extra > 0 {
		return procs.base
	}
	return runtime.GOMAXPROCS(0)
}

// reserveProcs adds n Ps for as long as the returned function is not
// called (it may be called more than once).
func reserveProcs(n int) (release func()) {
	if n <= 0 || os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	procs.Lock()
	defer procs.Unlock()
	if procs.extra == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.extra += n
	runtime.GOMAXPROCS(procs.base + procs.extra)
	return sync.OnceFunc(func() {
		procs.Lock()
		defer procs.Unlock()
		procs.extra -= n
		runtime.GOMAXPROCS(procs.base + procs.extra)
	})
}
