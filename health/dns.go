package health

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/govs/gvs/config"
)

// DNSChecker asks one question (recursion desired, class IN) over UDP or
// TCP (two-byte length prefix, RFC 1035 4.2.2). The server is up when the
// reply has the query's ID and question, is a response, and has RCODE 0
// (NOERROR), as keepalived's DNS_CHECK requires; with Expect, one answer
// record of the asked type, rendered as text (see RenderRR), must also
// contain Expect (compared case-insensitively). A truncated UDP reply is
// asked again over TCP when its answers are needed.
type DNSChecker struct {
	Name   string // e.g. "www.example.com" ("." is the root)
	Type   uint16
	Expect string
	TCP    bool
}

// DNS record types the checker can ask for and render.
var dnsTypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
}

func newDNSChecker(c *config.Check) (Checker, error) {
	if c.DNS == nil {
		return nil, errors.New("a dns check needs a dns block (name, type, expect)")
	}
	d := &DNSChecker{Name: c.DNS.Name, Expect: c.DNS.Expect, TCP: c.DNS.TCP}
	t := strings.ToUpper(c.DNS.Type)
	if t == "" {
		t = "A"
	}
	var ok bool
	if d.Type, ok = dnsTypes[t]; !ok {
		return nil, fmt.Errorf("dns.type %q unknown (want A, AAAA, TXT, MX, SOA, NS, CNAME, PTR or SRV)", c.DNS.Type)
	}
	if d.Name == "" {
		return nil, errors.New("dns.name is required")
	}
	if _, err := appendName(nil, d.Name); err != nil {
		return nil, fmt.Errorf("dns.name: %v", err)
	}
	return d, nil
}

// Check implements Checker.
func (d *DNSChecker) Check(ctx context.Context, e Endpoint) Result {
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q, err := BuildQuery(id, d.Name, d.Type)
	if err != nil {
		return internal(err)
	}
	var msg *DNSMessage
	if d.TCP {
		msg, err = dnsTCP(ctx, e, q)
	} else {
		msg, err = dnsUDP(ctx, e, q, id)
		if err == nil && msg.Truncated && d.Expect != "" {
			msg, err = dnsTCP(ctx, e, q)
		}
	}
	if err != nil {
		return netResult(err)
	}
	if msg.ID != id || !msg.Response {
		return downf("reply is not an answer to the query")
	}
	if msg.QName != "" && (msg.QType != d.Type ||
		!strings.EqualFold(strings.TrimSuffix(msg.QName, "."), strings.TrimSuffix(d.Name, "."))) {
		return downf("reply answers another question (%s type %d)", msg.QName, msg.QType)
	}
	if msg.RCode != 0 {
		return downf("RCODE %d (%s)", msg.RCode, rcodeName(msg.RCode))
	}
	if d.Expect == "" {
		return up()
	}
	want := strings.ToLower(d.Expect)
	var got []string
	for _, rr := range msg.Answers {
		if rr.Type != d.Type {
			continue
		}
		got = append(got, rr.Text)
		if strings.Contains(strings.ToLower(rr.Text), want) {
			return up()
		}
	}
	if len(got) == 0 {
		return downf("no answer of the asked type (want one containing %q)", d.Expect)
	}
	return downf("no answer contains %q (got %s)", d.Expect, truncate(strings.Join(got, "; "), 200))
}

func dnsUDP(ctx context.Context, e Endpoint, q []byte, id uint16) (*DNSMessage, error) {
	c, err := dial(ctx, e, "udp", 0)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer closeOnDone(ctx, c)()
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		m, perr := ParseMessage(buf[:n])
		if perr != nil || m.ID != id || !m.Response {
			continue // not ours, or garbage: keep listening until the deadline
		}
		return m, nil
	}
}

func dnsTCP(ctx context.Context, e Endpoint, q []byte) (*DNSMessage, error) {
	c, err := dial(ctx, e, "tcp", 0)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer closeOnDone(ctx, c)()
	out := binary.BigEndian.AppendUint16(nil, uint16(len(q)))
	if _, err := c.Write(append(out, q...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, eofAsClosed(err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, eofAsClosed(err)
	}
	m, err := ParseMessage(buf)
	if err != nil {
		return nil, fmt.Errorf("malformed reply: %w", err)
	}
	return m, nil
}

func rcodeName(r int) string {
	switch r {
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	}
	return "error"
}

// ---- wire format (RFC 1035) ----

// BuildQuery encodes a standard query with recursion desired, class IN.
func BuildQuery(id uint16, name string, qtype uint16) ([]byte, error) {
	b := make([]byte, 12, 512)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(b[4:], 1)      // QDCOUNT
	b, err := appendName(b, name)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1), nil // class IN
}

func appendName(b []byte, name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	total := 1
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if l == "" {
				return nil, fmt.Errorf("empty label in %q", name)
			}
			if len(l) > 63 {
				return nil, fmt.Errorf("label %q over 63 bytes", l)
			}
			total += 1 + len(l)
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	if total > 255 {
		return nil, fmt.Errorf("name %q over 255 bytes", name)
	}
	return append(b, 0), nil
}

// DNSMessage is the part of a reply the checker looks at.
type DNSMessage struct {
	ID        uint16
	Response  bool
	Truncated bool
	RCode     int
	QName     string
	QType     uint16
	Answers   []DNSRR
}

// DNSRR is one answer record, with its data rendered as text.
type DNSRR struct {
	Name string
	Type uint16
	TTL  uint32
	Text string
}

var errShort = errors.New("message too short")

// ParseMessage decodes a DNS message's header, first question and answers.
func ParseMessage(b []byte) (*DNSMessage, error) {
	if len(b) < 12 {
		return nil, errShort
	}
	flags := binary.BigEndian.Uint16(b[2:])
	m := &DNSMessage{
		ID:        binary.BigEndian.Uint16(b),
		Response:  flags&0x8000 != 0,
		Truncated: flags&0x0200 != 0,
		RCode:     int(flags & 0xf),
	}
	qd, an := int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:]))
	off := 12
	for i := 0; i < qd; i++ {
		name, n, err := readName(b, off)
		if err != nil {
			return nil, err
		}
		off = n
		if off+4 > len(b) {
			return nil, errShort
		}
		if i == 0 {
			m.QName, m.QType = name, binary.BigEndian.Uint16(b[off:])
		}
		off += 4
	}
	for i := 0; i < an; i++ {
		name, n, err := readName(b, off)
		if err != nil {
			return nil, err
		}
		off = n
		if off+10 > len(b) {
			return nil, errShort
		}
		rr := DNSRR{Name: name, Type: binary.BigEndian.Uint16(b[off:]), TTL: binary.BigEndian.Uint32(b[off+4:])}
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return nil, errShort
		}
		rr.Text, err = RenderRR(b, off, rdlen, rr.Type)
		if err != nil {
			return nil, err
		}
		off += rdlen
		m.Answers = append(m.Answers, rr)
	}
	return m, nil
}

// readName decodes a possibly compressed name at off; it returns the name
// (with a trailing dot) and the offset just past it in the message.
func readName(b []byte, off int) (string, int, error) {
	var sb strings.Builder
	end := -1
	for hops := 0; ; hops++ {
		if hops > 127 || off >= len(b) {
			return "", 0, errors.New("malformed name")
		}
		l := int(b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			if sb.Len() == 0 {
				sb.WriteByte('.')
			}
			return sb.String(), end, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return "", 0, errShort
			}
			if end < 0 {
				end = off + 2
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
		case l&0xc0 != 0:
			return "", 0, errors.New("unsupported label type")
		default:
			if off+1+l > len(b) {
				return "", 0, errShort
			}
			sb.Write(b[off+1 : off+1+l])
			sb.WriteByte('.')
			if sb.Len() > 255 {
				return "", 0, errors.New("name over 255 bytes")
			}
			off += 1 + l
		}
	}
}

// RenderRR renders record data as text: A and AAAA as addresses; NS,
// CNAME and PTR as the name; MX as "preference exchange"; TXT as its
// strings joined by spaces; SOA as "mname rname serial refresh retry
// expire minimum"; SRV as "priority weight port target"; other types as
// hex.
func RenderRR(msg []byte, off, n int, typ uint16) (string, error) {
	data := msg[off : off+n]
	switch typ {
	case 1, 28:
		a, ok := netip.AddrFromSlice(data)
		if !ok || (typ == 1) != a.Is4() {
			return "", errors.New("malformed address record")
		}
		return a.String(), nil
	case 2, 5, 12:
		name, _, err := readName(msg, off)
		return name, err
	case 15:
		if n < 3 {
			return "", errShort
		}
		name, _, err := readName(msg, off+2)
		return fmt.Sprintf("%d %s", binary.BigEndian.Uint16(data), name), err
	case 16:
		var parts []string
		for i := 0; i < len(data); {
			l := int(data[i])
			if i+1+l > len(data) {
				return "", errShort
			}
			parts = append(parts, string(data[i+1:i+1+l]))
			i += 1 + l
		}
		return strings.Join(parts, " "), nil
	case 6:
		mname, o, err := readName(msg, off)
		if err != nil {
			return "", err
		}
		rname, o, err := readName(msg, o)
		if err != nil {
			return "", err
		}
		if o+20 > off+n {
			return "", errShort
		}
		u := func(i int) uint32 { return binary.BigEndian.Uint32(msg[o+4*i:]) }
		return fmt.Sprintf("%s %s %d %d %d %d %d", mname, rname, u(0), u(1), u(2), u(3), u(4)), nil
	case 33:
		if n < 7 {
			return "", errShort
		}
		name, _, err := readName(msg, off+6)
		return fmt.Sprintf("%d %d %d %s", binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:]),
			binary.BigEndian.Uint16(data[4:]), name), err
	}
	return fmt.Sprintf("%x", data), nil
}
