package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// ---- helpers ----

func endpointOf(t *testing.T, addr string) Endpoint {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return Endpoint{Addr: ap.Addr().Unmap(), Port: ap.Port(), ServerAddr: ap.Addr().Unmap(), ServerPort: ap.Port(), Weight: 100}
}

func check(c Checker, e Endpoint, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Check(ctx, e)
}

func wantHealth(t *testing.T, r Result, h Health) {
	t.Helper()
	if r.Health != h {
		t.Fatalf("health %s (err %v), want %s", r.Health, r.Err, h)
	}
}

func mustChecker(t *testing.T, c *config.Check) Checker {
	t.Helper()
	ch, err := NewChecker(c)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// tcpServer accepts connections and hands each to fn, until the test ends.
func tcpServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				fn(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns an address nothing listens on (TCP and UDP).
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ---- TCP ----

func TestTCPChecker(t *testing.T) {
	var mu sync.Mutex
	var remotes []string
	addr := tcpServer(t, func(c net.Conn) {
		mu.Lock()
		remotes = append(remotes, c.RemoteAddr().(*net.TCPAddr).IP.String())
		mu.Unlock()
	})
	wantHealth(t, check(TCPChecker{}, endpointOf(t, addr), time.Second), Up)
	wantHealth(t, check(TCPChecker{}, endpointOf(t, closedPort(t)), time.Second), Down)

	// source address: the server sees it
	e := endpointOf(t, addr)
	e.Source = netip.MustParseAddr("127.0.0.2")
	wantHealth(t, check(TCPChecker{}, e, time.Second), Up)
	// the server's handlers run concurrently and after the checks return,
	// in no fixed order: wait until both connections were recorded
	var seen []string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		seen = append(seen[:0], remotes...)
		mu.Unlock()
		if len(seen) >= 2 {
			break
		}
	}
	if !slices.Contains(seen, "127.0.0.2") {
		t.Fatalf("server saw sources %v, want one of them 127.0.0.2", seen)
	}

	// interface binding: lo works, a missing interface is the director's error
	e = endpointOf(t, addr)
	e.Interface = "lo"
	if r := check(TCPChecker{}, e, time.Second); r.Health != Up {
		if errors.Is(r.Err, os.ErrPermission) || strings.Contains(errText(r.Err), "operation not permitted") {
			t.Skip("SO_BINDTODEVICE not permitted here")
		}
		t.Fatalf("bound to lo: %s %v", r.Health, r.Err)
	}
	e.Interface = "nosuchif0"
	wantHealth(t, check(TCPChecker{}, e, time.Second), Error)
}

// ---- HTTP ----

func TestHTTPChecker(t *testing.T) {
	var mu sync.Mutex
	var hosts, agents []string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts, agents = append(hosts, r.Host), append(agents, r.UserAgent())
		mu.Unlock()
		io.WriteString(w, "hello world")
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 404) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", 302) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ep := endpointOf(t, strings.TrimPrefix(srv.URL, "http://"))

	cases := []struct {
		name string
		h    config.HTTPCheck
		want Health
	}{
		{"default path 404", config.HTTPCheck{}, Down},
		{"2xx", config.HTTPCheck{Path: "/ok"}, Up},
		{"404", config.HTTPCheck{Path: "/missing"}, Down},
		{"404 accepted", config.HTTPCheck{Path: "/missing", Status: []int{404}}, Up},
		{"302 not 2xx", config.HTTPCheck{Path: "/moved"}, Down},
		{"302 listed", config.HTTPCheck{Path: "/moved", Status: []int{301, 302}}, Up},
		{"digest", config.HTTPCheck{Path: "/ok", Digest: "5EB63BBBE01EEED093CB22BB8F5ACDC3"}, Up},
		{"bad digest", config.HTTPCheck{Path: "/ok", Digest: "00000000000000000000000000000000"}, Down},
		{"regex", config.HTTPCheck{Path: "/ok", Regex: `^hel+o\s+w`}, Up},
		{"bad regex match", config.HTTPCheck{Path: "/ok", Regex: `goodbye`}, Down},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			wantHealth(t, check(mustChecker(t, &config.Check{Type: "http", HTTP: &h}), ep, 2*time.Second), c.want)
		})
	}
	// Host header: ip:port by default (as keepalived), the configured one otherwise
	mu.Lock()
	hosts = nil
	mu.Unlock()
	check(mustChecker(t, &config.Check{Type: "http", HTTP: &config.HTTPCheck{Path: "/ok"}}), ep, time.Second)
	check(mustChecker(t, &config.Check{Type: "http", HTTP: &config.HTTPCheck{Path: "/ok", Host: "www.example.com"}}), ep, time.Second)
	mu.Lock()
	if len(hosts) != 2 || hosts[0] != ep.AddrPort().String() || hosts[1] != "www.example.com" || agents[0] != "GVS-HealthCheck" {
		t.Fatalf("hosts %q agents %q", hosts, agents)
	}
	mu.Unlock()
	// refused
	wantHealth(t, check(mustChecker(t, &config.Check{Type: "http"}), endpointOf(t, closedPort(t)), time.Second), Down)

	// invalid settings are rejected
	for _, h := range []config.HTTPCheck{{Digest: "xyz"}, {Regex: "("}, {Path: "noslash"}, {Status: []int{7}}} {
		if _, err := NewChecker(&config.Check{Type: "http", HTTP: &h}); err == nil {
			t.Errorf("%+v accepted", h)
		}
	}
}

func TestHTTPSChecker(t *testing.T) {
	var mu sync.Mutex
	var snis []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure")
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		snis = append(snis, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	ep := endpointOf(t, strings.TrimPrefix(srv.URL, "https://"))
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	build := func(h config.HTTPCheck) *HTTPChecker {
		c := mustChecker(t, &config.Check{Type: "https", HTTP: &h}).(*HTTPChecker)
		return c
	}
	// system roots do not know httptest's certificate
	wantHealth(t, check(build(config.HTTPCheck{}), ep, 2*time.Second), Down)
	// insecure accepts it
	wantHealth(t, check(build(config.HTTPCheck{Insecure: true, Digest: GenHash([]byte("secure"))}), ep, 2*time.Second), Up)
	// verified against the IP SAN
	c := build(config.HTTPCheck{})
	c.RootCAs = roots
	wantHealth(t, check(c, ep, 2*time.Second), Up)
	// SNI: example.com is in httptest's certificate
	c = build(config.HTTPCheck{SNI: "example.com"})
	c.RootCAs = roots
	wantHealth(t, check(c, ep, 2*time.Second), Up)
	// Host header's name is the SNI when no sni is set; a wrong name fails verification
	c = build(config.HTTPCheck{Host: "wrong.invalid:443"})
	c.RootCAs = roots
	wantHealth(t, check(c, ep, 2*time.Second), Down)
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(snis, ","); !strings.Contains(got, "example.com") || !strings.Contains(got, "wrong.invalid") {
		t.Fatalf("SNIs seen: %q", got)
	}
}

// TestGenHashDigest pins the digest definition: MD5 of the raw bytes after
// the header, up to Content-Length or EOF, chunk framing included.
func TestGenHashDigest(t *testing.T) {
	const body = "hello world"
	const want = "5eb63bbbe01eeed093cb22bb8f5acdc3" // md5("hello world"), as genhash prints it
	if GenHash([]byte(body)) != want {
		t.Fatalf("GenHash = %s", GenHash([]byte(body)))
	}
	raw := map[string]string{
		"/len":     "HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello worldIGNORED-AFTER-LENGTH",
		"/eof":     "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nhello world",
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
		"/lower":   "HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello world",
	}
	addr := tcpServer(t, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		f := strings.Fields(line)
		if len(f) > 1 {
			io.WriteString(c, raw[f[1]])
		}
	})
	ep := endpointOf(t, addr)
	for path, digest := range map[string]string{
		"/len": want, "/eof": want,
		"/chunked": GenHash([]byte("b\r\nhello world\r\n0\r\n\r\n")),
		"/lower":   GenHash([]byte("hello")),
	} {
		c := mustChecker(t, &config.Check{Type: "http", HTTP: &config.HTTPCheck{Path: path, Digest: digest}})
		if r := check(c, ep, 2*time.Second); r.Health != Up {
			t.Errorf("%s: %s %v", path, r.Health, r.Err)
		}
	}

	// The real genhash, when installed, agrees.
	gh, err := exec.LookPath("genhash")
	if err != nil {
		t.Log("genhash not installed: cross-check skipped")
		return
	}
	for _, path := range []string{"/len", "/eof", "/chunked"} {
		var got string
		for try := 0; try < 5 && got == ""; try++ {
			out, _ := exec.Command(gh, "-s", ep.Addr.String(), "-p", fmt.Sprint(ep.Port), "-u", path).Output()
			got = regexp.MustCompile(`(?m)^[0-9a-f]{32}$`).FindString(string(out))
		}
		if got == "" {
			t.Logf("genhash gave no digest for %s: cross-check skipped", path)
			continue
		}
		c := mustChecker(t, &config.Check{Type: "http", HTTP: &config.HTTPCheck{Path: path, Digest: got}})
		if r := check(c, ep, 2*time.Second); r.Health != Up {
			t.Errorf("genhash digest %s for %s: %s %v", got, path, r.Health, r.Err)
		} else {
			t.Logf("genhash %s = %s: agrees", path, got)
		}
	}
}

// ---- SMTP ----

func smtpServer(t *testing.T, banner, heloReply string) string {
	return tcpServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		io.WriteString(c, banner)
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HELO ") {
			return
		}
		io.WriteString(c, heloReply)
		if line, _ = r.ReadString('\n'); line == "QUIT\r\n" {
			io.WriteString(c, "221 bye\r\n")
		}
	})
}

func TestSMTPChecker(t *testing.T) {
	c := mustChecker(t, &config.Check{Type: "smtp", SMTP: &config.SMTPCheck{HELO: "checker.example"}})
	wantHealth(t, check(c, endpointOf(t, smtpServer(t, "220-mx.example ESMTP\r\n220 ready\r\n", "250 mx.example\r\n")), time.Second), Up)
	wantHealth(t, check(c, endpointOf(t, smtpServer(t, "554 go away\r\n", "250 x\r\n")), time.Second), Down)
	wantHealth(t, check(c, endpointOf(t, smtpServer(t, "220 ready\r\n", "500 what\r\n")), time.Second), Down)
	wantHealth(t, check(c, endpointOf(t, smtpServer(t, "garbage\r\n", "250 x\r\n")), time.Second), Down)
	wantHealth(t, check(c, endpointOf(t, closedPort(t)), time.Second), Down)
}

// ---- DNS ----

// dnsAnswer builds a reply to query q: records for known names, NXDOMAIN otherwise.
func dnsAnswer(q []byte) []byte {
	m, err := ParseMessage(q)
	if err != nil || len(q) < 12 {
		return nil
	}
	qend := 12
	for q[qend] != 0 {
		qend += int(q[qend]) + 1
	}
	qend += 5
	resp := append([]byte(nil), q[:qend]...)
	binary.BigEndian.PutUint16(resp[2:], 0x8180) // QR, RD, RA
	rr := func(typ uint16, rdata []byte) []byte {
		b := []byte{0xc0, 12} // pointer to the question's name
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint32(b, 60)
		b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
		return append(b, rdata...)
	}
	var answers [][]byte
	switch strings.ToLower(m.QName) {
	case "www.example.com.":
		switch m.QType {
		case 1:
			answers = append(answers, rr(1, []byte{192, 0, 2, 1}), rr(1, []byte{192, 0, 2, 7}))
		case 16:
			answers = append(answers, rr(16, append([]byte{5}, "v=ok1"...)))
		case 15:
			answers = append(answers, rr(15, append([]byte{0, 10}, 0xc0, 12)))
		}
	default:
		binary.BigEndian.PutUint16(resp[2:], 0x8183) // NXDOMAIN
	}
	binary.BigEndian.PutUint16(resp[6:], uint16(len(answers)))
	for _, a := range answers {
		resp = append(resp, a...)
	}
	return resp
}

func dnsServers(t *testing.T) (udp, tcp string) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := dnsAnswer(buf[:n]); r != nil {
				pc.WriteTo(r, from)
			}
		}
	}()
	tcp = tcpServer(t, func(c net.Conn) {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		r := dnsAnswer(q)
		c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...))
	})
	return pc.LocalAddr().String(), tcp
}

func TestDNSChecker(t *testing.T) {
	udp, tcp := dnsServers(t)
	cases := []struct {
		d    config.DNSCheck
		want Health
	}{
		{config.DNSCheck{Name: "www.example.com"}, Up},
		{config.DNSCheck{Name: "www.example.com", Expect: "192.0.2.7"}, Up},
		{config.DNSCheck{Name: "WWW.example.com.", Expect: "192.0.2.9"}, Down},
		{config.DNSCheck{Name: "www.example.com", Type: "TXT", Expect: "V=OK"}, Up},
		{config.DNSCheck{Name: "www.example.com", Type: "mx", Expect: "10 www.example.com."}, Up},
		{config.DNSCheck{Name: "www.example.com", Type: "AAAA", Expect: "2001:db8::1"}, Down},
		{config.DNSCheck{Name: "nx.example.com"}, Down},
	}
	for _, c := range cases {
		for _, viaTCP := range []bool{false, true} {
			d := c.d
			d.TCP = viaTCP
			addr := udp
			if viaTCP {
				addr = tcp
			}
			r := check(mustChecker(t, &config.Check{Type: "dns", DNS: &d}), endpointOf(t, addr), time.Second)
			if r.Health != c.want {
				t.Errorf("%+v: %s (%v), want %s", d, r.Health, r.Err, c.want)
			}
		}
	}
	// a silent server times out
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer pc.Close()
	wantHealth(t, check(mustChecker(t, &config.Check{Type: "dns", DNS: &config.DNSCheck{Name: "x"}}),
		endpointOf(t, pc.LocalAddr().String()), 200*time.Millisecond), Down)
	if _, err := NewChecker(&config.Check{Type: "dns", DNS: &config.DNSCheck{Name: "x", Type: "HINFO"}}); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestDNSWire(t *testing.T) {
	q, err := BuildQuery(0x1234, "www.example.com", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"
	if string(q) != want {
		t.Fatalf("query %q", q)
	}
	m, err := ParseMessage(dnsAnswer(q))
	if err != nil || m.ID != 0x1234 || !m.Response || len(m.Answers) != 2 || m.Answers[1].Text != "192.0.2.7" || m.Answers[0].Name != "www.example.com." {
		t.Fatalf("%+v %v", m, err)
	}
	// a compression loop is rejected, not followed forever
	bad := append([]byte(nil), q[:12]...)
	binary.BigEndian.PutUint16(bad[4:], 1)
	bad = append(bad, 0xc0, 12)
	if _, err := ParseMessage(bad); err == nil {
		t.Fatal("pointer loop accepted")
	}
	if _, err := BuildQuery(1, strings.Repeat("a", 64)+".com", 1); err == nil {
		t.Fatal("long label accepted")
	}
}

// ---- UDP ----

func TestUDPChecker(t *testing.T) {
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(append([]byte("echo: "), buf[:n]...), from)
		}
	}()
	silent, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer silent.Close()
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := pc.LocalAddr().String()
	pc.Close()

	mk := func(u config.UDPCheck) Checker { return mustChecker(t, &config.Check{Type: "udp", UDP: &u}) }
	ep := func(a string) Endpoint { return endpointOf(t, a) }
	to := 300 * time.Millisecond
	wantHealth(t, check(mk(config.UDPCheck{Send: "ping", Expect: "echo: ping"}), ep(echo.LocalAddr().String()), to), Up)
	wantHealth(t, check(mk(config.UDPCheck{Send: "ping", Expect: "pong"}), ep(echo.LocalAddr().String()), to), Down)
	wantHealth(t, check(mk(config.UDPCheck{Send: "ping"}), ep(silent.LocalAddr().String()), to), Down)
	wantHealth(t, check(mk(config.UDPCheck{Send: "ping"}), ep(closed), to), Down)
	// no_reply: silence is up, ICMP port unreachable is down
	wantHealth(t, check(mk(config.UDPCheck{Send: "ping", NoReply: true}), ep(silent.LocalAddr().String()), to), Up)
	start := time.Now()
	r := check(mk(config.UDPCheck{Send: "ping", NoReply: true}), ep(closed), to)
	wantHealth(t, r, Down)
	if !strings.Contains(r.Err.Error(), "unreachable") || time.Since(start) > to {
		t.Fatalf("closed port: %v after %v", r.Err, time.Since(start))
	}
}

// ---- ICMP ----

func TestICMPChecker(t *testing.T) {
	r := check(ICMPChecker{}, Endpoint{Addr: netip.MustParseAddr("127.0.0.1")}, time.Second)
	if r.Health == Error && errors.Is(r.Err, ErrICMPNotPermitted) {
		t.Skip("ICMP echo not permitted here (needs root/CAP_NET_RAW or ping_group_range): ", r.Err)
	}
	wantHealth(t, r, Up)
	if r := check(ICMPChecker{}, Endpoint{Addr: netip.MustParseAddr("::1")}, time.Second); r.Health != Up {
		t.Logf("IPv6 loopback echo: %s %v (no IPv6 here?)", r.Health, r.Err)
	}
	// nobody answers for an unassigned TEST-NET address on a dummy route:
	// use an address of loopback's range that no interface has? 127/8 all answer
	// on Linux, so check the timeout path on an address that is dropped.
	e := Endpoint{Addr: netip.MustParseAddr("127.0.0.1"), Interface: "nosuchif0"}
	wantHealth(t, check(ICMPChecker{}, e, 200*time.Millisecond), Error)
}

// ---- RPC ----

// rpcAnswer answers a call: NULL of prog/vers, PROG_MISMATCH for another
// version, PROG_UNAVAIL for another program; GETPORT when portmap is set.
func rpcAnswer(call []byte, prog, vers uint32, portmap map[uint32]uint32) []byte {
	u := func(i int) uint32 { return binary.BigEndian.Uint32(call[i:]) }
	if len(call) < 40 || u(4) != 0 {
		return nil
	}
	out := binary.BigEndian.AppendUint32(nil, u(0))
	out = binary.BigEndian.AppendUint32(out, 1) // REPLY
	out = binary.BigEndian.AppendUint32(out, 0) // MSG_ACCEPTED
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0)   // verifier AUTH_NULL
	p, v := u(12), u(16)
	switch {
	case portmap != nil && p == 100000 && v == 2 && u(20) == 3:
		out = binary.BigEndian.AppendUint32(out, 0)
		out = binary.BigEndian.AppendUint32(out, portmap[u(40)])
	case p == prog && v == vers:
		out = binary.BigEndian.AppendUint32(out, 0)
	case p == prog:
		out = binary.BigEndian.AppendUint32(out, 2)
		out = binary.BigEndian.AppendUint32(out, vers)
		out = binary.BigEndian.AppendUint32(out, vers+1)
	default:
		out = binary.BigEndian.AppendUint32(out, 1)
	}
	return out
}

func rpcUDPServer(t *testing.T, addr string, prog, vers uint32, portmap map[uint32]uint32) (string, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := rpcAnswer(buf[:n], prog, vers, portmap); r != nil {
				pc.WriteTo(r, from)
			}
		}
	}()
	return pc.LocalAddr().String(), nil
}

func TestRPCChecker(t *testing.T) {
	const nfs = 100003
	udp, err := rpcUDPServer(t, "127.0.0.1:0", nfs, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	tcp := tcpServer(t, func(c net.Conn) {
		// two fragments in, to exercise record reassembly on the server side too
		rec, err := readRecord(c)
		if err != nil {
			return
		}
		r := rpcAnswer(rec, nfs, 3, nil)
		half := len(r) / 2
		c.Write(binary.BigEndian.AppendUint32(nil, uint32(half)))
		c.Write(r[:half])
		c.Write(binary.BigEndian.AppendUint32(nil, 0x80000000|uint32(len(r)-half)))
		c.Write(r[half:])
	})
	mk := func(prog, vers uint32, proto string) Checker {
		return mustChecker(t, &config.Check{Type: "rpc", RPC: &config.RPCCheck{Program: prog, Version: vers, Protocol: proto}})
	}
	for _, proto := range []string{"udp", "tcp"} {
		addr := udp
		if proto == "tcp" {
			addr = tcp
		}
		ep := endpointOf(t, addr)
		wantHealth(t, check(mk(nfs, 3, proto), ep, time.Second), Up)
		r := check(mk(nfs, 4, proto), ep, time.Second)
		wantHealth(t, r, Down)
		if !strings.Contains(r.Err.Error(), "PROG_MISMATCH") || !strings.Contains(r.Err.Error(), "3..4") {
			t.Errorf("%s mismatch: %v", proto, r.Err)
		}
		r = check(mk(100005, 1, proto), ep, time.Second)
		wantHealth(t, r, Down)
		if !strings.Contains(r.Err.Error(), "PROG_UNAVAIL") {
			t.Errorf("%s unavailable: %v", proto, r.Err)
		}
	}
	wantHealth(t, check(mk(nfs, 3, "tcp"), endpointOf(t, closedPort(t)), time.Second), Down)

	// port 0: ask the portmapper on 111 (on an address of its own, so a
	// running rpcbind does not matter)
	nfsAddr, err := rpcUDPServer(t, "127.0.0.5:0", nfs, 3, nil)
	if err != nil {
		t.Skip("no 127.0.0.5: ", err)
	}
	port := netip.MustParseAddrPort(nfsAddr).Port()
	if _, err := rpcUDPServer(t, "127.0.0.5:111", 0, 0, map[uint32]uint32{nfs: uint32(port)}); err != nil {
		t.Skip("cannot bind the portmapper port: ", err)
	}
	e := Endpoint{Addr: netip.MustParseAddr("127.0.0.5")}
	wantHealth(t, check(mk(nfs, 3, "udp"), e, time.Second), Up)
	wantHealth(t, check(mk(100021, 1, "udp"), e, time.Second), Down) // not registered: port 0
}

// ---- exec ----

func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecChecker(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env.out")
	ep := Endpoint{Addr: netip.MustParseAddr("10.1.2.3"), Port: 8080, ServerAddr: netip.MustParseAddr("10.1.2.3"), ServerPort: 80,
		Weight: 7, Service: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.ProtoTCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}}
	mk := func(dynamic bool, argv ...string) Checker {
		return mustChecker(t, &config.Check{Type: "exec", Exec: &config.ExecCheck{Command: argv, Dynamic: dynamic}})
	}
	wantHealth(t, check(mk(false, script(t, dir, "ok", "exit 0")), ep, time.Second), Up)
	r := check(mk(false, script(t, dir, "fail", "echo broken >&2; exit 1")), ep, time.Second)
	wantHealth(t, r, Down)
	if !strings.Contains(r.Err.Error(), "broken") {
		t.Errorf("stderr not in the error: %v", r.Err)
	}
	seven := script(t, dir, "seven", "exit 7")
	wantHealth(t, check(mk(false, seven), ep, time.Second), Down)
	r = check(mk(true, seven), ep, time.Second)
	if r.Health != Up || !r.HasWeight || r.Weight != 5 {
		t.Fatalf("dynamic exit 7: %+v", r)
	}
	r = check(mk(true, script(t, dir, "ok2", "exit 0")), ep, time.Second)
	if r.Health != Up || !r.HasWeight || r.Weight != 7 {
		t.Fatalf("dynamic exit 0 restores the configured weight: %+v", r)
	}
	if r = check(mk(true, script(t, dir, "one", "exit 1")), ep, time.Second); r.Health != Down {
		t.Fatalf("dynamic exit 1: %+v", r)
	}
	// environment and placeholders
	wantHealth(t, check(mk(false, script(t, dir, "env", `env | grep ^GVS_ | sort > "$1"; echo "$2 $3" >> "$1"`), env, "{server}", "{vip}:{vport}"), ep, time.Second), Up)
	b, _ := os.ReadFile(env)
	for _, want := range []string{"GVS_CHECK_ADDR=10.1.2.3", "GVS_CHECK_PORT=8080", "GVS_SERVER_ADDR=10.1.2.3", "GVS_SERVER_PORT=80",
		"GVS_SERVICE=TCP 192.0.2.10:80", "GVS_WEIGHT=7", "10.1.2.3:80 192.0.2.10:80"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("env file lacks %q:\n%s", want, b)
		}
	}
	// timeout: the whole process group is killed, quickly
	marker := filepath.Join(dir, "survived")
	start := time.Now()
	r = check(mk(false, script(t, dir, "hang", `(sleep 0.5; touch `+marker+`) & sleep 30`)), ep, 200*time.Millisecond)
	wantHealth(t, r, Down)
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("timed-out command took %v", el)
	}
	// a command that cannot start is the checker's error
	wantHealth(t, check(mk(false, filepath.Join(dir, "missing")), ep, time.Second), Error)
	if _, err := NewChecker(&config.Check{Type: "exec", Exec: &config.ExecCheck{}}); err == nil {
		t.Error("empty command accepted")
	}
	time.Sleep(800*time.Millisecond - time.Since(start))
	if _, err := os.Stat(marker); err == nil {
		t.Error("a child of the timed-out command survived the kill")
	}
}

// ---- agent ----

func TestParseAgentReply(t *testing.T) {
	cases := []struct {
		line   string
		down   bool
		weight int32
		err    bool
	}{
		{"75%\n", false, 75, false},
		{"up 50%", false, 50, false},
		{"ready", false, 100, false},
		{"up", false, 100, false},
		{"drain", false, 0, false},
		{"drain 80%", false, 0, false},
		{"maint", true, 100, false},
		{"down#disk full", true, 100, false},
		{"DOWN 20%", true, 20, false},
		{"stopped", true, 100, false},
		{"fail", true, 100, false},
		{"weight 30", false, 30, false},
		{"weight=12", false, 12, false},
		{"weight:40,up", false, 40, false},
		{"load 25", false, 75, false},
		{"25", false, 75, false},
		{"37.5", false, 63, false},
		{"120", false, 0, false},
		{"150%", false, 150, false},
		{"up maxconn:30 60%", false, 60, false},
		{"", false, 100, true},
		{"hello world", false, 100, true},
		{"-5%", false, 100, true},
	}
	for _, c := range cases {
		st := ParseAgentReply(c.line, 100)
		if st.Down != c.down || (st.Err != nil) != c.err || (!c.err && st.Weight != c.weight) {
			t.Errorf("%q: %+v, want down=%v weight=%d err=%v", c.line, st, c.down, c.weight, c.err)
		}
	}
	if st := ParseAgentReply("down # maintenance window", 1); st.Reason != "maintenance window" {
		t.Errorf("reason %q", st.Reason)
	}
}

func TestAgentChecker(t *testing.T) {
	var mu sync.Mutex
	reply := "75%\n"
	var sent []string
	addr := tcpServer(t, func(c net.Conn) {
		mu.Lock()
		r := reply
		mu.Unlock()
		if strings.HasPrefix(r, "ASK:") {
			line, _ := bufio.NewReader(c).ReadString('\n')
			mu.Lock()
			sent = append(sent, line)
			mu.Unlock()
			r = r[4:]
		}
		io.WriteString(c, r)
	})
	port := netip.MustParseAddrPort(addr).Port()
	ep := endpointOf(t, "127.0.0.1:1") // the service port is not the agent's
	ep.Weight = 8
	c := mustChecker(t, &config.Check{Type: "agent", Agent: &config.AgentCheck{Port: port}})
	set := func(s string) {
		mu.Lock()
		reply = s
		mu.Unlock()
	}
	r := check(c, ep, time.Second)
	if r.Health != Up || r.Weight != 6 || !r.HasWeight {
		t.Fatalf("75%% of 8: %+v", r)
	}
	set("drain\n")
	if r = check(c, ep, time.Second); r.Health != Up || r.Weight != 0 {
		t.Fatalf("drain: %+v", r)
	}
	set("down#maintenance\n")
	if r = check(c, ep, time.Second); r.Health != Down || !strings.Contains(r.Err.Error(), "maintenance") {
		t.Fatalf("down: %+v", r)
	}
	set("50") // feedbackd-style load figure, no newline before EOF
	if r = check(c, ep, time.Second); r.Health != Up || r.Weight != 4 {
		t.Fatalf("load 50: %+v", r)
	}
	set("nonsense\n")
	wantHealth(t, check(c, ep, time.Second), Down)
	set("ASK:weight 3\n")
	c = mustChecker(t, &config.Check{Type: "agent", Agent: &config.AgentCheck{Port: port, Send: "status web1\n"}})
	if r = check(c, ep, time.Second); r.Health != Up || r.Weight != 3 {
		t.Fatalf("weight 3: %+v", r)
	}
	mu.Lock()
	if len(sent) != 1 || sent[0] != "status web1\n" {
		t.Fatalf("sent %q", sent)
	}
	mu.Unlock()
	closed := netip.MustParseAddrPort(closedPort(t)).Port()
	c = mustChecker(t, &config.Check{Type: "agent", Agent: &config.AgentCheck{Port: closed}})
	wantHealth(t, check(c, ep, time.Second), Down)
}

// ---- hanging servers ----

// TestHangingServerTimesOut: a server that accepts and never answers is
// timed out, and checks of other servers run at full speed meanwhile.
func TestHangingServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	hang := tcpServer(t, func(c net.Conn) { <-release })
	defer close(release)
	fast := tcpServer(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	c := mustChecker(t, &config.Check{Type: "http"})
	const timeout = 600 * time.Millisecond
	var wg sync.WaitGroup
	var hangRes Result
	var hangTook time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		hangRes = check(c, endpointOf(t, hang), timeout)
		hangTook = time.Since(start)
	}()
	time.Sleep(20 * time.Millisecond) // the hanging check is in progress
	var took []time.Duration
	for deadline := time.Now().Add(400 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		start := time.Now()
		wantHealth(t, check(c, endpointOf(t, fast), timeout), Up)
		took = append(took, time.Since(start))
	}
	wg.Wait()
	slices.Sort(took)
	median, worst := took[len(took)/2], took[len(took)-1]
	t.Logf("hanging check: %s after %v; meanwhile %d fast checks, median %v, slowest %v",
		hangRes.Health, hangTook.Round(time.Millisecond), len(took), median, worst)
	wantHealth(t, hangRes, Down)
	if hangTook < timeout-50*time.Millisecond || hangTook > timeout+500*time.Millisecond {
		t.Errorf("hanging check took %v, want about %v", hangTook, timeout)
	}
	// none of them waited for the hanging one
	if worst >= timeout/2 || median > 50*time.Millisecond || len(took) < 3 {
		t.Errorf("fast checks were delayed: %d checks, median %v, slowest %v", len(took), median, worst)
	}
}

func TestNewCheckerErrors(t *testing.T) {
	for _, c := range []config.Check{{}, {Type: "gopher"}, {Type: "dns"}, {Type: "rpc"}, {Type: "agent"},
		{Type: "rpc", RPC: &config.RPCCheck{Program: 1, Protocol: "sctp"}}, {Type: "smtp", SMTP: &config.SMTPCheck{HELO: "two words"}}} {
		if _, err := NewChecker(&c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
