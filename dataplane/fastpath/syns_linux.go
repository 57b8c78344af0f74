//go:build linux

package fastpath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SYNRing reads the records the fast path's program writes for the SYNs it
// schedules (synRecord): the interface the SYN came in on, the
// destination of the slot it took and the frame. It reads the BPF ring
// buffer's memory directly, so an empty ring costs two loads and a
// record no system call. One reader at a time: the caller serialises.
type SYNRing struct {
	cons, prod []byte // the consumer page; the producer page and the data, mapped twice
	consPos    *uint64
	prodPos    *uint64
	data       []byte
	mask       uint64
}

// SYN is one record: the interface, the slot's destination and the
// frame's length in the buffer given to Next.
type SYN struct {
	Ifindex int
	Dest    uint32
	Len     int
}

// The ring buffer's record header (struct bpf_ringbuf_hdr): the length
// with two flag bits, then the page offset.
const (
	rbHdrLen     = 8
	rbBusyBit    = 1 << 31
	rbDiscardBit = 1 << 30
)

// SYNRing maps the SYN record ring for reading.
func (fp *FastPath) SYNRing() (*SYNRing, error) {
	page := os.Getpagesize()
	size := int(fp.syns.MaxEntries())
	cons, err := unix.Mmap(fp.syns.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("fastpath: map the SYN ring's consumer page: %w", err)
	}
	prod, err := unix.Mmap(fp.syns.FD(), int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		_ = unix.Munmap(cons)
		return nil, fmt.Errorf("fastpath: map the SYN ring's data: %w", err)
	}
	return &SYNRing{
		cons: cons, prod: prod,
		consPos: (*uint64)(unsafe.Pointer(&cons[0])),
		prodPos: (*uint64)(unsafe.Pointer(&prod[0])),
		data:    prod[page:],
		mask:    uint64(size - 1),
	}, nil
}

// Pending reports whether records may be waiting.
func (r *SYNRing) Pending() bool {
	return atomic.LoadUint64(r.prodPos) != atomic.LoadUint64(r.consPos)
}

// Next copies the next record's frame into buf (at least SYNFrameMax
// bytes) and returns the record; false when no committed record is left.
// A record still being written ends the read: its SYN has not left yet.
// A record it cannot read (none is expected: the program writes them all
// alike) comes back with Len 0, for the caller to count.
func (r *SYNRing) Next(buf []byte) (SYN, bool) {
	for {
		prod := atomic.LoadUint64(r.prodPos)
		cons := atomic.LoadUint64(r.consPos)
		if prod == cons {
			return SYN{}, false
		}
		at := cons & r.mask
		// the length word is read atomically: the kernel clears the busy
		// bit with an exchange after the data is written
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[at])))
		if hdr&rbBusyBit != 0 {
			return SYN{}, false
		}
		n := uint64(hdr &^ (rbBusyBit | rbDiscardBit))
		next := cons + rbHdrLen + (n+7)&^7
		if next > prod {
			return SYN{}, false // cannot happen with a committed header; read again later
		}
		if hdr&rbDiscardBit != 0 {
			atomic.StoreUint64(r.consPos, next)
			continue
		}
		var s SYN
		if end := at + rbHdrLen + n; n >= recFrame && end <= uint64(len(r.data)) {
			rec := r.data[at+rbHdrLen : end] // contiguous: the data is mapped twice
			s = SYN{Ifindex: int(ne32(rec[recIfindex:])), Dest: ne32(rec[recDest:]), Len: int(ne32(rec[recLen:]))}
			if s.Len > 0 && s.Len <= SYNFrameMax && recFrame+s.Len <= len(rec) && s.Len <= len(buf) {
				copy(buf, rec[recFrame:recFrame+s.Len])
			} else {
				s.Len = 0
			}
		}
		atomic.StoreUint64(r.consPos, next)
		return s, true
	}
}

// Close unmaps the ring.
func (r *SYNRing) Close() error {
	if r.cons == nil {
		return nil
	}
	err := errors.Join(unix.Munmap(r.prod), unix.Munmap(r.cons))
	r.cons, r.prod, r.data = nil, nil, nil
	return err
}

func ne32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }
