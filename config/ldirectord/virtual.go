package ldirectord

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

type realDef struct {
	d                Directive
	addrs            []netip.Addr
	text             []string // the address as ldirectord passes it to scripts
	port             uint16
	fwd              string
	weight           int32
	request, receive *string
	lth, uth         uint32
}

type vdef struct {
	d        Directive
	v6       bool
	addr     netip.Addr
	vserver  string // address or fwmark as checkcommand receives it
	vport    string
	port     uint16
	fwmark   uint32
	protocol string

	checktype   string
	checktypeD  Directive
	service     string
	serviceD    *Directive
	scheduler   string
	command     string
	request     string
	receive     string
	ctimeout    int
	ntimeout    int
	checkcount  int
	failcount   int
	interval    int
	intervalD   Directive
	checkport   uint16
	persistent  int
	netmask     string
	schedflags  string
	ops         bool
	httpHEAD    *Directive
	virtualhost string
	fallback    *fallback
	quiescent   *bool
	name        string
	reals       []realDef
	credentials []Directive
}

var (
	v4PortRe   = regexp.MustCompile(`^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)`)
	hostPortRe = regexp.MustCompile(`^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)`)
	fwmarkRe   = regexp.MustCompile(`^(\d+)`)
	v6PortRe   = regexp.MustCompile(`^\[([0-9A-Fa-f:]+)\]:([0-9A-Za-z_-]+)`)
	realRe     = regexp.MustCompile(`^(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?:->(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]))?(?::(\d+|[A-Za-z0-9_-]+))?\s+(.*)$`)
	fwdRe      = regexp.MustCompile(`^(\w+)(.*)$`)
	weightRe   = regexp.MustCompile(`^\s+(\d+)(.*)$`)
	reqRecvRe  = regexp.MustCompile(`^\s+"(.*)"[, ]\s*"(.*)"(.*)$`)
	lthRe      = regexp.MustCompile(`^\s+l:(\d+)(.*)$`)
	uthRe      = regexp.MustCompile(`^\s+u:(\d+)(.*)$`)
	wordRe     = regexp.MustCompile(`([\w-]+)`)
	schedRe    = regexp.MustCompile(`([a-z]+)`)
	nonSpaceRe = regexp.MustCompile(`(\S+)`)
	hostRe     = regexp.MustCompile(`"?([^"]*)"?`)
)

func (c *conv) virtual(v *Virtual) error {
	vd := &vdef{d: v.Directive, v6: v.Key == "virtual6", checktype: "negotiate", scheduler: "wrr",
		command: "/bin/true", request: "/", ctimeout: -1, ntimeout: -1, checkcount: -1, failcount: -1, interval: -1,
		persistent: -1}
	val := v.Value
	var host, portStr string
	switch {
	case !vd.v6 && v4PortRe.MatchString(val):
		m := v4PortRe.FindStringSubmatch(val)
		host, portStr = m[1], m[2]
	case hostPortRe.MatchString(val):
		m := hostPortRe.FindStringSubmatch(val)
		host, portStr = m[1], m[2]
	case fwmarkRe.MatchString(val):
		n, err := strconv.ParseUint(fwmarkRe.FindString(val), 10, 32)
		if err != nil || n == 0 {
			return c.errf(v.Directive, "invalid firewall mark %q", val)
		}
		vd.fwmark = uint32(n)
	case v6PortRe.MatchString(val):
		if !vd.v6 {
			return c.errf(v.Directive, "cannot specify an IPv6 address here: use virtual6")
		}
		m := v6PortRe.FindStringSubmatch(val)
		host, portStr = m[1], m[2]
	default:
		return c.errf(v.Directive, "invalid address for virtual server")
	}
	if vd.fwmark != 0 {
		vd.protocol, vd.service, vd.vport = "fwm", "none", "0"
		vd.vserver = strconv.FormatUint(uint64(vd.fwmark), 10)
	} else {
		vd.protocol = "tcp"
		if portStr == "53" || portStr == "domain" {
			vd.protocol = "udp"
		}
	}
	var reals []Directive
	for _, d := range v.Body {
		if err := c.virtualDirective(vd, d, &reals); err != nil {
			return err
		}
	}
	if vd.fwmark == 0 {
		a, err := c.resolve(v.Directive, host, vd.v6)
		if err != nil {
			return err
		}
		p, err := c.port(v.Directive, portStr)
		if err != nil {
			return err
		}
		vd.addr, vd.port = a, p
		vd.vport = strconv.Itoa(int(p))
		vd.vserver = a.String()
		if vd.v6 {
			vd.vserver = "[" + vd.vserver + "]"
		}
		if vd.service == "" {
			vd.service = serviceOfPort(p)
		}
	}
	for _, d := range reals {
		r, err := c.real(vd, d)
		if err != nil {
			return err
		}
		for _, x := range r {
			if c.dests += len(x.addrs); c.dests > maxDests {
				return c.errf(d, "the configuration has more than %d real servers", maxDests)
			}
		}
		vd.reals = append(vd.reals, r...)
	}
	return c.service(vd)
}

// quoted reads a "..." value (ldirectord requires the quotes).
func (c *conv) quoted(d Directive) (string, error) {
	m := quotedRe.FindStringSubmatch(d.Value)
	if m == nil || m[1] == "" {
		return "", c.errf(d, "the value must be a non-empty quoted string")
	}
	return m[1], nil
}

func (c *conv) virtualDirective(vd *vdef, d Directive, reals *[]Directive) error {
	var err error
	switch d.Key {
	case "real", "real6":
		if (d.Key == "real6") != vd.v6 {
			return c.errf(d, "cannot specify %s in a %s section", d.Key, vd.d.Key)
		}
		*reals = append(*reals, d)
	case "request":
		if vd.request, err = c.quoted(d); err != nil {
			return err
		}
		if !strings.HasPrefix(vd.request, "/") {
			vd.request = "/" + vd.request
		}
	case "receive":
		if vd.receive, err = c.quoted(d); err != nil {
			return err
		}
	case "checktype":
		if m := numRe.FindString(d.Value); m != "" {
			vd.checktype = "combined"
		} else if w := wordRe.FindString(d.Value); slices.Contains([]string{"connect", "negotiate", "ping", "off", "on", "external", "external-perl"}, w) {
			vd.checktype = w
		} else {
			return c.errf(d, "checktype must be connect, negotiate, on, off, ping, external, external-perl or a number")
		}
		vd.checktypeD = d
	case "checkcommand":
		s := d.Value
		if m := quotedRe.FindStringSubmatch(s); m != nil {
			s = m[1]
		}
		if s == "" {
			return c.errf(d, "invalid check command")
		}
		vd.command = s
	case "checktimeout", "negotiatetimeout", "checkcount", "failurecount", "checkinterval":
		n, ok := positive(d)
		if !ok {
			return c.errf(d, "invalid value %q", d.Value)
		}
		switch d.Key {
		case "checktimeout":
			vd.ctimeout = n
		case "negotiatetimeout":
			vd.ntimeout = n
		case "checkcount":
			vd.checkcount = n
			c.report(d, KindWarning, "checkcount is deprecated (see failurecount); it only applies to ping checks")
		case "failurecount":
			vd.failcount = n
		case "checkinterval":
			vd.interval, vd.intervalD = n, d
		}
	case "connecttimeout":
		return c.errf(d, "deprecated in favour of negotiatetimeout: ldirectord refuses it")
	case "checkport":
		n, err := strconv.Atoi(numRe.FindString(d.Value))
		if err != nil || n < 1 || n > 65535 {
			return c.errf(d, "checkport must be in 1..65535")
		}
		vd.checkport = uint16(n)
	case "login", "passwd", "database", "secret", "load":
		if _, err := c.quoted(d); err != nil {
			return err
		}
		vd.credentials = append(vd.credentials, d)
	case "scheduler":
		s := schedRe.FindString(d.Value)
		if s == "" {
			return c.errf(d, "invalid scheduler")
		}
		vd.scheduler = s
	case "persistent":
		n, err := strconv.Atoi(numRe.FindString(d.Value))
		if err != nil {
			return c.errf(d, "invalid persistent timeout")
		}
		vd.persistent = n
	case "schedflags":
		vd.schedflags = nonSpaceRe.FindString(d.Value)
		if vd.schedflags == "" {
			return c.errf(d, "invalid sched-flags")
		}
	case "netmask":
		if vd.v6 {
			if n, err := strconv.Atoi(d.Value); err != nil || n < 1 || n > 128 {
				return c.errf(d, "invalid netmask: a prefix length between 1 and 128 is required")
			}
		} else if a, err := netip.ParseAddr(d.Value); err != nil || !a.Is4() {
			return c.errf(d, "invalid netmask: dotted quad notation is required")
		}
		vd.netmask = d.Value
	case "protocol":
		p := wordRe.FindString(d.Value)
		switch {
		case vd.protocol == "fwm" && p != "fwm":
			return c.errf(d, "protocol must be fwm if the virtual service is a fwmark")
		case vd.protocol != "fwm" && p != "tcp" && p != "udp":
			return c.errf(d, "protocol must be tcp or udp if the virtual service is an address and port")
		}
		vd.protocol = p
	case "ops":
		b, ok := yesNo(d)
		if !ok {
			return c.errf(d, "ops must be 'yes' or 'no'")
		}
		vd.ops = b
	case "service":
		s := wordRe.FindString(d.Value)
		if !slices.Contains(services, s) {
			return c.errf(d, "unknown service %q", d.Value)
		}
		vd.service, vd.serviceD = s, &d
	case "httpmethod":
		switch strings.ToUpper(wordRe.FindString(d.Value)) {
		case "GET":
			vd.httpHEAD = nil
		case "HEAD":
			vd.httpHEAD = &d
		default:
			return c.errf(d, "httpmethod must be GET or HEAD")
		}
	case "virtualhost":
		vd.virtualhost = hostRe.FindStringSubmatch(d.Value)[1]
	case "fallback", "fallback6":
		if (d.Key == "fallback6") != vd.v6 {
			return c.errf(d, "cannot specify %s in a %s section", d.Key, vd.d.Key)
		}
		fb, err := c.parseFallback(d)
		if err != nil {
			return err
		}
		vd.fallback = fb
	case "quiescent":
		b, ok := yesNo(d)
		if !ok {
			return c.errf(d, "quiescent must be 'yes' or 'no'")
		}
		vd.quiescent = &b
	case "servicename":
		vd.name = d.Value
	case "comment":
		c.report(d, KindNoEffect, "only used in e-mail alerts")
	case "fallbackcommand":
		c.report(d, KindUnsupported, "GVS has no fallback command (use quorum_up/quorum_down in the GVS file)")
	case "emailalert":
		c.report(d, KindUnsupported, "GVS sends no e-mail alerts")
	case "emailalertfreq", "emailalertstatus", "smtp":
		c.report(d, KindNoEffect, "only used for e-mail alerts")
	case "monitorfile":
		c.report(d, KindUnsupported, "GVS logs check results to its own log, not to a per-service file")
	case "cleanstop":
		b, ok := yesNo(d)
		if !ok {
			return c.errf(d, "cleanstop must be 'yes' or 'no'")
		}
		if !b {
			c.report(d, KindUnsupported, "the virtual services are gvsd's own: they stop with it")
		}
	default:
		c.report(d, KindUnknown, "not an ldirectord virtual service directive")
	}
	return nil
}

// real reads "host[->host2][:port] gate|masq|ipip [weight] ["request",
// "receive"] [l:N] [u:N]".
func (c *conv) real(vd *vdef, d Directive) ([]realDef, error) {
	m := realRe.FindStringSubmatch(d.Value)
	if m == nil {
		return nil, c.errf(d, "invalid address for real server (wrong format)")
	}
	r := realDef{d: d, weight: 1}
	first, err := c.resolve(d, m[1], vd.v6)
	if err != nil {
		return nil, err
	}
	r.addrs = []netip.Addr{first}
	if m[2] != "" {
		if vd.v6 {
			return nil, c.errf(d, "address ranges for IPv6 are not supported (by ldirectord either)")
		}
		last, err := c.resolve(d, m[2], false)
		if err != nil {
			return nil, err
		}
		if last.Less(first) {
			return nil, c.errf(d, "invalid range %s-%s", m[1], m[2])
		}
		for a := first.Next(); a.IsValid() && !last.Less(a); a = a.Next() {
			if len(r.addrs) >= maxDests {
				return nil, c.errf(d, "range %s-%s is too large", m[1], m[2])
			}
			r.addrs = append(r.addrs, a)
		}
	}
	for _, a := range r.addrs {
		s := a.String()
		if vd.v6 {
			s = "[" + s + "]"
		}
		r.text = append(r.text, s)
	}
	if r.port, err = c.port(d, m[3]); err != nil {
		return nil, err
	}
	flags := m[4]
	fm := fwdRe.FindStringSubmatch(flags)
	if fm == nil || (fm[1] != "gate" && fm[1] != "masq" && fm[1] != "ipip") {
		return nil, c.errf(d, "forward method must be gate, masq or ipip")
	}
	r.fwd, flags = fm[1], fm[2]
	if wm := weightRe.FindStringSubmatch(flags); wm != nil {
		w, err := strconv.ParseInt(wm[1], 10, 32)
		if err != nil {
			return nil, c.errf(d, "invalid weight %q", wm[1])
		}
		r.weight, flags = int32(w), wm[2]
	}
	if rm := reqRecvRe.FindStringSubmatch(flags); rm != nil {
		req := rm[1]
		if !strings.HasPrefix(req, "/") {
			req = "/" + req
		}
		recv := rm[2]
		r.request, r.receive, flags = &req, &recv, rm[3]
	}
	if lm := lthRe.FindStringSubmatch(flags); lm != nil {
		v, err := strconv.ParseUint(lm[1], 10, 32)
		if err != nil {
			return nil, c.errf(d, "invalid l-threshold")
		}
		r.lth, flags = uint32(v), lm[2]
	}
	if um := uthRe.FindStringSubmatch(flags); um != nil {
		v, err := strconv.ParseUint(um[1], 10, 32)
		if err != nil {
			return nil, c.errf(d, "invalid u-threshold")
		}
		r.uth, flags = uint32(v), um[2]
	}
	if strings.TrimSpace(flags) != "" {
		return nil, c.errf(d, "invalid real server line around %q", strings.TrimSpace(flags))
	}
	return []realDef{r}, nil
}

func (c *conv) service(vd *vdef) error {
	svc := config.Service{Name: vd.name, Scheduler: vd.scheduler, Line: vd.d.Line}
	if vd.fwmark != 0 {
		svc.FWMark, svc.IPv6 = vd.fwmark, vd.v6
	} else {
		svc.Address, svc.Port = config.Addr(vd.addr), vd.port
		p := ipvs.ProtoTCP
		if vd.protocol == "udp" {
			p = ipvs.ProtoUDP
			svc.OnePacket = vd.ops
		}
		svc.Protocol = config.Protocol(p)
	}
	if vd.persistent >= 0 {
		svc.Persistent = uint32(vd.persistent)
		svc.Netmask = vd.netmask
	}
	if vd.schedflags != "" {
		svc.SchedFlags = strings.Split(vd.schedflags, ",")
	}
	q := c.g.quiescent
	if vd.quiescent != nil {
		q = *vd.quiescent
	}
	if q {
		svc.Health.OnFailure = "inhibit"
	}
	fb := vd.fallback
	if fb == nil {
		fb = c.g.fallback
		if vd.v6 {
			fb = c.g.fallback6
		}
	}
	if fb != nil && vd.checktype != "off" {
		a, err := c.resolve(fb.d, fb.server, vd.v6)
		if err != nil {
			return err
		}
		port, err := c.port(fb.d, fb.port)
		if err != nil {
			return err
		}
		if vd.fwmark != 0 {
			port = 0
		} else if port == 0 {
			port = vd.port
		}
		svc.Health.Sorry = &config.RealServer{Address: config.Addr(a), Port: port, Weight: ptr(int32(1)),
			Forward: forwardOf(fb.fwd), Line: fb.d.Line}
		svc.Health.Quorum = 1
	}
	checks := c.checks(vd)
	for i, r := range vd.reals {
		for j, a := range r.addrs {
			w := r.weight
			if vd.checktype == "off" {
				w = 0
			}
			rs := config.RealServer{Address: config.Addr(a), Port: r.port, Weight: &w, Forward: forwardOf(r.fwd),
				LThreshold: r.lth, UThreshold: r.uth, Line: r.d.Line}
			if rs.Port == 0 && vd.fwmark == 0 {
				rs.Port = vd.port // as ipvsadm does for a server without a port
			}
			rs.Check = checks[i][j]
			svc.RealServers = append(svc.RealServers, rs)
		}
	}
	// one check for all when they are the same
	var common *config.Check
	for i, rs := range svc.RealServers {
		if rs.Check == nil {
			common = nil
			break
		}
		x := *rs.Check
		x.Line = 0
		if i == 0 {
			common = &x
		} else if !equalCheck(common, &x) {
			common = nil
			break
		}
	}
	if common != nil {
		common.Line = svc.RealServers[0].Check.Line
		svc.Check = common
		for i := range svc.RealServers {
			svc.RealServers[i].Check = nil
		}
	}
	c.cfg.Services = append(c.cfg.Services, svc)
	return nil
}

func ptr[T any](v T) *T { return &v }

// maxDests bounds the real servers of a configuration (ranges expand);
// a variable so that the fuzz test can lower it.
var maxDests = 1 << 16
