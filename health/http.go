package health

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/govs/gvs/config"
)

// HTTPChecker makes one GET the way keepalived's HTTP_GET and SSL_GET do,
// so the digests keepalived's genhash prints work unchanged:
//
//	GET <path> HTTP/1.0\r\n
//	User-Agent: GVS-HealthCheck\r\n
//	Host: <host, or ip:port ([ip]:port for IPv6) when no host is set>\r\n
//	\r\n
//
// The response's status code must be one of Status (default 200..299).
// Digest is compared with the MD5 (lower-case hex) of the body exactly as
// genhash computes it: every byte after the first "\r\n\r\n", up to EOF, or
// up to Content-Length bytes when the header has one. The body is not
// decoded: a chunked body (which a server should not send to an HTTP/1.0
// request) is hashed with its chunk framing, as genhash does. Regex (Go
// RE2 syntax, where keepalived uses PCRE2) must match somewhere in the
// first MaxRegexBody bytes of the same raw body.
type HTTPChecker struct {
	TLS      bool
	Path     string // default "/"
	Host     string // Host header; default ip:port
	SNI      string // TLS server name; default Host's name, else the address
	Status   []int  // accepted codes; empty: 200..299
	Digest   string // lower-case hex MD5 of the body, as genhash prints it
	Regex    *regexp.Regexp
	Insecure bool           // TLS: accept any certificate
	RootCAs  *x509.CertPool // TLS: trusted roots; nil: the system's
}

// MaxRegexBody is how much of a body a regular expression is matched against.
const MaxRegexBody = 1 << 20

// maxHeader bounds the response header.
const maxHeader = 64 << 10

func newHTTPChecker(c *config.Check) (Checker, error) {
	h := &HTTPChecker{TLS: strings.EqualFold(c.Type, "https")}
	if x := c.HTTP; x != nil {
		h.Path, h.Host, h.SNI, h.Insecure = x.Path, x.Host, x.SNI, x.Insecure
		h.Status = slices.Clone(x.Status)
		for _, s := range h.Status {
			if s < 100 || s > 999 {
				return nil, fmt.Errorf("http.status %d is not an HTTP status code", s)
			}
		}
		if x.Digest != "" {
			d := strings.ToLower(strings.TrimSpace(x.Digest))
			if b, err := hex.DecodeString(d); err != nil || len(b) != md5.Size {
				return nil, fmt.Errorf("http.digest %q is not an MD5 digest (32 hex digits, as genhash prints)", x.Digest)
			}
			h.Digest = d
		}
		if x.Regex != "" {
			re, err := regexp.Compile(x.Regex)
			if err != nil {
				return nil, fmt.Errorf("http.regex: %v", err)
			}
			h.Regex = re
		}
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if !strings.HasPrefix(h.Path, "/") {
		return nil, fmt.Errorf("http.path %q must start with /", h.Path)
	}
	if strings.ContainsAny(h.Path+h.Host, " \r\n") {
		return nil, errors.New("http.path and http.host must not contain spaces or line breaks")
	}
	return h, nil
}

// Check implements Checker.
func (h *HTTPChecker) Check(ctx context.Context, e Endpoint) Result {
	c, err := dial(ctx, e, "tcp", 0)
	if err != nil {
		return netResult(err)
	}
	defer c.Close()
	defer closeOnDone(ctx, c)()
	conn := c
	if h.TLS {
		tc := tls.Client(c, h.tlsConfig(e))
		if err := tc.HandshakeContext(ctx); err != nil {
			return downf("TLS handshake: %v", err)
		}
		conn = tc
	}
	if _, err := io.WriteString(conn, h.request(e)); err != nil {
		return downf("send request: %v", err)
	}
	resp, err := readHTTP(conn, h.Digest != "", h.Regex != nil)
	if err != nil {
		return down(err)
	}
	if !h.statusOK(resp.status) {
		return downf("HTTP status %d", resp.status)
	}
	if h.Digest != "" && resp.digest != h.Digest {
		return downf("body MD5 %s, want %s", resp.digest, h.Digest)
	}
	if h.Regex != nil && !h.Regex.Match(resp.body) {
		return downf("body does not match %q", h.Regex.String())
	}
	return up()
}

func (h *HTTPChecker) request(e Endpoint) string {
	host := h.Host
	if host == "" {
		host = netip.AddrPortFrom(e.Addr.Unmap(), e.Port).String()
	}
	return "GET " + h.Path + " HTTP/1.0\r\nUser-Agent: GVS-HealthCheck\r\nHost: " + host + "\r\n\r\n"
}

func (h *HTTPChecker) tlsConfig(e Endpoint) *tls.Config {
	name := h.SNI
	if name == "" && h.Host != "" {
		name = h.Host
		if hn, _, err := net.SplitHostPort(h.Host); err == nil {
			name = hn
		}
		name = strings.Trim(name, "[]")
	}
	if name == "" {
		name = e.Addr.Unmap().String() // no SNI is sent; verified against IP SANs
	}
	return &tls.Config{ServerName: name, InsecureSkipVerify: h.Insecure, RootCAs: h.RootCAs} //nolint:gosec // operator's choice
}

func (h *HTTPChecker) statusOK(code int) bool {
	if len(h.Status) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(h.Status, code)
}

type httpResponse struct {
	status int
	digest string // hex MD5 of the raw body (genhash's definition)
	body   []byte // the first MaxRegexBody bytes, when asked for
}

// readHTTP reads a response: status line and header, then the raw body up to
// Content-Length or EOF, hashing it as genhash does.
func readHTTP(r io.Reader, wantDigest, wantBody bool) (*httpResponse, error) {
	br := bufio.NewReaderSize(r, 4096)
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		b, err := br.ReadByte()
		if err != nil {
			if len(head) == 0 {
				return nil, fmt.Errorf("no response: %w", eofAsClosed(err))
			}
			return nil, fmt.Errorf("incomplete response header: %w", eofAsClosed(err))
		}
		head = append(head, b)
		if len(head) > maxHeader {
			return nil, errors.New("response header over 64 KiB")
		}
	}
	resp := &httpResponse{status: statusCode(head)}
	if resp.status == 0 {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return nil, fmt.Errorf("malformed status line %q", truncate(string(line), 80))
	}
	clen := contentLength(head)
	var sum hash.Hash
	if wantDigest {
		sum = md5.New()
	}
	var body io.Reader = br
	if clen >= 0 {
		body = io.LimitReader(br, clen)
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if sum != nil {
				sum.Write(buf[:n])
			}
			if wantBody && len(resp.body) < MaxRegexBody {
				resp.body = append(resp.body, buf[:min(n, MaxRegexBody-len(resp.body))]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
	}
	if sum != nil {
		resp.digest = hex.EncodeToString(sum.Sum(nil))
	}
	return resp, nil
}

func eofAsClosed(err error) error {
	if err == io.EOF {
		return errors.New("connection closed")
	}
	return err
}

// statusCode extracts the three-digit code after the first space of the
// status line; 0 when there is none.
func statusCode(head []byte) int {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	if !bytes.HasPrefix(line, []byte("HTTP/")) {
		return 0
	}
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return 0
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 100 {
		return 0
	}
	return code
}

// contentLength returns the Content-Length header's value, or -1.
func contentLength(head []byte) int64 {
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, val, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
			if err == nil && n >= 0 {
				return n
			}
			return -1
		}
	}
	return -1
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// GenHash returns the digest of body as keepalived's genhash prints it (MD5,
// lower-case hex), for a response whose body is exactly these bytes.
func GenHash(body []byte) string {
	s := md5.Sum(body)
	return hex.EncodeToString(s[:])
}
