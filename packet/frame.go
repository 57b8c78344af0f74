package packet

// Frame is an Ethernet frame inside a larger buffer, with headroom in
// front of it (so encapsulation prepends headers without moving the
// payload) and tailroom after it. The data path receives into
// Space, records the length with SetLen, parses Bytes, and hands the
// Frame to Encap, which moves the start backwards into the headroom.
type Frame struct {
	buf []byte
	off int
	n   int
}

// NewFrame returns an empty frame over buf that starts headroom bytes in.
func NewFrame(buf []byte, headroom int) Frame {
	headroom = max(0, min(headroom, len(buf)))
	return Frame{buf: buf, off: headroom}
}

// FrameOver returns the frame buf[off:off+n] (off bytes of headroom),
// e.g. a frame already written into a ring slot.
func FrameOver(buf []byte, off, n int) Frame {
	off = max(0, min(off, len(buf)))
	return Frame{buf: buf, off: off, n: max(0, min(n, len(buf)-off))}
}

// Bytes returns the frame.
func (f *Frame) Bytes() []byte { return f.buf[f.off : f.off+f.n : f.off+f.n] }

// Len is the frame's length.
func (f *Frame) Len() int { return f.n }

// Headroom is the room left in front of the frame.
func (f *Frame) Headroom() int { return f.off }

// Space returns everything from the frame's start to the buffer's end: the
// area to receive or build a frame into.
func (f *Frame) Space() []byte { return f.buf[f.off:] }

// SetLen sets the frame's length; false if the buffer is too short.
func (f *Frame) SetLen(n int) bool {
	if n < 0 || f.off+n > len(f.buf) {
		return false
	}
	f.n = n
	return true
}

// Push grows the frame by n bytes at the front (taken from the headroom)
// and returns the new frame; false, unchanged, if the headroom is short.
func (f *Frame) Push(n int) ([]byte, bool) {
	if n < 0 || n > f.off {
		return nil, false
	}
	f.off -= n
	f.n += n
	return f.Bytes(), true
}

// Pull removes n bytes from the front of the frame (they become headroom).
func (f *Frame) Pull(n int) bool {
	if n < 0 || n > f.n {
		return false
	}
	f.off += n
	f.n -= n
	return true
}

// Reset empties the frame and restores the given headroom.
func (f *Frame) Reset(headroom int) { *f = NewFrame(f.buf, headroom) }
