//go:build linux

package dataplane

import (
	"errors"
	"maps"
	"slices"

	"github.com/govs/gvs/dataplane/afpacket"
	"golang.org/x/sys/unix"
)

// afPort is the production Port: a TPACKET_V2 receive ring in its
// interface's fanout group and a PACKET_QDISC_BYPASS sender flushed with
// sendmmsg. Either may be absent (lo is receive-only; the control
// worker only sends).
type afPort struct {
	ring   *afpacket.Ring
	sender *afpacket.Sender
	held   []afpacket.Frame // frames of the last Receive, released in order
}

var errReceiveOnly = errors.New("dataplane: receive-only port")

func (p *afPort) Receive(frames []RxFrame) int {
	if p.ring == nil {
		return 0
	}
	if cap(p.held) < len(frames) {
		p.held = make([]afpacket.Frame, len(frames))
	}
	p.held = p.held[:0]
	var f afpacket.Frame
	n := 0
	for n < len(frames) && p.ring.Next(&f) {
		p.held = append(p.held, f)
		frames[n] = RxFrame{Buf: f.Buf, Off: f.Off, Len: f.Len, Orig: f.Orig, Stamp: f.Stamp}
		n++
	}
	return n
}

func (p *afPort) Release() {
	for i := range p.held {
		p.ring.Release(&p.held[i])
	}
	p.held = p.held[:0]
}

func (p *afPort) Queue(b []byte) error {
	if p.sender == nil {
		return errReceiveOnly
	}
	return p.sender.Queue(b)
}

// QueueMark queues a frame on a marking sender (NewMarkSender).
func (p *afPort) QueueMark(b []byte, mark uint32) error {
	if p.sender == nil {
		return errReceiveOnly
	}
	return p.sender.QueueMark(b, mark)
}

func (p *afPort) Flush() (int, error) {
	if p.sender == nil {
		return 0, nil
	}
	k := p.sender.Pending()
	if k == 0 {
		return 0, nil
	}
	return k, p.sender.Flush()
}

func (p *afPort) kernelDrops() uint64 {
	if p.ring == nil {
		return 0
	}
	if _, dropped, err := p.ring.Stats(); err == nil {
		return uint64(dropped) // the kernel resets its counter on read
	}
	return 0
}

func (p *afPort) Close() error {
	var err error
	if p.ring != nil {
		err = p.ring.Close()
	}
	if p.sender != nil {
		err = errors.Join(err, p.sender.Close())
	}
	return err
}

// ringProtocols are the EtherTypes a worker receives, a ring each: bound
// to one protocol, a packet socket receives after TC ingress, so the
// frames the kernel fast path forwards there never reach gvsd's rings
// (an ETH_P_ALL tap would see, and cost, every one). ARP is for the VIPs
// gvsd answers for; lo carries no ARP.
var ringProtocols = []struct {
	proto  uint16
	frames int // ring slots (0: the default, room for GSO super-frames)
	size   int // their size
	loop   bool
}{
	{proto: unix.ETH_P_IP, loop: true},
	{proto: unix.ETH_P_IPV6, loop: true},
	{proto: unix.ETH_P_ARP, frames: 64, size: 4096},
}

// openWorker creates a worker on AF_PACKET ports: with receive, rings on
// every attached interface (and lo for local clients), one per protocol
// of ringProtocols, each in its interface's and protocol's fanout group;
// a sender on every attached interface.
func (d *Dataplane) openWorker(id int, receive bool) (*worker, error) {
	var rx []rxPort
	tx := map[int]Port{}
	var fds []unix.PollFd
	fail := func(err error) (*worker, error) {
		// the first ring of an interface shares its sender's port
		closePorts(slices.Collect(maps.Values(tx)), rx)
		return nil, err
	}
	ports := map[int]*afPort{}
	for _, x := range d.ifs {
		s, err := afpacket.NewSender(x.index, 2*batchSize)
		if err != nil {
			return fail(err)
		}
		p := &afPort{sender: s}
		ports[x.index] = p
		tx[x.index] = p
	}
	if receive {
		list := d.ifs
		if d.lo != nil {
			list = append(list[:len(list):len(list)], d.lo)
		}
		for _, x := range list {
			for i, rp := range ringProtocols {
				if x.loop && !rp.loop {
					continue
				}
				r, err := afpacket.Open(afpacket.Config{Ifindex: x.index, Protocol: rp.proto, Frames: rp.frames, FrameSize: rp.size,
					FanoutGroup: fanoutGroup(x.index, rp.proto), FanoutByCPU: d.cfg.Fanout == FanoutByCPU, FanoutFD: d.fanoutFD()})
				if err != nil {
					return fail(err)
				}
				// the first ring of an attached interface joins its
				// sender's port; the others, and lo's, are ports of their own
				p := ports[x.index]
				if p == nil || x.loop || i > 0 {
					p = &afPort{}
				}
				p.ring = r
				rx = append(rx, rxPort{port: p, in: x})
				fds = append(fds, unix.PollFd{Fd: int32(r.Fd()), Events: unix.POLLIN})
			}
		}
	}
	w := d.newWorker(id, receive, rx, tx)
	if receive && d.cfg.Fanout == FanoutByCPU {
		if w.cpus = workerCPUs(id, d.cfg.Workers); w.cpus == nil {
			d.log.Warn("fanout cpu: none of the CPUs whose frames go to this worker is one gvsd may run on (more workers than CPUs?); its thread is not kept on a CPU", "worker", id)
		}
	}
	if receive && d.kenc != nil {
		// senders through the TC egress layer, for the kernel's IPIP
		// encapsulation of super-frames; flushed with the others
		// (without them this worker segments super-frames itself)
		kenc := kencapState{tx: map[int]markPort{}}
		var err error
		for _, x := range d.ifs {
			var s *afpacket.Sender
			if s, err = afpacket.NewMarkSender(x.index, 2*batchSize); err != nil {
				break
			}
			kenc.tx[x.index] = &afPort{sender: s}
		}
		if err != nil {
			d.log.Warn("kernel encapsulation of tunnelled super-frames unavailable for a worker", "worker", id, "err", err)
			for _, p := range kenc.tx {
				p.Close()
			}
		} else {
			w.kenc = kenc
			for _, p := range kenc.tx {
				w.txList = append(w.txList, p)
			}
		}
	}
	if len(fds) > 0 {
		w.wait = func(timeoutMS int) error {
			for i := range fds {
				fds[i].Revents = 0
			}
			_, err := unix.Poll(fds, timeoutMS)
			if err == unix.EINTR {
				return nil
			}
			return err
		}
	}
	return w, nil
}

// workerCPUs is the set of CPUs whose frames PACKET_FANOUT_CPU steers to
// worker id of n (CPU number modulo n), within the CPUs this process may
// run on; nil when none of them is allowed.
func workerCPUs(id, n int) *unix.CPUSet {
	var allowed, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil
	}
	for c := id; c < len(allowed)*64; c += n {
		if allowed.IsSet(c) {
			set.Set(c)
		}
	}
	if set.Count() == 0 {
		return nil
	}
	return &set
}
