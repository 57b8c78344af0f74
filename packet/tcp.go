package packet

// TCP flag bits (the 13th header byte).
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

const tcpCsumOff = 16

// TCPHeader is a view of a TCP header.
type TCPHeader []byte

func (t TCPHeader) SrcPort() uint16  { return be16(t[0:]) }
func (t TCPHeader) DstPort() uint16  { return be16(t[2:]) }
func (t TCPHeader) Seq() uint32      { return be32(t[4:]) }
func (t TCPHeader) Ack() uint32      { return be32(t[8:]) }
func (t TCPHeader) DataOffset() int  { return int(t[12]>>4) * 4 }
func (t TCPHeader) Flags() uint8     { return t[13] }
func (t TCPHeader) Window() uint16   { return be16(t[14:]) }
func (t TCPHeader) Checksum() uint16 { return be16(t[16:]) }

func parseTCP(frame []byte, p *Packet) DropReason {
	off, n := p.L4Off, p.End-p.L4Off
	if n < 20 {
		return DropBadTCPHeader
	}
	t := TCPHeader(frame[off:p.End])
	doff := t.DataOffset()
	if doff < 20 || doff > n {
		return DropBadTCPHeader
	}
	p.Key.SrcPort, p.Key.DstPort = t.SrcPort(), t.DstPort()
	p.TCPFlags = t.Flags()
	p.PayloadOff = off + doff
	return DropNone
}
