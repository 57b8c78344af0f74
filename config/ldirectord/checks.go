package ldirectord

import (
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/govs/gvs/config"
)

func equalCheck(a, b *config.Check) bool { return reflect.DeepEqual(a, b) }

// servicePorts is ldirectord's ld_service_to_port.
var servicePorts = map[string]uint16{"ftp": 21, "smtp": 25, "dns": 53, "http": 80, "pop": 110, "nntp": 119,
	"imap": 143, "ldap": 389, "https": 443, "submission": 587, "ldaps": 636, "imaps": 993, "pops": 995,
	"oracle": 1521, "radius": 1812, "http_proxy": 3128, "mysql": 3306, "sip": 5060, "pgsql": 5432}

// plainRe: a receive pattern GVS's DNS check can take as plain text.
var plainRe = regexp.MustCompile(`^[A-Za-z0-9.:_-]*$`)

// checks builds the check of every real server address (nil: none) as
// ldirectord's ld_setup and _check_real would run it.
func (c *conv) checks(vd *vdef) [][]*config.Check {
	g := c.g
	ct := firstSet(vd.ctimeout, vd.ntimeout, g.checkTimeout, g.negotiateTimeout, defCheckTimeout)
	nt := firstSet(vd.ntimeout, vd.ctimeout, g.negotiateTimeout, g.checkTimeout, defNegotiateTimeout)
	cc := firstSet(vd.checkcount, g.checkCount)
	fc := firstSet(vd.failcount, g.failureCount)
	interval := g.checkInterval
	if vd.interval > 0 {
		if g.fork {
			interval = vd.interval
		} else {
			c.report(vd.intervalD, KindWarning, "checkinterval in a virtual section is ignored when fork=no (as ldirectord does)")
		}
	}
	at := vd.d // where to report service-wide problems
	if vd.serviceD != nil {
		at = *vd.serviceD
	}
	kind := vd.checktype
	if kind == "combined" {
		c.report(vd.checktypeD, KindUnsupported, "GVS cannot alternate connect and negotiate checks: it runs the negotiate check every time")
		kind = "negotiate"
	}
	// what the negotiate check becomes
	neg := vd.service
	switch neg {
	case "http", "https", "smtp", "submission", "dns", "none":
	default:
		c.report(at, KindUnsupported, "GVS has no %s check: without it the servers get a connect check", neg)
		neg = "connect"
	}
	if kind == "negotiate" {
		switch neg {
		case "http", "https":
			if vd.httpHEAD != nil {
				c.report(*vd.httpHEAD, KindUnsupported, "GVS's HTTP check always uses GET")
			}
		default:
			for _, d := range vd.credentials {
				c.report(d, KindNoEffect, "only used by checks GVS does not have")
			}
		}
	} else {
		for _, d := range vd.credentials {
			c.report(d, KindNoEffect, "not used by checktype %s", vd.checktype)
		}
	}
	reported := map[string]bool{}
	once := func(d Directive, kind Kind, format string, a ...any) {
		key := d.Key + "\x00" + format
		if !reported[key] {
			reported[key] = true
			c.report(d, kind, format, a...)
		}
	}
	out := make([][]*config.Check, len(vd.reals))
	for i, r := range vd.reals {
		out[i] = make([]*config.Check, len(r.addrs))
		for j := range r.addrs {
			chk := &config.Check{Interval: seconds(interval), Line: r.d.Line}
			if fc > 1 {
				chk.Fall = fc
			}
			checkPort := vd.checkport
			if checkPort == 0 && r.port == 0 {
				checkPort = servicePorts[vd.service]
			}
			switch kind {
			case "on", "off":
				chk = nil
			case "ping":
				chk.Type, chk.Timeout, chk.Retries = "icmp", seconds(ct), cc-1
			case "connect":
				c.connect(chk, vd, ct, cc, checkPort)
			case "external", "external-perl":
				chk.Type, chk.Timeout = "exec", seconds(ct)
				chk.Exec = &config.ExecCheck{Command: []string{vd.command, vd.vserver, vd.vport, r.text[j], strconv.Itoa(int(r.port))}}
				if kind == "external-perl" {
					once(vd.checktypeD, KindWarning, "the Perl check command is run as an external command (ldirectord says it must also work as one)")
				}
			case "negotiate":
				request, receive := vd.request, vd.receive
				if r.request != nil {
					request, receive = *r.request, *r.receive
				}
				switch neg {
				case "none":
					chk = nil
				case "connect":
					c.connect(chk, vd, ct, cc, checkPort)
				case "http", "https":
					chk.Type, chk.Timeout, chk.Port = neg, seconds(nt), checkPort
					h := &config.HTTPCheck{Path: request, Host: vd.virtualhost, Insecure: neg == "https"}
					if u, ok := parseRequestURL(strings.TrimPrefix(request, "/")); ok && r.request != nil && u.Scheme == neg {
						// an absolute request overrides the server's address and port
						if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
							chk.Address = config.Addr(a.Unmap())
						} else {
							once(r.d, KindUnsupported, "GVS checks an address, not the host name %q", u.Hostname())
						}
						if p, err := strconv.Atoi(u.Port()); err == nil && p > 0 && p < 65536 {
							chk.Port = uint16(p)
						}
						h.Path = u.RequestURI()
						if h.Host == "" {
							h.Host = u.Host
						}
					}
					if receive != "" {
						if _, err := regexp.Compile(receive); err != nil {
							once(r.d, KindUnsupported, "GVS matches with Go (RE2) regular expressions and cannot use this Perl pattern: %v", err)
						} else {
							h.Regex = receive
						}
					}
					chk.HTTP = h
				case "smtp", "submission":
					chk.Type, chk.Timeout, chk.Port = "smtp", seconds(nt), checkPort
					chk.SMTP = &config.SMTPCheck{}
				case "dns":
					chk.Type, chk.Timeout, chk.Port = "dns", seconds(nt), checkPort
					name := strings.TrimPrefix(request, "/")
					d := &config.DNSCheck{Name: name, Type: "A", TCP: vd.protocol == "tcp"}
					if _, err := netip.ParseAddr(name); err == nil {
						once(r.d, KindUnsupported, "GVS's DNS check cannot ask for a PTR record (the request is an address)")
					}
					switch {
					case receive == "":
						once(at, KindWarning, "ldirectord's dns check never succeeds without a receive string; GVS accepts any answer")
					case plainRe.MatchString(receive):
						d.Expect = receive
					default:
						once(r.d, KindUnsupported, "GVS's DNS check looks for plain text, not the regular expression %q", receive)
					}
					chk.DNS = d
				}
			}
			out[i][j] = chk
		}
	}
	return out
}

// connect is ldirectord's connect check: TCP, or ping for UDP services.
func (c *conv) connect(chk *config.Check, vd *vdef, ct, cc int, port uint16) {
	if vd.protocol == "udp" {
		chk.Type, chk.Timeout, chk.Retries = "icmp", seconds(ct), cc-1
		return
	}
	chk.Type, chk.Timeout, chk.Port = "tcp", seconds(ct), port
}

func firstSet(v ...int) int {
	for _, x := range v {
		if x >= 0 {
			return x
		}
	}
	return 0
}
