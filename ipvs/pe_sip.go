package ipvs

import (
	"bytes"
	"hash/maphash"
)

// SIPEngine is IPVS's SIP persistence engine (--pe sip): UDP packets of a
// persistent service are kept together by their Call-ID as well as by the
// client network, so one call's messages reach one real server. A packet
// without a Call-ID header is dropped, as ip_vs_pe_sip does.
type SIPEngine struct{}

// Name implements PersistenceEngine.
func (SIPEngine) Name() string { return "sip" }

// Fill implements PersistenceEngine: the key is the Call-ID header's value.
func (SIPEngine) Fill(f *Flow, payload []byte) ([]byte, bool) {
	if f.Protocol != ProtoUDP {
		return nil, false
	}
	id := sipCallID(payload)
	return id, id != nil
}

// sipCallID finds the Call-ID header ("Call-ID:" or the compact "i:",
// case-insensitive, at the start of a header line) and returns its value.
func sipCallID(msg []byte) []byte {
	// skip the request or status line; headers end at an empty line
	line, rest, ok := bytes.Cut(msg, []byte("\n"))
	_ = line
	for ok {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			return nil
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			continue
		}
		name = bytes.TrimRight(name, " \t")
		if bytes.EqualFold(name, []byte("Call-ID")) || bytes.EqualFold(name, []byte("i")) {
			v := bytes.TrimSpace(value)
			if len(v) == 0 {
				return nil
			}
			return v
		}
	}
	return nil
}

var peSeed = maphash.MakeSeed()

// peKeyHash folds a persistence-engine key into the template's hash and
// match key; never 0, which means "no engine".
func peKeyHash(k []byte) uint64 {
	h := maphash.Bytes(peSeed, k)
	if h == 0 {
		h = 1
	}
	return h
}

func init() { RegisterPersistenceEngine(SIPEngine{}) }
