package packet

const (
	udpHeaderLen = 8
	udpCsumOff   = 6
)

// UDPHeader is a view of a UDP header.
type UDPHeader []byte

func (u UDPHeader) SrcPort() uint16  { return be16(u[0:]) }
func (u UDPHeader) DstPort() uint16  { return be16(u[2:]) }
func (u UDPHeader) Length() int      { return int(be16(u[4:])) }
func (u UDPHeader) Checksum() uint16 { return be16(u[6:]) }

func parseUDP(frame []byte, p *Packet) DropReason {
	off, n := p.L4Off, p.End-p.L4Off
	if n < udpHeaderLen {
		return DropBadUDPLength
	}
	u := UDPHeader(frame[off:p.End])
	if !p.Frag.IsFragment() {
		// a shorter length leaves trailing bytes, which the kernel trims;
		// a longer one (or a jumbogram's 0) is malformed
		l := u.Length()
		if l < udpHeaderLen || l > n {
			return DropBadUDPLength
		}
	}
	p.Key.SrcPort, p.Key.DstPort = u.SrcPort(), u.DstPort()
	p.PayloadOff = off + udpHeaderLen
	p.payloadLen = p.End - p.PayloadOff
	if !p.Frag.IsFragment() {
		p.payloadLen = u.Length() - udpHeaderLen
	}
	return DropNone
}
