//go:build linux

package dataplane

import (
	"context"
	"sync/atomic"

	"github.com/govs/gvs/dataplane/afpacket"
	"github.com/govs/gvs/ipvs"
	"golang.org/x/sys/unix"
)

// batchSize is how many frames a worker takes from one ring per round.
const batchSize = 64

// worker owns one ring per interface (a member of that interface's fanout
// group), one sender per interface, and its engine handle. A worker is one
// goroutine; nothing it touches per packet is shared.
type worker struct {
	d       *Dataplane
	id      int
	ew      *ipvs.Worker
	rings   []*afpacket.Ring
	ringIf  []*iface // the interface each ring reads
	senders map[int]*afpacket.Sender
	hops    hopCache
	fds     []unix.PollFd

	frames []afpacket.Frame
	pkts   []ipvs.Packet
	meta   []frameMeta
	gen    genBuf // buffers for packets the worker builds (ARP, ICMP, resets, segments)

	ipid      uint16 // outer IPv4 ids of tunnelled packets
	rx, tx    atomic.Uint64
	ringDrops atomic.Uint64 // frames the kernel dropped because a ring was full
	drops     [numDrops]atomic.Uint64
}

func (d *Dataplane) newWorker(id int, receive bool) (*worker, error) {
	w := &worker{d: d, id: id, senders: map[int]*afpacket.Sender{}, hops: hopCache{n: d.hops, m: map[ipvs.Addr]*nextHop{}}}
	if receive {
		w.ew = d.eng.NewWorker()
		w.frames = make([]afpacket.Frame, batchSize)
		w.pkts = make([]ipvs.Packet, batchSize)
		w.meta = make([]frameMeta, batchSize)
	}
	w.gen.init()
	if receive {
		rx := d.ifs
		if d.lo != nil {
			rx = append(rx[:len(rx):len(rx)], d.lo)
		}
		for _, x := range rx {
			r, err := afpacket.Open(afpacket.Config{Ifindex: x.index, FanoutGroup: fanoutGroup(x.index)})
			if err != nil {
				w.close()
				return nil, err
			}
			w.rings = append(w.rings, r)
			w.ringIf = append(w.ringIf, x)
			w.fds = append(w.fds, unix.PollFd{Fd: int32(r.Fd()), Events: unix.POLLIN})
		}
	}
	for _, x := range d.ifs {
		s, err := afpacket.NewSender(x.index, 2*batchSize)
		if err != nil {
			w.close()
			return nil, err
		}
		w.senders[x.index] = s
	}
	return w, nil
}

func (w *worker) close() {
	for _, r := range w.rings {
		r.Close()
	}
	for _, s := range w.senders {
		s.Close()
	}
}

// run is the worker's loop: wait for frames, process them ring by ring in
// batches, until ctx ends.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		for i := range w.fds {
			w.fds[i].Revents = 0
		}
		if _, err := unix.Poll(w.fds, 100); err != nil && err != unix.EINTR {
			w.count(dropPoll)
			continue
		}
		for i, r := range w.rings {
			for w.drain(r, w.ringIf[i]) == batchSize {
				// a full batch: more may be waiting on this ring
			}
		}
	}
}

// drain takes up to a batch of frames from r and handles them; it returns
// how many it took.
func (w *worker) drain(r *afpacket.Ring, in *iface) int {
	n := 0
	for n < batchSize && r.Next(&w.frames[n]) {
		n++
	}
	if n == 0 {
		return 0
	}
	w.rx.Add(uint64(n))
	now := w.d.eng.Now()
	b := 0 // engine batch size
	for i := 0; i < n; i++ {
		if w.classify(in, &w.frames[i], &w.meta[i], &w.pkts[b]) {
			w.meta[i].pkt = b
			b++
		} else {
			w.meta[i].pkt = -1
		}
	}
	if b > 0 {
		w.ew.Process(w.pkts[:b], now)
	}
	for i := 0; i < n; i++ {
		if p := w.meta[i].pkt; p >= 0 {
			w.apply(in, &w.frames[i], &w.meta[i], &w.pkts[p])
		}
	}
	w.flush()
	for i := 0; i < n; i++ {
		r.Release(&w.frames[i])
	}
	w.gen.reset()
	return n
}

// queue hands a frame (virtio-net header + Ethernet frame) to the sender
// of interface ifindex.
func (w *worker) queue(ifindex int, vnetAndFrame []byte) {
	s := w.senders[ifindex]
	if s == nil {
		w.count(dropNoInterface)
		return
	}
	if err := s.Queue(vnetAndFrame); err != nil {
		w.count(dropSend)
	}
}

func (w *worker) flush() {
	for _, s := range w.senders {
		if k := s.Pending(); k > 0 {
			if err := s.Flush(); err != nil {
				w.count(dropSend)
			}
			w.tx.Add(uint64(k))
		}
	}
}

func (w *worker) count(r dropReason) { w.drops[r].Add(1) }

// Workers returns the number of packet workers.
func (d *Dataplane) Workers() int { return len(d.workers) }

// WorkerPackets returns frames received and sent per worker.
func (d *Dataplane) WorkerPackets() (rx, tx []uint64) {
	for _, w := range d.workers {
		rx = append(rx, w.rx.Load())
		tx = append(tx, w.tx.Load())
	}
	return rx, tx
}

// Drops returns the data path's drop counters by reason (the engine's own
// are reported by the engine).
func (d *Dataplane) Drops() map[string]uint64 {
	out := map[string]uint64{}
	for _, w := range d.workers {
		for _, r := range w.rings {
			if _, dropped, err := r.Stats(); err == nil {
				w.ringDrops.Add(uint64(dropped)) // the kernel resets its counter on read
			}
		}
		out["ring_full"] += w.ringDrops.Load()
	}
	for _, w := range append(d.workers, d.ctrl) {
		for r := dropReason(0); r < numDrops; r++ {
			if v := w.drops[r].Load(); v > 0 {
				out[r.String()] += v
			}
		}
	}
	return out
}
