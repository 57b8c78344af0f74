//go:build linux

package dataplane

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/packet"
	"golang.org/x/sys/unix"
)

// batchSize is how many frames a worker takes from one port per round.
const batchSize = 64

// maxSplit bounds the segments or fragments one frame is split into (a
// 64 KiB super-frame cut for a 1500-byte tunnel path needs about 50).
const maxSplit = 128

// epoch is the origin of nanotime.
var epoch = time.Now()

// nanotime is a monotonic clock in nanoseconds (vDSO, no system call).
func nanotime() int64 { return int64(time.Since(epoch)) }

// rxPort is a port a worker receives from, with the interface it reads.
type rxPort struct {
	port Port
	in   *iface
}

// worker owns one receive port per interface (on Linux a ring in that
// interface's fanout group), one send port per interface, and its engine
// handle. A worker is one goroutine; nothing it touches per packet is
// shared.
type worker struct {
	d      *Dataplane
	id     int
	ew     *ipvs.Worker
	rx     []rxPort
	tx     map[int]Port // by ifindex
	txList []Port
	hops   hopCache
	wait   func(timeoutMS int) error // blocks until a port may have frames; nil: none
	cpus   *unix.CPUSet              // when set, the CPUs the worker's thread is kept on (FanoutByCPU)
	// toldHops: the next hops this worker told the offloader, by
	// destination id (kernel scheduling, ksched.go)
	toldHops map[uint32]toldHop
	synBuf   []byte   // the SYN records being handled (drainSYNs)
	synIn    []*iface // and the interface each came in on

	frames []RxFrame
	pkts   []ipvs.Packet
	meta   []frameMeta
	gen    genBuf // buffers for frames the worker builds
	now    int64  // engine clock of the current batch

	seg    packet.Packet // a segment being encapsulated
	split  [maxSplit]packet.Frame
	splitB [maxSplit][]byte

	ipid             uint16      // outer IPv4 ids of tunnelled packets
	kenc             kencapState // kernel encapsulation of tunnelled super-frames (kencap.go)
	rxCount, txCount atomic.Uint64
	delay            delayHistogram // from the kernel's receive stamp to the worker taking the frame
	ringDrops        atomic.Uint64  // frames the kernel dropped because a ring was full
	drops            [numDrops]atomic.Uint64
	parseDrops       [packet.NumDropReasons]atomic.Uint64 // frames packet.Parse (or SetOffload) refused
	xformDrops       [packet.NumDropReasons]atomic.Uint64 // packets a transform refused
}

// frameMeta is what the worker keeps of one received frame between
// classification and the verdict.
type frameMeta struct {
	pkt int // index in the engine batch, -1 when not sent to the engine
	p   packet.Packet
}

// newWorker builds a worker over its ports; with engine, it registers an
// engine worker and can process received frames.
func (d *Dataplane) newWorker(id int, engine bool, rx []rxPort, tx map[int]Port) *worker {
	w := &worker{d: d, id: id, rx: rx, tx: tx, hops: hopCache{n: d.hops, m: map[ipvs.Addr]*nextHop{}}}
	for _, p := range tx {
		w.txList = append(w.txList, p)
	}
	if engine {
		w.ew = d.eng.NewWorker()
		w.frames = make([]RxFrame, batchSize)
		w.pkts = make([]ipvs.Packet, batchSize)
		w.meta = make([]frameMeta, batchSize)
	}
	w.gen.init(d.maxMTU())
	return w
}

func (w *worker) close() { closePorts(w.txList, w.rx) }

// closePorts closes every port once: a receive port may be a sender's too.
func closePorts(tx []Port, rx []rxPort) {
	done := map[Port]bool{}
	for _, p := range tx {
		done[p] = true
		p.Close()
	}
	for _, r := range rx {
		if !done[r.port] {
			done[r.port] = true
			r.port.Close()
		}
	}
}

// run is the worker's loop: process every port's frames in batches; when
// a round finds none, keep polling the rings without sleeping for up to
// the busy-poll window after the last frame (a packet then costs no
// wake-up), then block in poll until ctx ends.
func (w *worker) run(ctx context.Context) {
	if w.cpus != nil {
		// the thread stays where its rings' frames are received, so their
		// wake-up is local (FanoutByCPU); never unlocked: the thread ends
		// with the worker instead of going back to the runtime's pool
		// with its affinity
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, w.cpus); err != nil {
			w.d.log.Warn("worker CPU affinity", "worker", w.id, "err", err)
		}
	}
	spin := int64(w.d.cfg.BusyPoll)
	var last int64 // monotonic time of the last round that found frames
	for ctx.Err() == nil {
		got := 0
		for i := range w.rx {
			for {
				got += w.drainSYNs()
				n := w.drain(&w.rx[i])
				got += n
				if n < batchSize {
					break
				}
				// a full batch: more may be waiting on this port
			}
		}
		if w.wait == nil {
			continue
		}
		if got > 0 {
			// the rings may have more already: no poll (a system call)
			// until a round finds them empty
			if spin > 0 {
				last = nanotime()
			}
			continue
		}
		if spin > 0 && nanotime()-last < spin {
			continue
		}
		if err := w.wait(w.pollMS()); err != nil {
			w.count(dropPoll)
		}
	}
}

// drain takes up to a batch of frames from a port and handles them; it
// returns how many it took.
func (w *worker) drain(r *rxPort) int {
	n := r.port.Receive(w.frames)
	if n == 0 {
		return 0
	}
	w.rxCount.Add(uint64(n))
	if w.frames[0].Stamp != 0 { // once a batch: the stamps are wall-clock
		w.delay.observeBatch(time.Now().UnixNano(), w.frames[:n])
	}
	w.handle(r.in, n)
	r.port.Release()
	return n
}

// handle classifies the first n frames of w.frames, which came in on in,
// runs them through the engine, carries out the verdicts and flushes.
func (w *worker) handle(in *iface, n int) {
	w.now = w.d.eng.Now()
	b := 0 // engine batch size
	for i := 0; i < n; i++ {
		m := &w.meta[i]
		m.pkt = -1
		if w.classify(in, &w.frames[i], &m.p, &w.pkts[b]) {
			m.pkt = b
			b++
		}
	}
	if b > 0 {
		w.ew.Process(w.pkts[:b], w.now)
	}
	for i := 0; i < n; i++ {
		if k := w.meta[i].pkt; k >= 0 {
			w.apply(in, &w.frames[i], &w.meta[i].p, &w.pkts[k])
		}
	}
	w.flush()
	w.gen.reset()
}

// queue hands a frame (virtio-net header + Ethernet frame) to the port
// of interface ifindex.
func (w *worker) queue(ifindex int, vnetAndFrame []byte) {
	p := w.tx[ifindex]
	if p == nil {
		w.count(dropNoInterface)
		return
	}
	if err := p.Queue(vnetAndFrame); err != nil {
		w.count(dropSend)
	}
}

func (w *worker) flush() {
	for _, p := range w.txList {
		k, err := p.Flush()
		if err != nil {
			w.count(dropSend)
		}
		w.txCount.Add(uint64(k))
	}
}

func (w *worker) count(r dropReason) { w.drops[r].Add(1) }

// countParse counts a frame packet.Parse or SetOffload refused.
func (w *worker) countParse(r packet.DropReason) {
	w.parseDrops[r].Add(1)
	w.drops[dropMalformed].Add(1)
}

// countRefused counts a packet a transform refused.
func (w *worker) countRefused(r packet.DropReason) { w.xformDrops[r].Add(1) }

// Workers returns the number of packet workers.
func (d *Dataplane) Workers() int { return len(d.workers) }

// WorkerPackets returns frames received and sent per worker.
func (d *Dataplane) WorkerPackets() (rx, tx []uint64) {
	for _, w := range d.workers {
		rx = append(rx, w.rxCount.Load())
		tx = append(tx, w.txCount.Load())
	}
	return rx, tx
}

// Drops returns the data path's drop counters by reason (the engine's own
// are reported by the engine): the data path's reasons (dropReason),
// frames package packet refused to parse ("malformed", and per reason
// "malformed_<reason>"), and packets a transform refused (packet's reason
// names: "ttl_exceeded", "too_big", ...).
func (d *Dataplane) Drops() map[string]uint64 {
	out := map[string]uint64{}
	for _, w := range d.workers {
		for _, r := range w.rx {
			if k, ok := r.port.(kernelDropper); ok {
				w.ringDrops.Add(k.kernelDrops())
			}
		}
		out["ring_full"] += w.ringDrops.Load()
	}
	for _, w := range append(d.workers[:len(d.workers):len(d.workers)], d.ctrl) {
		if w == nil {
			continue
		}
		for r := dropReason(0); r < numDrops; r++ {
			if v := w.drops[r].Load(); v > 0 {
				out[r.String()] += v
			}
		}
		for r := packet.DropReason(1); r < packet.NumDropReasons; r++ {
			if v := w.parseDrops[r].Load(); v > 0 {
				out["malformed_"+r.String()] += v
			}
			if v := w.xformDrops[r].Load(); v > 0 {
				out[r.String()] += v
			}
		}
	}
	if v := d.hops.heldDropped.Load(); v > 0 {
		out[dropNoNextHop.String()] += v
	}
	if d.off != nil {
		if v := d.off.fp.Errors(); v > 0 {
			out["fastpath_rewrite_failed"] = v // a kernel helper refused a rewrite
		}
	}
	return out
}
