package keepalived

import (
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govs/gvs/config"
)

var checkTypes = map[string]string{
	"HTTP_GET": "http", "SSL_GET": "https", "TCP_CHECK": "tcp", "SMTP_CHECK": "smtp",
	"DNS_CHECK": "dns", "MISC_CHECK": "exec", "UDP_CHECK": "udp", "PING_CHECK": "icmp",
}

// keepalived's checker defaults (check_api.c and the checkers).
const (
	smtpDefaultHELO = "smtpchecker.keepalived.org"
	dnsDefaultType  = "SOA"
	dnsDefaultName  = "."
	statusMin       = 100
	statusMax       = 599
)

var dnsTypes = []string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"}

// checks converts the first checker of each real server (nil: none) and
// says whether alpha mode applies to them all.
func (c *conv) checks(vs *vsDef, reals []*rsDef) ([]*config.Check, bool) {
	out := make([]*config.Check, len(reals))
	var alpha *bool
	for i, rs := range reals {
		for _, k := range rs.checkers {
			chk, a := c.checker(vs, rs, k)
			if chk == nil {
				continue // keepalived drops it too
			}
			if out[i] != nil {
				c.report(k, KindUnsupported, "a further checker on the same real server (keepalived needs all to pass): GVS runs one check per real server")
				continue
			}
			out[i] = chk
			if alpha == nil {
				alpha = &a
			} else if *alpha != a {
				c.report(k, KindUnsupported, "alpha differs between the checkers of one virtual server: GVS sets it per service")
			}
		}
	}
	return out, alpha != nil && *alpha
}

// hoist returns the check every real server shares, if they all have one
// and it is the same.
func hoist(checks []*config.Check) *config.Check {
	if len(checks) == 0 || checks[0] == nil {
		return nil
	}
	first := cloneCheck(checks[0])
	first.Line = 0
	for _, ch := range checks[1:] {
		if ch == nil {
			return nil
		}
		x := cloneCheck(ch)
		x.Line = 0
		if !reflect.DeepEqual(first, x) {
			return nil
		}
	}
	return checks[0]
}

func cloneCheck(c *config.Check) *config.Check {
	x := *c
	if c.HTTP != nil {
		h := *c.HTTP
		h.Status = slices.Clone(h.Status)
		x.HTTP = &h
	}
	if c.SMTP != nil {
		s := *c.SMTP
		x.SMTP = &s
	}
	if c.DNS != nil {
		d := *c.DNS
		x.DNS = &d
	}
	if c.UDP != nil {
		u := *c.UDP
		x.UDP = &u
	}
	if c.Exec != nil {
		e := *c.Exec
		e.Command = slices.Clone(e.Command)
		x.Exec = &e
	}
	return &x
}

// conn holds the connection keywords common to the checkers.
type conn struct {
	addr, src  *config.Addr
	port       uint16
	iface      string
	cto        *time.Duration
	retry      *uint64
	dbr, delay *time.Duration
	alpha      *bool
}

// common handles a keyword every checker (or SMTP host) takes; it
// returns false for one it does not know.
func (c *conv) common(k *Node, cn *conn, connection bool) bool {
	switch k.Keyword {
	case "connect_ip", "bindto":
		if !connection {
			return false
		}
		a, ok := parseAddr(k.Arg(0))
		if !ok {
			c.report(k, KindWarning, "invalid %s address %q: keepalived ignores it", k.Keyword, k.Arg(0))
			return true
		}
		v := config.Addr(a)
		other := cn.src
		if k.Keyword == "bindto" {
			other = cn.addr
		}
		if other != nil && familyOf(netip.Addr(*other)) != familyOf(a) {
			c.report(k, KindWarning, "%s %s does not match the address family of the other end: keepalived skips it", k.Keyword, k.Arg(0))
			return true
		}
		if k.Keyword == "connect_ip" {
			cn.addr = &v
		} else {
			cn.src = &v
		}
	case "connect_port":
		if !connection {
			return false
		}
		v, ok := parseUint(k.Arg(0), 1, 65535)
		if !ok {
			c.report(k, KindWarning, "invalid connect_port %q: keepalived ignores it", k.Arg(0))
			return true
		}
		cn.port = uint16(v)
	case "bind_port":
		if !connection {
			return false
		}
		c.report(k, KindUnsupported, "GVS checks do not choose their source port")
	case "bind_if":
		if !connection {
			return false
		}
		cn.iface = k.Arg(0)
	case "connect_timeout":
		if !connection {
			return false
		}
		if d, ok := parseTimer(k.Arg(0)); ok && d > 0 {
			cn.cto = &d
		} else {
			c.report(k, KindWarning, "invalid connect_timeout %q: keepalived ignores it", k.Arg(0))
		}
	case "fwmark":
		if !connection {
			return false
		}
		c.report(k, KindUnsupported, "GVS does not mark the packets of its checks")
	case "retry", "nb_get_retry":
		if v, ok := parseUint(k.Arg(0), 0, math.MaxUint32); ok {
			cn.retry = &v
		} else {
			c.report(k, KindWarning, "invalid %s %q: keepalived ignores it", k.Keyword, k.Arg(0))
		}
	case "delay_before_retry":
		if d, ok := parseTimer(k.Arg(0)); ok {
			cn.dbr = &d
		} else {
			c.report(k, KindWarning, "invalid delay_before_retry %q: keepalived ignores it", k.Arg(0))
		}
	case "delay_loop":
		if d, ok := parseTimer(k.Arg(0)); ok && d > 0 {
			cn.delay = &d
		} else {
			c.report(k, KindWarning, "invalid delay_loop %q: keepalived ignores it", k.Arg(0))
		}
	case "warmup":
		c.report(k, KindUnsupported, "GVS has no warmup (random delay before a server's first check)")
	case "alpha":
		if v, ok := parseBool(k); ok {
			cn.alpha = &v
		} else {
			c.report(k, KindWarning, "invalid alpha %q: keepalived ignores it", k.Arg(0))
		}
	case "log_all_failures":
		c.report(k, KindNoEffect, "GVS logs every state change of a check")
	default:
		return false
	}
	return true
}

type httpURL struct {
	n      *Node
	path   string
	digest string
	status []int
	vhost  string
	regex  string
}

// checker converts one checker block; alpha is its effective alpha mode.
func (c *conv) checker(vs *vsDef, rs *rsDef, k *Node) (*config.Check, bool) {
	typ := checkTypes[k.Keyword]
	chk := &config.Check{Type: typ, Line: k.Pos.Line}
	cn := &conn{}
	misc := typ == "exec"
	var (
		urls             []*httpURL
		vhost, sni       string
		enableSNI        bool
		hosts            []*Node
		helo             = smtpDefaultHELO
		dnsType, dnsName = dnsDefaultType, dnsDefaultName
		argv             []string
		miscTimeout      time.Duration
		dynamic          bool
		user             string
		payload, reply   []byte
		requireReply     bool
	)
	if len(k.Args) > 0 {
		c.report(k, KindWarning, "%s takes no arguments: keepalived ignores %q", k.Keyword, k.Args)
	}
	for _, kk := range k.Block {
		if c.common(kk, cn, !misc) {
			continue
		}
		handled := true
		switch typ {
		case "http", "https":
			switch kk.Keyword {
			case "virtualhost":
				vhost = kk.Arg(0)
			case "http_protocol":
				c.report(kk, KindUnsupported, "GVS's HTTP check chooses its HTTP version itself")
			case "enable_sni":
				if v, ok := parseBool(kk); ok {
					enableSNI = v
				}
			case "sni_name":
				sni, enableSNI = kk.Arg(0), true
			case "fast_recovery":
				c.report(kk, KindUnsupported, "GVS has no fast_recovery (checking every URL at once on recovery)")
			case "tls_compliant":
				c.report(kk, KindNoEffect, "GVS always closes TLS connections properly")
			case "url":
				if u := c.url(kk); u != nil {
					urls = append(urls, u)
				}
			default:
				handled = false
			}
		case "smtp":
			switch kk.Keyword {
			case "helo_name":
				if kk.Arg(0) != "" {
					helo = kk.Arg(0)
				}
			case "host":
				hosts = append(hosts, kk)
			default:
				handled = false
			}
		case "dns":
			switch kk.Keyword {
			case "type":
				t := strings.ToUpper(kk.Arg(0))
				if slices.Contains(dnsTypes, t) {
					dnsType = t
				} else {
					c.report(kk, KindWarning, "unknown DNS_CHECK type %q: keepalived ignores it", kk.Arg(0))
				}
			case "name":
				if kk.Arg(0) == "" || strings.Contains(kk.Arg(0), "..") || (strings.HasPrefix(kk.Arg(0), ".") && kk.Arg(0) != ".") {
					c.report(kk, KindWarning, "DNS_CHECK name %q is invalid: keepalived ignores it", kk.Arg(0))
				} else {
					dnsName = kk.Arg(0)
				}
			default:
				handled = false
			}
		case "exec":
			switch kk.Keyword {
			case "misc_path":
				words := SplitQuoted(kk.Raw, false)
				if len(words) >= 2 {
					argv = SplitQuoted(words[1], true)
				}
				if len(words) > 2 {
					c.report(kk, KindWarning, "misc_path takes one (quoted) string: keepalived ignores %q", words[2:])
				}
			case "misc_timeout":
				if v, ok := parseUint(kk.Arg(0), 0, math.MaxUint32/1000000); ok {
					miscTimeout = time.Duration(v) * time.Second
				} else {
					c.report(kk, KindWarning, "invalid misc_timeout %q: keepalived ignores it", kk.Arg(0))
				}
			case "misc_dynamic":
				dynamic = true
			case "user":
				user = kk.Arg(0)
				if len(kk.Args) > 1 {
					c.report(kk, KindUnsupported, "runs the script with group %s: GVS sets the user only", kk.Args[1])
				}
			default:
				handled = false
			}
		case "udp":
			switch kk.Keyword {
			case "payload":
				if b, _, ok := parseHex(kk.Args); ok {
					payload = b
				} else {
					c.report(kk, KindWarning, "invalid hex string for the UDP_CHECK payload: keepalived ignores it")
				}
			case "require_reply":
				requireReply = true
				if len(kk.Args) > 0 {
					b, wild, ok := parseHex(kk.Args)
					switch {
					case !ok:
						c.report(kk, KindWarning, "invalid hex string for the UDP_CHECK reply: keepalived ignores it")
					case wild:
						c.report(kk, KindUnsupported, "GVS's UDP check cannot ignore nibbles (X) of the reply")
					default:
						reply = b
					}
				}
			case "min_reply_length", "max_reply_length":
				if v, ok := parseUint(kk.Arg(0), 0, 65535); !ok {
					c.report(kk, KindWarning, "invalid %s %q: keepalived ignores it", kk.Keyword, kk.Arg(0))
				} else if kk.Keyword == "min_reply_length" && v != 0 || kk.Keyword == "max_reply_length" && v < 255 {
					c.report(kk, KindUnsupported, "GVS's UDP check does not bound the length of the reply")
				}
			default:
				handled = false
			}
		default:
			handled = false
		}
		if !handled {
			c.report(kk, KindUnknown, "not a %s keyword", k.Keyword)
		}
	}
	// SMTP hosts: each is a further check of its own in keepalived
	for i, h := range hosts {
		if i > 0 {
			c.report(h, KindUnsupported, "a further SMTP host (keepalived needs all to pass): GVS runs one check per real server")
			continue
		}
		hc := &conn{}
		for _, kk := range h.Block {
			if !c.common(kk, hc, true) {
				c.report(kk, KindUnknown, "not an SMTP_CHECK host keyword")
			}
		}
		cn.addr, cn.port, cn.src, cn.iface = hc.addr, hc.port, hc.src, hc.iface
		if hc.cto != nil {
			cn.cto = hc.cto
		}
	}
	// defaults: checker, then real server, then virtual server
	chk.Interval = config.Duration(pick(cn.delay, rs.delay, vs.delay))
	if cn.addr != nil {
		chk.Address = *cn.addr
	}
	if cn.src != nil {
		chk.Source = *cn.src
	}
	chk.Port, chk.Interface = cn.port, cn.iface
	var retry uint64 = 1
	switch typ {
	case "dns":
		retry = 3
	case "exec":
		retry = 0
	}
	switch {
	case cn.retry != nil:
		retry = *cn.retry
	case rs.retry != nil:
		retry = *rs.retry
	case vs.retry != nil:
		retry = *vs.retry
	}
	chk.Retries = int(min(retry, math.MaxInt32))
	var dbr time.Duration
	switch typ {
	case "http", "https":
		dbr = 3 * time.Second
	case "dns":
		dbr = time.Duration(chk.Interval)
	default:
		dbr = time.Second
	}
	switch {
	case cn.dbr != nil:
		dbr = *cn.dbr
	case rs.dbr != nil:
		dbr = *rs.dbr
	case vs.dbr != nil:
		dbr = *vs.dbr
	}
	chk.RetryDelay = config.Duration(dbr)
	if misc {
		chk.Timeout = config.Duration(miscTimeout)
		if miscTimeout == 0 {
			chk.Timeout = chk.Interval
		}
	} else {
		chk.Timeout = config.Duration(pick(cn.cto, rs.cto, vs.cto))
	}
	alpha := vs.alpha
	if rs.alpha != nil {
		alpha = *rs.alpha
	}
	if cn.alpha != nil {
		alpha = *cn.alpha
	}
	switch typ {
	case "http", "https":
		if len(urls) == 0 {
			c.report(k, KindWarning, "%s has no url: keepalived drops the checker", k.Keyword)
			return nil, false
		}
		for _, u := range urls[1:] {
			c.report(u.n, KindUnsupported, "a further url (keepalived needs all to pass): GVS checks one URL per real server")
		}
		u := urls[0]
		h := &config.HTTPCheck{Path: u.path, Digest: u.digest, Status: u.status, Regex: u.regex}
		for _, v := range []string{u.vhost, vhost, rs.vhost, vs.vhost} {
			if v != "" {
				h.Host = v
				break
			}
		}
		if typ == "https" {
			// keepalived's SSL_GET does not verify the server's certificate
			h.Insecure = true
			if enableSNI {
				h.SNI = sni
				if h.SNI == "" {
					h.SNI = h.Host
				}
			}
		}
		chk.HTTP = h
	case "smtp":
		chk.SMTP = &config.SMTPCheck{HELO: helo}
	case "dns":
		chk.DNS = &config.DNSCheck{Name: dnsName, Type: dnsType}
	case "exec":
		if len(argv) == 0 || argv[0] == "" {
			c.report(k, KindWarning, "MISC_CHECK has no misc_path: keepalived drops the checker")
			return nil, false
		}
		chk.Exec = &config.ExecCheck{Command: argv, Dynamic: dynamic, User: user}
	case "udp":
		chk.UDP = &config.UDPCheck{Send: string(payload), Expect: string(reply), NoReply: !requireReply}
	}
	return chk, alpha
}

func pick(a, b *time.Duration, def time.Duration) time.Duration {
	switch {
	case a != nil:
		return *a
	case b != nil:
		return *b
	}
	return def
}

func (c *conv) url(n *Node) *httpURL {
	u := &httpURL{n: n}
	for _, k := range n.Block {
		switch k.Keyword {
		case "path":
			u.path = k.Arg(0)
		case "digest":
			d := strings.ToLower(k.Arg(0))
			if len(d) != 32 || strings.Trim(d, "0123456789abcdef") != "" {
				c.report(k, KindWarning, "digest %q is not 32 hex digits: keepalived ignores it", k.Arg(0))
			} else if u.digest != "" {
				c.report(k, KindWarning, "a second digest: keepalived ignores it")
			} else {
				u.digest = d
			}
		case "status_code":
			var set [statusMax + 1]bool
			for _, a := range k.Args {
				lo, hi, ok := statusRange(a)
				if !ok {
					c.report(k, KindWarning, "invalid status code %q: keepalived ignores it", a)
					continue
				}
				for i := lo; i <= hi; i++ {
					set[i] = true
				}
			}
			var codes []int
			for i := statusMin; i <= statusMax; i++ {
				if set[i] {
					codes = append(codes, i)
				}
			}
			if !isDefaultStatus(codes) {
				u.status = codes
			}
		case "virtualhost":
			u.vhost = k.Arg(0)
		case "regex":
			w := SplitQuoted(k.Raw, true)
			if len(w) != 2 {
				c.report(k, KindWarning, "regex takes one (quoted) pattern: keepalived ignores it")
				continue
			}
			if _, err := regexp.Compile(w[1]); err != nil {
				c.report(k, KindUnsupported, "GVS matches with Go (RE2) regular expressions and cannot use this PCRE pattern: %v", err)
				continue
			}
			u.regex = w[1]
		case "regex_no_match":
			c.report(k, KindUnsupported, "GVS's HTTP check cannot fail on a match (regex_no_match)")
		case "regex_options":
			c.report(k, KindUnsupported, "GVS's HTTP check takes no PCRE options (use (?i) and the like in the pattern)")
		case "regex_min_offset", "regex_max_offset":
			c.report(k, KindUnsupported, "GVS's HTTP check matches the whole body")
		case "regex_stack":
			c.report(k, KindNoEffect, "Go's regular expressions need no match stack")
		case "tls_compliant":
			c.report(k, KindNoEffect, "GVS always closes TLS connections properly")
		default:
			c.report(k, KindUnknown, "not a url keyword")
		}
	}
	return u
}

func statusRange(s string) (int, int, bool) {
	a, b, rng := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	hi := lo
	if rng {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, false
		}
	}
	if lo < statusMin || hi > statusMax || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// isDefaultStatus: no codes, or exactly 200..299, are GVS's default too.
func isDefaultStatus(codes []int) bool {
	if len(codes) == 0 {
		return true
	}
	if len(codes) != 100 {
		return false
	}
	return codes[0] == 200 && codes[99] == 299
}
