package packet

// SCTP chunk types the engine's state machine distinguishes.
const (
	SCTPChunkData       = 0
	SCTPChunkInit       = 1
	SCTPChunkAbort      = 6
	SCTPChunkCookieEcho = 10
	SCTPChunkCookieAck  = 11
)

const sctpHeaderLen = 12

// SCTPHeader is a view of an SCTP common header.
type SCTPHeader []byte

func (s SCTPHeader) SrcPort() uint16 { return be16(s[0:]) }
func (s SCTPHeader) DstPort() uint16 { return be16(s[2:]) }
func (s SCTPHeader) VTag() uint32    { return be32(s[4:]) }

// Checksum is the CRC32c as stored (little-endian on the wire).
func (s SCTPHeader) Checksum() uint32 {
	return uint32(s[8]) | uint32(s[9])<<8 | uint32(s[10])<<16 | uint32(s[11])<<24
}

func parseSCTP(frame []byte, p *Packet) DropReason {
	off, n := p.L4Off, p.End-p.L4Off
	if n < sctpHeaderLen+4 { // common header and one chunk header
		return DropBadSCTPHeader
	}
	s := SCTPHeader(frame[off:p.End])
	p.Key.SrcPort, p.Key.DstPort = s.SrcPort(), s.DstPort()
	p.PayloadOff = off + sctpHeaderLen
	p.SCTPChunk = effectiveChunk(s[sctpHeaderLen:])
	return DropNone
}

// effectiveChunk is the chunk IPVS's SCTP state machine acts on: the
// first, or ABORT when an ABORT is bundled right after a COOKIE ECHO or
// COOKIE ACK.
func effectiveChunk(chunks []byte) uint8 {
	t := chunks[0]
	if t != SCTPChunkCookieEcho && t != SCTPChunkCookieAck {
		return t
	}
	l := int(be16(chunks[2:]))
	next := (l + 3) &^ 3
	if l >= 4 && next < len(chunks) && chunks[next] == SCTPChunkAbort {
		return SCTPChunkAbort
	}
	return t
}
