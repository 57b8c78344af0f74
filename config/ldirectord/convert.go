package ldirectord

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// Kind says why a directive is not (fully) in the GVS configuration, and
// so whether it stops gvsd from starting.
type Kind string

const (
	// KindUnsupported: GVS cannot do what the directive asks. Blocking.
	KindUnsupported Kind = "unsupported"
	// KindUnknown: not an ldirectord directive. Blocking.
	KindUnknown Kind = "unknown"
	// KindNoEffect: only changes ldirectord's own logging, process model
	// or e-mail texts. Not blocking.
	KindNoEffect Kind = "no-effect"
	// KindWarning: ldirectord warns here and runs on; so does the
	// conversion. Not blocking.
	KindWarning Kind = "warning"
)

// Unsupported is a directive that is not, or not exactly, in the converted
// configuration.
type Unsupported struct {
	File     string
	Line     int
	Keyword  string
	Kind     Kind
	Reason   string
	Ignored  bool // allowed to be dropped by Options.IgnoreUnsupported
	Blocking bool // gvsd must refuse to start while it is in the file
}

func (u Unsupported) String() string {
	s := fmt.Sprintf("%s:%d: %s: %s (%s", u.File, u.Line, u.Keyword, u.Reason, u.Kind)
	switch {
	case u.Ignored:
		s += ", ignored"
	case u.Blocking:
		s += ", blocking"
	}
	return s + ")"
}

// Blocking returns the entries that stop gvsd from starting.
func Blocking(list []Unsupported) []Unsupported {
	var out []Unsupported
	for _, u := range list {
		if u.Blocking {
			out = append(out, u)
		}
	}
	return out
}

// Options tune the conversion.
type Options struct {
	// IgnoreUnsupported lists directives the operator allows to be dropped;
	// "all" allows every one.
	IgnoreUnsupported []string
	// Resolve turns a host name of the file into addresses, as ldirectord
	// does when it reads it (default: the system resolver). Addresses need
	// no resolver.
	Resolve func(host string) ([]netip.Addr, error)
}

// Load parses an ldirectord.cf and converts it.
func Load(path string, opts Options) (*config.Config, []Unsupported, error) {
	f, err := ParseFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Convert(f, opts)
}

// ldirectord's defaults (set_defaults and read_config).
const (
	defCheckInterval    = 10
	defCheckTimeout     = 5
	defNegotiateTimeout = 30
)

type globals struct {
	checkTimeout, negotiateTimeout int // -1 unset
	checkInterval                  int
	checkCount, failureCount       int
	quiescent                      bool
	fork                           bool
	fallback, fallback6            *fallback
}

type fallback struct {
	d      Directive
	server string
	port   string
	fwd    string
}

type conv struct {
	opts  Options
	file  string
	out   []Unsupported
	cfg   *config.Config
	g     globals
	dests int // real servers so far, bounded by maxDests
}

func (c *conv) report(d Directive, kind Kind, format string, a ...any) {
	c.out = append(c.out, Unsupported{File: c.file, Line: d.Line, Keyword: d.Key, Kind: kind, Reason: fmt.Sprintf(format, a...)})
}

func (c *conv) errf(d Directive, format string, a ...any) error {
	return &Error{File: c.file, Line: d.Line, Msg: d.Key + ": " + fmt.Sprintf(format, a...)}
}

// Convert turns a parsed ldirectord.cf into a GVS configuration and lists
// every directive that is not carried over exactly. Values ldirectord
// itself refuses (it stops with a configuration error) are errors here
// too, naming the file and line.
func Convert(f *File, opts Options) (*config.Config, []Unsupported, error) {
	if opts.Resolve == nil {
		opts.Resolve = func(h string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(context.Background(), "ip", h)
		}
	}
	c := &conv{opts: opts, file: f.Name, cfg: &config.Config{},
		g: globals{checkTimeout: -1, negotiateTimeout: -1, checkInterval: defCheckInterval, checkCount: 1, failureCount: 1}}
	for _, d := range f.Globals {
		if err := c.global(d); err != nil {
			return nil, c.out, err
		}
	}
	for _, v := range f.Virtuals {
		if err := c.virtual(v); err != nil {
			return nil, c.out, err
		}
	}
	for i := range c.out {
		u := &c.out[i]
		u.Ignored = slices.Contains(opts.IgnoreUnsupported, "all") || slices.Contains(opts.IgnoreUnsupported, u.Keyword)
		u.Blocking = !u.Ignored && (u.Kind == KindUnsupported || u.Kind == KindUnknown)
	}
	if err := c.cfg.Validate(); err != nil {
		var le *config.LineError
		if errors.As(err, &le) {
			return c.cfg, c.out, &Error{File: c.file, Line: le.Line, Msg: le.Msg}
		}
		return c.cfg, c.out, &Error{File: c.file, Msg: err.Error()}
	}
	return c.cfg, c.out, nil
}

var (
	numRe    = regexp.MustCompile(`(\d+)`)
	quotedRe = regexp.MustCompile(`^"(.*)"`)
)

// positive reads the first number of a value as ldirectord does; zero is
// refused.
func positive(d Directive) (int, bool) {
	m := numRe.FindString(d.Value)
	v, err := strconv.Atoi(m)
	return v, err == nil && v > 0
}

func yesNo(d Directive) (bool, bool) {
	switch d.Value {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

func (c *conv) global(d Directive) error {
	switch d.Key {
	case "checktimeout", "negotiatetimeout", "checkinterval", "checkcount", "failurecount":
		v, ok := positive(d)
		if !ok {
			return c.errf(d, "invalid value %q", d.Value)
		}
		switch d.Key {
		case "checktimeout":
			c.g.checkTimeout = v
		case "negotiatetimeout":
			c.g.negotiateTimeout = v
		case "checkinterval":
			c.g.checkInterval = v
		case "checkcount":
			c.g.checkCount = v
			c.report(d, KindWarning, "checkcount is deprecated (see failurecount); it only applies to ping checks")
		case "failurecount":
			c.g.failureCount = v
		}
	case "connecttimeout":
		return c.errf(d, "deprecated in favour of negotiatetimeout: ldirectord refuses it")
	case "timeout":
		return c.errf(d, "deprecated in favour of checktimeout and negotiatetimeout: ldirectord refuses it")
	case "fallback", "fallback6":
		fb, err := c.parseFallback(d)
		if err != nil {
			return err
		}
		if d.Key == "fallback" {
			c.g.fallback = fb
		} else {
			c.g.fallback6 = fb
		}
	case "quiescent", "autoreload", "fork", "readdquiescent", "cleanstop", "supervised":
		v, ok := yesNo(d)
		if d.Key == "supervised" && d.Value == "" {
			v, ok = true, true
		}
		if !ok {
			return c.errf(d, "must be 'yes' or 'no'")
		}
		switch d.Key {
		case "quiescent":
			c.g.quiescent = v
		case "fork":
			c.g.fork = v
			c.report(d, KindNoEffect, "ldirectord's process model: GVS checks every server on its own schedule")
		case "autoreload":
			if v {
				c.report(d, KindUnsupported, "gvsd does not watch its configuration file: reload it with SIGHUP")
			}
		case "readdquiescent":
			if v {
				c.report(d, KindNoEffect, "GVS always keeps quiescent servers in its table")
			}
		case "cleanstop":
			if !v {
				c.report(d, KindUnsupported, "the virtual services are gvsd's own: they stop with it")
			}
		case "supervised":
			c.report(d, KindNoEffect, "gvsd always runs in the foreground under its supervisor")
		}
	case "callback":
		c.report(d, KindUnsupported, "GVS runs no command when the configuration file changes")
	case "fallbackcommand":
		c.report(d, KindUnsupported, "GVS has no fallback command (use quorum_up/quorum_down in the GVS file)")
	case "logfile":
		c.report(d, KindNoEffect, "gvsd logs to its standard error (the journal)")
	case "execute":
		c.report(d, KindUnsupported, "gvsd does not start other ldirectord configurations")
	case "emailalert":
		c.report(d, KindUnsupported, "GVS sends no e-mail alerts")
	case "emailalertfreq", "emailalertstatus", "emailalertfrom", "smtp":
		c.report(d, KindNoEffect, "only used for e-mail alerts")
	case "maintenancedir":
		c.report(d, KindUnsupported, "GVS has no maintenance directory (set the weight to 0 through gvsadm instead)")
	default:
		c.report(d, KindUnknown, "not an ldirectord directive")
	}
	return nil
}

var fallbackRe = regexp.MustCompile(`^(\S+?)(?::(\d+|[A-Za-z0-9_-]+))?$`)

// parseFallback reads "host[:port] [gate|masq|ipip]".
func (c *conv) parseFallback(d Directive) (*fallback, error) {
	fields := strings.Fields(d.Value)
	if len(fields) == 0 || len(fields) > 2 {
		return nil, c.errf(d, "invalid fallback server %q", d.Value)
	}
	fb := &fallback{d: d, fwd: "gate"}
	if len(fields) == 2 {
		fb.fwd = fields[1]
		if fb.fwd != "gate" && fb.fwd != "masq" && fb.fwd != "ipip" {
			return nil, c.errf(d, "forward method must be gate, masq or ipip")
		}
	}
	host := fields[0]
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return nil, c.errf(d, "invalid fallback server %q", host)
		}
		fb.server = host[1:end]
		if rest := host[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return nil, c.errf(d, "invalid fallback server %q", host)
			}
			fb.port = rest[1:]
		}
		return fb, nil
	}
	m := fallbackRe.FindStringSubmatch(host)
	if m == nil {
		return nil, c.errf(d, "invalid fallback server %q", host)
	}
	fb.server, fb.port = m[1], m[2]
	return fb, nil
}

func forwardOf(s string) config.Forward {
	switch s {
	case "masq":
		return config.Forward(ipvs.Masq)
	case "ipip":
		return config.Forward(ipvs.Tunnel)
	}
	return config.Forward(ipvs.Route)
}

// resolve turns a host of the file into one address of the family.
func (c *conv) resolve(d Directive, host string, v6 bool) (netip.Addr, error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.Is6() != v6 {
			return a, c.errf(d, "%s is not an IPv%s address", host, map[bool]string{false: "4", true: "6"}[v6])
		}
		return a, nil
	}
	addrs, err := c.opts.Resolve(host)
	if err != nil {
		return netip.Addr{}, c.errf(d, "could not resolve %s: %v", host, err)
	}
	for _, a := range addrs {
		if a = a.Unmap(); a.Is6() == v6 {
			return a, nil
		}
	}
	return netip.Addr{}, c.errf(d, "%s has no IPv%s address", host, map[bool]string{false: "4", true: "6"}[v6])
}

// ports are the service names ldirectord resolves with getservbyname,
// for the services it knows and the usual /etc/services names.
var ports = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53, "http": 80, "www": 80,
	"pop3": 110, "pop": 110, "nntp": 119, "ntp": 123, "imap": 143, "imap2": 143, "snmp": 161, "ldap": 389,
	"https": 443, "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995, "pops": 995,
	"oracle": 1521, "radius": 1812, "http_proxy": 3128, "squid": 3128, "mysql": 3306,
	"sip": 5060, "postgresql": 5432, "pgsql": 5432, "http-alt": 8080, "webcache": 8080,
}

func (c *conv) port(d Directive, s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	if v, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(v), nil
	}
	if p, ok := ports[s]; ok {
		return p, nil
	}
	return 0, c.errf(d, "unknown port %q", s)
}

// serviceOfPort is ldirectord's ld_port_to_service.
func serviceOfPort(p uint16) string {
	m := map[uint16]string{21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp", 143: "imap",
		389: "ldap", 443: "https", 587: "submission", 636: "ldaps", 993: "imaps", 995: "pops", 1521: "oracle",
		1812: "radius", 3128: "http_proxy", 3306: "mysql", 5060: "sip", 5432: "pgsql"}
	if s, ok := m[p]; ok {
		return s
	}
	return "none"
}

var services = []string{"dns", "ftp", "http", "https", "http_proxy", "imap", "imaps", "ldap", "ldaps", "nntp",
	"mysql", "none", "oracle", "pop", "pops", "radius", "pgsql", "sip", "smtp", "submission", "simpletcp"}

func seconds(n int) config.Duration { return config.Duration(time.Duration(n) * time.Second) }

// parseRequestURL splits an absolute request ("http://host:port/path").
func parseRequestURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, false
	}
	return u, true
}
