package dataplane

// Port is one interface's packet I/O as a worker sees it: batches of
// received frames, each with its virtio-net header in front, and a send
// batch of frames with theirs. The AF_PACKET rings (afport_linux.go) are
// the production implementation; the tests use an in-memory one. A Port
// belongs to one worker: none of its methods is called concurrently.
type Port interface {
	// Receive takes up to len(frames) received frames, without blocking,
	// and returns how many. They stay valid until Release.
	Receive(frames []RxFrame) int
	// Release gives back every frame of the last Receive (after the
	// frames queued from them were flushed).
	Release()
	// Queue adds a frame to the send batch: a virtio-net header
	// (packet.VnetHeaderLen bytes) and the Ethernet frame. The bytes must
	// stay untouched until Flush returns. A receive-only port refuses.
	Queue(vnetAndFrame []byte) error
	// Flush sends the batch; it returns how many frames the batch held.
	Flush() (int, error)
	Close() error
}

// RxFrame is one received frame in its port's buffer:
// Buf = [headroom | virtio-net header | Ethernet frame | tailroom]. The
// headroom lets tunnel encapsulation prepend headers in place.
type RxFrame struct {
	Buf  []byte
	Off  int // the Ethernet frame is Buf[Off:Off+Len]; its virtio-net header the 10 bytes before
	Len  int
	Orig int // length on the wire; Len < Orig: the port truncated the frame
	// Stamp is when the kernel received the frame, in nanoseconds since
	// the Unix epoch (0: the port does not say).
	Stamp int64
	// KernelDest is, for a SYN the kernel scheduled and forwarded already
	// (a record of the fast path's SYN ring, ksched.go), the destination
	// it chose; 0 for a received frame.
	KernelDest uint32
}

// Data returns the Ethernet frame.
func (f *RxFrame) Data() []byte { return f.Buf[f.Off : f.Off+f.Len] }

// Vnet returns the virtio-net header bytes.
func (f *RxFrame) Vnet() []byte { return f.Buf[f.Off-vnetLen : f.Off] }

// kernelDropper is a Port whose kernel side counts frames it dropped
// because the worker was too slow (a full ring).
type kernelDropper interface {
	kernelDrops() uint64
}

// localSink delivers IP packets (virtio-net header + IP packet) to the
// director's own stack: the TUN device gvs0 on Linux.
type localSink interface {
	write(vnetAndPacket []byte) error
}
