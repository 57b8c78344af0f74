package dataplane

import "github.com/govs/gvs/packet"

// vnetLen is the virtio-net header in front of every frame on GVS's
// packet sockets and TUN device.
const vnetLen = packet.VnetHeaderLen

// genBuf holds the frames a worker builds itself (ARP and neighbour
// answers, ICMP errors, segments of super-frames it must split, IP
// fragments). Each buffer is [headroom | virtio-net header | frame]; all
// are reusable once the batch has been sent.
type genBuf struct {
	bufs [][]byte
	n    int
}

const (
	genBufs     = 512
	genSize     = 2048
	genHeadroom = 128 // room to prepend tunnel headers in place
	genFrameOff = genHeadroom + vnetLen
)

func (g *genBuf) init() {
	mem := make([]byte, genBufs*genSize)
	g.bufs = make([][]byte, genBufs)
	for i := range g.bufs {
		g.bufs[i] = mem[i*genSize : (i+1)*genSize : (i+1)*genSize]
	}
}

// get returns a buffer (the frame goes at genFrameOff), or nil when every
// buffer is in use until the next flush.
func (g *genBuf) get() []byte {
	if g.n == len(g.bufs) {
		return nil
	}
	b := g.bufs[g.n]
	g.n++
	return b
}

func (g *genBuf) free() int { return len(g.bufs) - g.n }

func (g *genBuf) reset() { g.n = 0 }
