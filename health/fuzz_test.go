package health

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// The checkers read what real servers send: any bytes must give a result
// or an error, never a panic (and never an unbounded read).

func FuzzParseDNSMessage(f *testing.F) {
	q, err := BuildQuery(0x1234, "www.example.com", 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(q)
	f.Add(dnsAnswer(q))
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}) // a pointer to itself
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err == nil && m == nil {
			t.Fatal("no message and no error")
		}
	})
}

func FuzzParseAgentReply(f *testing.F) {
	for _, s := range []string{"up 100%", "load 50", "25%", "load=90", "drain", "down # maintenance", "maint", "ready 75% up", "", "#", "up 1e9%", "-5%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		st := ParseAgentReply(line, 10)
		if st.Weight < 0 || st.Weight > 1_000_000 {
			t.Fatalf("%q: weight %d out of range", line, st.Weight)
		}
	})
}

func FuzzReadHTTP(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.0 404 Not Found\r\n\r\nbody until EOF"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"))
	f.Add([]byte("garbage\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := readHTTP(bytes.NewReader(b), true, true)
		if err == nil && r == nil {
			t.Fatal("no response and no error")
		}
	})
}

func FuzzParseRPCReply(f *testing.F) {
	f.Add([]byte{0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint32(7))
	f.Add([]byte{0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1}, uint32(7))
	f.Fuzz(func(t *testing.T, b []byte, xid uint32) {
		ParseRPCReply(b, xid)
	})
}

func FuzzSMTPReply(f *testing.F) {
	f.Add("220 mail.example.com ESMTP\r\n")
	f.Add("250-first\r\n250-second\r\n250 last\r\n")
	f.Add("99 short\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		code, _, err := smtpReply(bufio.NewReader(strings.NewReader(s)))
		if err == nil && (code < 100 || code > 599) {
			t.Fatalf("%q: code %d accepted", s, code)
		}
	})
}
