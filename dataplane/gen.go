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
	genHeadroom = 128 // room to prepend tunnel headers in place
	genFrameOff = genHeadroom + vnetLen
	// genMaxMTU bounds a buffer's frame (jumbo frames are at most about
	// 9216 bytes); a larger MTU's full-size frames are refused and counted
	// (buffer_too_small) rather than costing every worker megabytes.
	genMaxMTU = 9216
)

// genSize is a buffer's size for interfaces of at most mtu bytes: an
// Ethernet frame with a VLAN tag at that MTU, after the headroom.
func genSize(mtu int) int {
	size := genFrameOff + 18 + min(max(mtu, 1500), genMaxMTU)
	return (size + 63) &^ 63
}

// init allocates the buffers for interfaces of at most mtu bytes.
func (g *genBuf) init(mtu int) {
	size := genSize(mtu)
	mem := make([]byte, genBufs*size)
	g.bufs = make([][]byte, genBufs)
	for i := range g.bufs {
		g.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
}

// maxMTU is the largest MTU of the interfaces the data path sends on.
func (d *Dataplane) maxMTU() int {
	mtu := 0
	for _, x := range d.ifs {
		mtu = max(mtu, x.mtu)
	}
	return mtu
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
