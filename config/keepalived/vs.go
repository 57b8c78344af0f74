package keepalived

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// keepalived's defaults (check_data.c, libipvs.h).
const (
	defaultPersistence = 360 // persistence_timeout without a value
	maxPersistence     = 86400 * 31
	defaultScheduler   = "wlc"
	defaultDelayLoop   = 60 * time.Second
	defaultConnTimeout = 5 * time.Second
)

// Bounds of the expansion of groups (variables so that the fuzz test can
// lower them).
var (
	maxServices = 1 << 16 // virtual services over the whole configuration
	maxDests    = 1 << 20 // real servers over all services
)

var kaSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"}

type fwdSpec struct {
	method ipvs.ForwardMethod
	tunnel config.Tunnel
}

type sorryDef struct {
	n    *Node
	addr netip.Addr
	port uint16
	fwd  *fwdSpec
}

type vsDef struct {
	n      *Node
	addr   netip.Addr
	port   uint16
	fwmark uint32
	group  *Node

	family     int // 4 or 6 from ip_family, 0 unset
	sched      string
	flags      []string
	ops        bool
	fwd        *fwdSpec
	pe         string
	persist    uint32
	gran       *Node
	proto      config.Protocol
	vhost      string
	alpha      bool
	omega      bool
	quorum     uint64
	quorumSet  bool
	hyst       uint64
	qUp, qDown []string
	weight     int32
	sorry      *sorryDef
	inhibit    bool
	retry      *uint64
	dbr        *time.Duration
	cto        time.Duration
	delay      time.Duration
	reals      []*rsDef
}

type rsDef struct {
	n                    *Node
	addr                 netip.Addr
	port                 uint16
	weight               *int32
	fwd                  *fwdSpec
	uth, lth             uint32
	inhibit, alpha       *bool
	notifyUp, notifyDown []string
	retry                *uint64
	dbr, cto, delay      *time.Duration
	vhost                string
	checkers             []*Node
}

// member is one virtual service a virtual_server stands for.
type member struct {
	addr   netip.Addr
	port   uint16
	fwmark uint32
	family int // fwmark members: 4, 6 or 0 (from the real servers)
}

func (c *conv) virtualServer(n *Node) {
	vs := &vsDef{n: n, quorum: 1, weight: 1, cto: defaultConnTimeout, delay: defaultDelayLoop}
	switch {
	case len(n.Args) == 0:
		c.report(n, KindWarning, "virtual_server needs an address, fwmark or group: keepalived skips it")
		return
	case n.Args[0] == "group":
		g, ok := c.groups[n.Arg(1)]
		if !ok {
			c.report(n, KindWarning, "virtual_server_group %q is not defined: keepalived skips this virtual server", n.Arg(1))
			return
		}
		vs.group = g
	case n.Args[0] == "fwmark":
		v, ok := parseUint(n.Arg(1), 1, math.MaxUint32)
		if !ok {
			c.report(n, KindWarning, "invalid fwmark %q: keepalived skips this virtual server", n.Arg(1))
			return
		}
		vs.fwmark = uint32(v)
	default:
		a, ok := parseAddr(n.Args[0])
		p, pok := parsePort(n.Arg(1))
		if !ok || !pok {
			c.report(n, KindWarning, "invalid virtual server address/port %q %q: keepalived skips it", n.Args[0], n.Arg(1))
			return
		}
		vs.addr, vs.port = a, p
	}
	if len(n.Args) > 2 {
		c.report(n, KindWarning, "extra arguments %q after the virtual server: keepalived ignores them", n.Args[2:])
	}
	for _, k := range n.Block {
		c.vsKeyword(vs, k)
	}
	c.finishVS(vs)
}

func (c *conv) vsKeyword(vs *vsDef, k *Node) {
	switch k.Keyword {
	case "ip_family":
		switch k.Arg(0) {
		case "inet":
			vs.family = 4
		case "inet6":
			vs.family = 6
		default:
			c.report(k, KindWarning, "unknown address family %q (want inet or inet6): keepalived ignores it", k.Arg(0))
		}
	case "retry":
		if v, ok := parseUint(k.Arg(0), 1, math.MaxUint32); ok {
			vs.retry = &v
		} else {
			c.report(k, KindWarning, "invalid retry %q: keepalived ignores it", k.Arg(0))
		}
	case "delay_before_retry":
		if d, ok := parseTimer(k.Arg(0)); ok {
			vs.dbr = &d
		} else {
			c.report(k, KindWarning, "invalid delay_before_retry %q: keepalived ignores it", k.Arg(0))
		}
	case "connect_timeout":
		if d, ok := parseTimer(k.Arg(0)); ok && d > 0 {
			vs.cto = d
		} else {
			c.report(k, KindWarning, "invalid connect_timeout %q: keepalived ignores it", k.Arg(0))
		}
	case "delay_loop":
		if d, ok := parseTimer(k.Arg(0)); ok && d > 0 {
			vs.delay = d
		} else {
			c.report(k, KindWarning, "invalid delay_loop %q: keepalived ignores it", k.Arg(0))
		}
	case "warmup":
		c.report(k, KindUnsupported, "GVS has no warmup (random delay before a server's first check)")
	case "inhibit_on_failure":
		vs.inhibit = true
	case "lb_algo", "lvs_sched":
		c.scheduler(vs, k)
	case "hashed":
		c.report(k, KindNoEffect, "a kernel-internal flag with no effect on scheduling")
	case "ops":
		vs.ops = true
	case "flag-1", "flag-2", "flag-3":
		addFlag(&vs.flags, k.Keyword)
	case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
		if want := k.Keyword[:2]; vs.sched != want {
			c.report(k, KindWarning, "%s only applies to the %s scheduler (the scheduler here is %q): keepalived ignores it", k.Keyword, want, vs.sched)
		} else {
			addFlag(&vs.flags, k.Keyword)
		}
	case "lb_kind", "lvs_method":
		if f, ok := c.forward(k, vs.fwd); ok {
			vs.fwd = f
		}
	case "persistence_engine":
		if k.Arg(0) == "" {
			c.report(k, KindWarning, "persistence_engine needs a name: keepalived ignores it")
		} else {
			vs.pe = k.Arg(0)
		}
	case "persistence_timeout":
		if len(k.Args) == 0 {
			vs.persist = defaultPersistence
		} else if v, ok := parseUint(k.Arg(0), 1, maxPersistence); ok {
			vs.persist = uint32(v)
		} else {
			c.report(k, KindWarning, "invalid persistence_timeout %q: keepalived ignores it", k.Arg(0))
		}
	case "persistence_granularity":
		vs.gran = k
		if vs.persist == 0 {
			vs.persist = defaultPersistence
		}
	case "protocol":
		switch strings.ToUpper(k.Arg(0)) {
		case "TCP":
			vs.proto = config.Protocol(ipvs.ProtoTCP)
		case "UDP":
			vs.proto = config.Protocol(ipvs.ProtoUDP)
		case "SCTP":
			vs.proto = config.Protocol(ipvs.ProtoSCTP)
		default:
			c.report(k, KindWarning, "unknown protocol %q: keepalived ignores it", k.Arg(0))
		}
	case "ha_suspend":
		c.report(k, KindUnsupported, "GVS does not suspend checks while the virtual address is not configured")
	case "smtp_alert":
		c.smtpAlert(k)
	case "virtualhost":
		if k.Arg(0) == "" {
			c.report(k, KindWarning, "virtualhost needs a name: keepalived ignores it")
		} else {
			vs.vhost = k.Arg(0)
		}
	case "snmp_name":
		c.report(k, KindNoEffect, "GVS has no SNMP agent")
	case "alpha":
		vs.alpha = true
	case "omega":
		vs.omega = true
	case "quorum_up", "quorum_down":
		argv, ok := c.script(k)
		if !ok {
			return
		}
		dst := &vs.qUp
		if k.Keyword == "quorum_down" {
			dst = &vs.qDown
		}
		if *dst != nil {
			c.report(k, KindWarning, "%s is already set: keepalived ignores this one", k.Keyword)
			return
		}
		*dst = argv
	case "quorum":
		v, ok := parseUint(k.Arg(0), 1, math.MaxUint32)
		if !ok {
			c.report(k, KindWarning, "quorum %q must be in 1..%d: keepalived sets it to 1", k.Arg(0), uint32(math.MaxUint32))
			v = 1
		}
		vs.quorum, vs.quorumSet = v, true
	case "hysteresis":
		if v, ok := parseUint(k.Arg(0), 0, math.MaxUint32); ok {
			vs.hyst = v
		} else {
			c.report(k, KindWarning, "invalid hysteresis %q: keepalived ignores it", k.Arg(0))
		}
	case "weight":
		if v, ok := parseUint(k.Arg(0), 1, math.MaxInt32); ok {
			vs.weight = int32(v)
		} else {
			c.report(k, KindWarning, "virtual server weight %q is outside 1..%d: keepalived ignores it", k.Arg(0), math.MaxInt32)
		}
	case "sorry_server":
		a, ok := parseAddr(k.Arg(0))
		p, pok := parsePort(k.Arg(1))
		if !ok || !pok {
			c.report(k, KindWarning, "invalid sorry server %q %q: keepalived skips it", k.Arg(0), k.Arg(1))
			return
		}
		vs.sorry = &sorryDef{n: k, addr: a, port: p, fwd: vs.fwd}
	case "sorry_server_inhibit":
		if vs.sorry == nil {
			c.report(k, KindWarning, "sorry_server_inhibit before or without sorry_server: keepalived ignores it")
		} else {
			c.report(k, KindUnsupported, "GVS always removes the sorry server when it is not needed (no inhibit for it)")
		}
	case "sorry_server_lvs_method":
		if vs.sorry == nil {
			c.report(k, KindWarning, "sorry_server_lvs_method before or without sorry_server: keepalived ignores it")
		} else if f, ok := c.forward(k, vs.sorry.fwd); ok {
			vs.sorry.fwd = f
		}
	case "real_server":
		if rs := c.realServer(vs, k); rs != nil {
			vs.reals = append(vs.reals, rs)
		}
	default:
		c.report(k, KindUnknown, "not a virtual_server keyword")
	}
}

func addFlag(flags *[]string, f string) {
	if !slices.Contains(*flags, f) {
		*flags = append(*flags, f)
	}
}

func (c *conv) scheduler(vs *vsDef, k *Node) {
	s := k.Arg(0)
	if !slices.Contains(kaSchedulers, s) {
		c.report(k, KindWarning, "invalid scheduler %q: keepalived ignores it", s)
		return
	}
	if reg := ipvs.Schedulers(); len(reg) > 0 && !slices.Contains(reg, s) {
		c.report(k, KindUnsupported, "GVS has no %q scheduler", s)
		return
	}
	vs.sched = s
}

func (c *conv) smtpAlert(k *Node) {
	on, ok := parseBool(k)
	switch {
	case !ok:
		c.report(k, KindWarning, "invalid smtp_alert %q: keepalived ignores it", k.Arg(0))
	case on:
		c.report(k, KindUnsupported, "GVS sends no e-mail alerts (use notify scripts)")
	}
}

// forward reads lvs_method/lb_kind: NAT|DR|TUN [type ipip|gue port N|gre]
// [nocsum|csum|remcsum]. The tunnel options start from prev's.
func (c *conv) forward(k *Node, prev *fwdSpec) (*fwdSpec, bool) {
	f := &fwdSpec{}
	if prev != nil {
		*f = *prev
	}
	switch k.Arg(0) {
	case "NAT":
		f.method = ipvs.Masq
	case "DR":
		f.method = ipvs.Route
	case "TUN":
		f.method = ipvs.Tunnel
	default:
		c.report(k, KindWarning, "unknown forwarding method %q (want NAT, DR or TUN): keepalived ignores it", k.Arg(0))
		return nil, false
	}
	typ, port, csum := "ipip", uint16(0), ""
	for i := 1; i < len(k.Args); i++ {
		switch a := k.Args[i]; a {
		case "type":
			i++
			switch t := k.Arg(i); t {
			case "ipip", "gue", "gre":
				typ = t
			default:
				c.report(k, KindWarning, "unknown tunnel type %q: keepalived ignores %s", t, k.Keyword)
				return nil, false
			}
		case "port":
			i++
			v, ok := parseUint(k.Arg(i), 1, 65535)
			if !ok {
				c.report(k, KindWarning, "invalid gue tunnel port %q: keepalived ignores %s", k.Arg(i), k.Keyword)
				return nil, false
			}
			port = uint16(v)
		case "nocsum":
			csum = ""
		case "csum", "remcsum":
			csum = a
		default:
			c.report(k, KindWarning, "invalid tunnel option %q: keepalived ignores %s", a, k.Keyword)
			return nil, false
		}
	}
	if (typ == "gue") != (port != 0) {
		c.report(k, KindWarning, "gue tunnels need a port and other tunnels take none: keepalived ignores %s", k.Keyword)
		return nil, false
	}
	if typ == "ipip" && csum != "" || typ == "gre" && csum == "remcsum" {
		c.report(k, KindWarning, "%s tunnels do not support %s: keepalived ignores %s", typ, csum, k.Keyword)
		return nil, false
	}
	f.tunnel = config.Tunnel{}
	if f.method == ipvs.Tunnel {
		f.tunnel = config.Tunnel{Port: port, Checksum: csum}
		if typ != "ipip" {
			f.tunnel.Type = typ
		}
	}
	return f, true
}

// script reads "KEYWORD 'script args' [user [group]]" as keepalived does.
func (c *conv) script(k *Node) ([]string, bool) {
	words := SplitQuoted(k.Raw, false)
	if len(words) < 2 {
		c.report(k, KindWarning, "%s needs a script: keepalived ignores it", k.Keyword)
		return nil, false
	}
	argv := SplitQuoted(words[1], true)
	if len(argv) == 0 || argv[0] == "" {
		c.report(k, KindWarning, "%s has an empty script: keepalived ignores it", k.Keyword)
		return nil, false
	}
	if len(words) > 2 {
		c.report(k, KindUnsupported, "runs the script as user %s: GVS runs notify scripts as its own user", strings.Join(words[2:], ":"))
	}
	return argv, true
}

func (c *conv) realServer(vs *vsDef, n *Node) *rsDef {
	a, ok := parseAddr(n.Arg(0))
	p, pok := parsePort(n.Arg(1))
	if !ok || !pok {
		c.report(n, KindWarning, "invalid real server address/port %q %q: keepalived skips it", n.Arg(0), n.Arg(1))
		return nil
	}
	rs := &rsDef{n: n, addr: a, port: p}
	for _, k := range n.Block {
		c.rsKeyword(rs, k)
	}
	return rs
}

func (c *conv) rsKeyword(rs *rsDef, k *Node) {
	setTimer := func(dst **time.Duration, min time.Duration) {
		if d, ok := parseTimer(k.Arg(0)); ok && d >= min {
			*dst = &d
		} else {
			c.report(k, KindWarning, "invalid %s %q: keepalived ignores it", k.Keyword, k.Arg(0))
		}
	}
	setBool := func(dst **bool) {
		if v, ok := parseBool(k); ok {
			*dst = &v
		} else {
			c.report(k, KindWarning, "invalid %s %q: keepalived ignores it", k.Keyword, k.Arg(0))
		}
	}
	switch k.Keyword {
	case "weight":
		if v, ok := parseUint(k.Arg(0), 0, math.MaxInt32); ok {
			w := int32(v)
			rs.weight = &w
		} else {
			c.report(k, KindWarning, "real server weight %q is outside 0..%d: keepalived ignores it", k.Arg(0), math.MaxInt32)
		}
	case "lvs_method", "lb_kind":
		if k.Keyword == "lb_kind" {
			c.report(k, KindUnknown, "not a real_server keyword (use lvs_method)")
			return
		}
		if f, ok := c.forward(k, rs.fwd); ok {
			rs.fwd = f
		}
	case "uthreshold", "lthreshold":
		v, ok := parseUint(k.Arg(0), 0, math.MaxUint32)
		if !ok {
			c.report(k, KindWarning, "invalid %s %q: keepalived ignores it", k.Keyword, k.Arg(0))
			return
		}
		if k.Keyword == "uthreshold" {
			rs.uth = uint32(v)
		} else {
			rs.lth = uint32(v)
		}
	case "inhibit_on_failure":
		setBool(&rs.inhibit)
	case "alpha":
		setBool(&rs.alpha)
	case "notify_up", "notify_down":
		argv, ok := c.script(k)
		if !ok {
			return
		}
		dst := &rs.notifyUp
		if k.Keyword == "notify_down" {
			dst = &rs.notifyDown
		}
		if *dst != nil {
			c.report(k, KindWarning, "%s is already set: keepalived ignores this one", k.Keyword)
			return
		}
		*dst = argv
	case "retry":
		if v, ok := parseUint(k.Arg(0), 1, math.MaxUint32); ok {
			rs.retry = &v
		} else {
			c.report(k, KindWarning, "invalid retry %q: keepalived ignores it", k.Arg(0))
		}
	case "delay_before_retry":
		setTimer(&rs.dbr, 0)
	case "connect_timeout":
		setTimer(&rs.cto, time.Microsecond)
	case "delay_loop":
		setTimer(&rs.delay, time.Microsecond)
	case "warmup":
		c.report(k, KindUnsupported, "GVS has no warmup (random delay before a server's first check)")
	case "smtp_alert":
		c.smtpAlert(k)
	case "virtualhost":
		if k.Arg(0) == "" {
			c.report(k, KindWarning, "virtualhost needs a name: keepalived ignores it")
		} else {
			rs.vhost = k.Arg(0)
		}
	case "snmp_name":
		c.report(k, KindNoEffect, "GVS has no SNMP agent")
	case "HTTP_GET", "SSL_GET", "TCP_CHECK", "SMTP_CHECK", "DNS_CHECK", "MISC_CHECK", "UDP_CHECK", "PING_CHECK":
		rs.checkers = append(rs.checkers, k)
	case "BFD_CHECK":
		c.report(k, KindUnsupported, "GVS has no BFD checker")
	case "FILE_CHECK":
		c.report(k, KindUnsupported, "GVS has no file checker (track_file weights)")
	default:
		c.report(k, KindUnknown, "not a real_server keyword")
	}
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// members expands the virtual server into the services it stands for.
func (c *conv) members(vs *vsDef) []member {
	switch {
	case vs.group != nil:
		return c.groupMembers(vs.group)
	case vs.fwmark != 0:
		return []member{{fwmark: vs.fwmark, family: vs.family}}
	default:
		return []member{{addr: vs.addr, port: vs.port}}
	}
}

func (c *conv) finishVS(vs *vsDef) {
	n := vs.n
	ms := c.members(vs)
	if len(ms) == 0 {
		c.report(n, KindWarning, "the virtual server group has no valid entry: keepalived skips this virtual server")
		return
	}
	hasAddr := false
	for _, m := range ms {
		if m.fwmark == 0 {
			hasAddr = true
		}
	}
	// the family of the virtual service: from its address, its group's
	// addresses, ip_family, or its non-tunnelled servers
	fam := vs.family
	if !hasAddr && vs.proto != 0 {
		c.report(n, KindWarning, "protocol set on a fwmark virtual server: keepalived ignores it")
	}
	if hasAddr {
		if vs.proto == 0 {
			c.report(n, KindWarning, "no protocol: keepalived defaults to UDP")
			vs.proto = config.Protocol(ipvs.ProtoUDP)
		}
		if vs.ops && vs.proto != config.Protocol(ipvs.ProtoUDP) {
			c.report(n, KindWarning, "ops (one-packet scheduling) needs UDP: keepalived clears it")
			vs.ops = false
		}
		if vs.persist == 0 {
			for _, m := range ms {
				if m.fwmark == 0 && m.port == 0 {
					c.report(n, KindWarning, "port 0 is only valid for persistent services: keepalived makes it persistent (%ds)", defaultPersistence)
					vs.persist = defaultPersistence
					break
				}
			}
		}
	}
	if vs.sched == "" {
		vs.sched = defaultScheduler
	}
	defFwd := vs.fwd
	if defFwd == nil {
		defFwd = &fwdSpec{method: ipvs.Masq}
	}
	// real servers, in keepalived's order, without duplicates
	var reals []*rsDef
	var rservers []config.RealServer
	for _, rs := range vs.reals {
		dup := false
		for _, o := range reals {
			if o.addr == rs.addr && o.port == rs.port {
				dup = true
			}
		}
		if dup {
			c.report(rs.n, KindWarning, "real server %s is duplicated: keepalived removes the second one", rs.n.Arg(0))
			continue
		}
		f := rs.fwd
		if f == nil {
			f = defFwd
		}
		if f.method != ipvs.Tunnel && !hasAddr {
			if fam == 0 {
				fam = familyOf(rs.addr)
			} else if familyOf(rs.addr) != fam {
				c.report(rs.n, KindWarning, "the address families of the virtual and real server differ: keepalived skips the real server")
				continue
			}
		}
		reals = append(reals, rs)
		w := vs.weight
		if rs.weight != nil {
			w = *rs.weight
		}
		r := config.RealServer{Address: config.Addr(rs.addr), Port: rs.port, Weight: &w,
			Forward: config.Forward(f.method), Tunnel: f.tunnel, UThreshold: rs.uth, LThreshold: rs.lth,
			NotifyUp: rs.notifyUp, NotifyDown: rs.notifyDown, Line: rs.n.Pos.Line}
		rservers = append(rservers, r)
	}
	if len(reals) == 0 {
		c.report(n, KindWarning, "virtual server has no real servers: keepalived ignores it")
		return
	}
	if !hasAddr && fam == 0 {
		if vs.sorry != nil {
			fam = familyOf(vs.sorry.addr)
		} else {
			fam = familyOf(reals[0].addr)
		}
	}
	health := c.health(vs, reals, hasAddr, fam, ms)
	checks, alpha := c.checks(vs, reals)
	health.Alpha = alpha
	common := hoist(checks)

	var netmask string
	if vs.gran != nil {
		netmask = c.granularity(vs, fam, hasAddr, ms)
	}
	// the family of fwmark members without one: the group's addresses' if
	// they agree, else the virtual server's
	addrFam := 0
	for _, m := range ms {
		switch {
		case m.fwmark != 0:
		case addrFam == 0:
			addrFam = familyOf(m.addr)
		case addrFam != familyOf(m.addr):
			addrFam = -1
		}
	}
	if addrFam <= 0 {
		addrFam = fam
	}
	if addrFam == 0 {
		addrFam = 4
	}
	warned := map[*rsDef]bool{}
	for _, m := range ms {
		mfam := m.family
		switch {
		case m.fwmark == 0:
			mfam = familyOf(m.addr)
		case mfam == 0:
			mfam = addrFam
		}
		// non-tunnelled real servers must be of the member's family
		var keep []int
		for i, rs := range reals {
			if rservers[i].Forward != config.Forward(ipvs.Tunnel) && familyOf(rs.addr) != mfam {
				if !warned[rs] {
					warned[rs] = true
					c.report(rs.n, KindWarning, "the address families of the virtual and real server differ: keepalived skips the real server")
				}
				continue
			}
			keep = append(keep, i)
		}
		if len(keep) == 0 {
			continue
		}
		if len(c.cfg.Services) >= maxServices {
			c.report(n, KindUnsupported, "the configuration expands to more than %d virtual services", maxServices)
			return
		}
		if c.dests += len(keep); c.dests > maxDests {
			c.report(n, KindUnsupported, "the configuration expands to more than %d real servers", maxDests)
			return
		}
		svc := config.Service{Scheduler: vs.sched, SchedFlags: slices.Clone(vs.flags), Persistent: vs.persist,
			Netmask: netmask, PE: vs.pe, Health: health, Line: n.Pos.Line}
		if m.fwmark != 0 {
			svc.FWMark = m.fwmark
			svc.IPv6 = mfam == 6
		} else {
			svc.Protocol, svc.Address, svc.Port = vs.proto, config.Addr(m.addr), m.port
			svc.OnePacket = vs.ops
		}
		if svc.Health.Sorry != nil {
			s := *svc.Health.Sorry
			switch {
			case m.fwmark != 0:
				s.Port = 0
			case s.Port == 0:
				s.Port = m.port
			}
			svc.Health.Sorry = &s
		}
		for _, i := range keep {
			r := rservers[i]
			r.Weight = ptr(*r.Weight)
			if r.Port == 0 && m.fwmark == 0 {
				r.Port = m.port // the kernel sends to the virtual port then
			}
			if common == nil && checks[i] != nil {
				r.Check = cloneCheck(checks[i])
			}
			svc.RealServers = append(svc.RealServers, r)
		}
		if common != nil {
			svc.Check = cloneCheck(common)
		}
		c.cfg.Services = append(c.cfg.Services, svc)
		c.svcPos = append(c.svcPos, n.Pos)
	}
}

func ptr[T any](v T) *T { return &v }

func firstAddr(ms []member) netip.Addr {
	for _, m := range ms {
		if m.fwmark == 0 {
			return m.addr
		}
	}
	return netip.Addr{}
}

// granularity checks persistence_granularity against the service family.
func (c *conv) granularity(vs *vsDef, fam int, hasAddr bool, ms []member) string {
	k := vs.gran
	s := k.Arg(0)
	if hasAddr {
		fam = familyOf(firstAddr(ms))
	}
	if fam == 0 {
		fam = 4
		if !strings.Contains(s, ".") {
			fam = 6
		}
	}
	if fam == 6 {
		if _, ok := parseUint(s, 1, 128); ok {
			return s
		}
	} else if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return s
	}
	c.report(k, KindWarning, "invalid persistence_granularity %q for IPv%d: keepalived ignores it", s, fam)
	return ""
}

// health gathers the per-service behaviour; settings keepalived allows per
// real server must agree across them, GVS having them per service.
func (c *conv) health(vs *vsDef, reals []*rsDef, hasAddr bool, fam int, ms []member) config.Health {
	h := config.Health{Omega: vs.omega, QuorumUp: vs.qUp, QuorumDown: vs.qDown}
	// inhibit_on_failure
	var inh *bool
	for _, rs := range reals {
		v := vs.inhibit
		if rs.inhibit != nil {
			v = *rs.inhibit
		}
		if inh == nil {
			inh = &v
		} else if *inh != v {
			c.report(rs.n, KindUnsupported, "inhibit_on_failure differs between the real servers of one virtual server: GVS sets it per service")
		}
	}
	if inh != nil && *inh {
		h.OnFailure = "inhibit"
	}
	// quorum and hysteresis as keepalived corrects them
	var sum uint64
	for _, rs := range reals {
		w := uint64(vs.weight)
		if rs.weight != nil {
			w = uint64(*rs.weight)
		}
		sum += w
	}
	q, hy := vs.quorum, vs.hyst
	if q > sum {
		c.report(vs.n, KindWarning, "quorum %d exceeds the total weight %d of the real servers: keepalived lowers it to %d", q, sum, sum)
		q = sum
	}
	if hy >= q && (hy > 0 || q > 0) {
		nh := uint64(0)
		if q > 0 {
			nh = q - 1
		}
		if hy != nh {
			c.report(vs.n, KindWarning, "hysteresis %d is not below the quorum %d: keepalived sets it to %d", hy, q, nh)
		}
		hy = nh
	}
	if vs.quorumSet || vs.sorry != nil || vs.qUp != nil || vs.qDown != nil || hy != 0 {
		h.Quorum = int(min(q, math.MaxInt32))
		h.Hysteresis = int(min(hy, math.MaxInt32))
	}
	if s := vs.sorry; s != nil {
		f := s.fwd
		if f == nil {
			f = vs.fwd
		}
		if f == nil {
			f = &fwdSpec{method: ipvs.Masq}
		}
		vfam := fam
		if hasAddr {
			vfam = familyOf(firstAddr(ms))
		}
		if f.method != ipvs.Tunnel && vfam != 0 && familyOf(s.addr) != vfam {
			c.report(s.n, KindWarning, "the address families of the virtual server and sorry server differ: keepalived skips the sorry server")
		} else {
			h.Sorry = &config.RealServer{Address: config.Addr(s.addr), Port: s.port, Weight: ptr(int32(1)),
				Forward: config.Forward(f.method), Tunnel: f.tunnel, Line: s.n.Pos.Line}
		}
	}
	return h
}
