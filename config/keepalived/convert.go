package keepalived

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/govs/gvs/config"
)

// Kind says why a keyword of the file is not (fully) in the GVS
// configuration, and so whether it stops gvsd from starting.
type Kind string

const (
	// KindUnsupported: GVS cannot do what the keyword asks. Blocking.
	KindUnsupported Kind = "unsupported"
	// KindUnknown: not a keepalived keyword where it stands (a typo, or a
	// keyword of a newer keepalived). keepalived would skip it; GVS does not
	// guess. Blocking.
	KindUnknown Kind = "unknown"
	// KindFailover: VRRP, static addresses/routes/rules, trackers and
	// global_defs are handled by the failover work, not by the load
	// balancer. Not blocking unless Options.FailoverBlocking.
	KindFailover Kind = "failover"
	// KindNoEffect: only changes keepalived's own logging, SNMP naming or
	// kernel internals that GVS does not have. Not blocking.
	KindNoEffect Kind = "no-effect"
	// KindWarning: keepalived reports a configuration error here and runs
	// on with a default or without the value; the conversion does the
	// same. Not blocking.
	KindWarning Kind = "warning"
)

// Unsupported is a keyword of the file that is not, or not exactly, in the
// converted configuration.
type Unsupported struct {
	File    string
	Line    int
	Keyword string
	Kind    Kind
	Reason  string
	// Ignored: the operator allowed it to be dropped (Options.IgnoreUnsupported).
	Ignored bool
	// Blocking: gvsd must refuse to start while it is in the file.
	Blocking bool
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

// Options tune the conversion.
type Options struct {
	// IgnoreUnsupported lists keywords the operator allows to be dropped;
	// "all" allows every one. Ignored entries are still returned, marked.
	IgnoreUnsupported []string
	// FailoverBlocking makes the sections handled by the failover work
	// (VRRP, global_defs...) blocking too, for a gvsd that runs without it.
	FailoverBlocking bool
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

// Load parses a keepalived.conf and converts it.
func Load(path string, popts *ParseOptions, opts Options) (*config.Config, []Unsupported, error) {
	t, err := ParseFile(path, popts)
	if err != nil {
		return nil, nil, err
	}
	return Convert(t, opts)
}

// Convert turns the virtual_server, virtual_server_group and real_server
// sections of a parsed keepalived.conf into a GVS configuration, and lists
// every keyword that is not carried over exactly. The configuration is
// validated (the schedulers must be registered: the daemon imports
// ipvs/sched); a validation error names the keepalived file and line.
func Convert(t *Tree, opts Options) (*config.Config, []Unsupported, error) {
	c := &conv{opts: opts, cfg: &config.Config{}, groups: map[string]*Node{}, file: t.File}
	for _, n := range t.Nodes {
		if n.Keyword == "virtual_server_group" {
			if len(n.Args) == 0 {
				c.report(n, KindWarning, "virtual_server_group needs a name: keepalived skips it")
				continue
			}
			if _, dup := c.groups[n.Args[0]]; dup {
				c.report(n, KindWarning, "virtual_server_group %s is defined again: this definition replaces the earlier one", n.Args[0])
			}
			c.groups[n.Args[0]] = n
		}
	}
	for _, n := range t.Nodes {
		c.top(n)
	}
	for i := range c.out {
		u := &c.out[i]
		u.Ignored = c.ignored(u.Keyword)
		u.Blocking = !u.Ignored && (u.Kind == KindUnsupported || u.Kind == KindUnknown ||
			(u.Kind == KindFailover && opts.FailoverBlocking))
	}
	if err := c.validate(); err != nil {
		return c.cfg, c.out, err
	}
	return c.cfg, c.out, nil
}

type conv struct {
	opts   Options
	cfg    *config.Config
	groups map[string]*Node
	out    []Unsupported
	svcPos []Pos // file and line of each service, for validation errors
	file   string
	dests  int // real servers in all services, bounded by maxDests
}

func (c *conv) ignored(kw string) bool {
	for _, k := range c.opts.IgnoreUnsupported {
		if k == "all" || k == kw {
			return true
		}
	}
	return false
}

func (c *conv) report(n *Node, kind Kind, format string, a ...any) {
	kw := n.Keyword
	if kw == "" {
		kw = `""`
	}
	c.out = append(c.out, Unsupported{File: n.Pos.File, Line: n.Pos.Line, Keyword: kw, Kind: kind,
		Reason: fmt.Sprintf(format, a...)})
}

// failoverRoots are the top-level sections that the failover work handles.
var failoverRoots = map[string]string{
	"global_defs":              "global definitions (router id, notification e-mail, process and VRRP defaults)",
	"vrrp_instance":            "VRRP instance",
	"vrrp_sync_group":          "VRRP sync group",
	"vrrp_script":              "VRRP tracking script",
	"vrrp_track_process":       "VRRP tracked process",
	"vrrp_track_file":          "VRRP tracked file",
	"track_file":               "tracked file",
	"track_group":              "static track group",
	"garp_group":               "gratuitous ARP group",
	"static_ipaddress":         "static addresses",
	"static_routes":            "static routes",
	"static_rules":             "static rules",
	"linkbeat_interfaces":      "linkbeat interfaces",
	"linkbeat_use_polling":     "linkbeat polling",
	"interface_up_down_delays": "interface up/down delays",
	"bfd_instance":             "BFD instance",
}

func (c *conv) top(n *Node) {
	switch n.Keyword {
	case "virtual_server_group":
		// expanded where a virtual_server uses it
	case "virtual_server":
		c.virtualServer(n)
	case "global_defs":
		c.globalDefs(n)
	case "SSL":
		c.report(n, KindUnsupported, "SSL_GET client certificate, key and CA files: GVS's https check presents no client certificate")
	case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets":
		c.report(n, KindUnsupported, "gvsd does not switch network namespace: run it in the namespace instead")
	case "use_pid_dir", "instance", "child_wait_time":
		c.report(n, KindNoEffect, "keepalived process setting: gvsd has none")
	default:
		if what, ok := failoverRoots[n.Keyword]; ok {
			name := ""
			if len(n.Args) > 0 {
				name = " " + n.Args[0]
			}
			c.report(n, KindFailover, "%s%s: handled by the failover work", what, name)
			return
		}
		c.report(n, KindUnknown, "not a keepalived top-level keyword")
	}
}

// globalDefs converts lvs_timeouts; the rest of the section is the
// failover work's.
func (c *conv) globalDefs(n *Node) {
	var others []string
	for _, k := range n.Block {
		if k.Keyword != "lvs_timeouts" {
			others = append(others, k.Keyword)
			continue
		}
		if len(k.Args) < 2 {
			c.report(k, KindWarning, "lvs_timeouts needs at least one option: keepalived ignores it")
			continue
		}
		for i := 0; i < len(k.Args); i++ {
			opt := k.Args[i]
			if opt != "tcp" && opt != "tcpfin" && opt != "udp" {
				c.report(k, KindWarning, "unknown lvs_timeouts option %q: keepalived ignores it", opt)
				continue
			}
			if i+1 >= len(k.Args) {
				c.report(k, KindWarning, "lvs_timeouts %s has no value: keepalived ignores it", opt)
				continue
			}
			i++
			v, ok := parseUint(k.Args[i], 0, 86400*31)
			if !ok {
				c.report(k, KindWarning, "invalid lvs_timeouts %s %q: keepalived ignores it", opt, k.Args[i])
				continue
			}
			switch opt {
			case "tcp":
				c.cfg.Timeouts.TCP = uint32(v)
			case "tcpfin":
				c.cfg.Timeouts.TCPFin = uint32(v)
			case "udp":
				c.cfg.Timeouts.UDP = uint32(v)
			}
		}
	}
	if len(others) > 0 || len(n.Block) == 0 {
		c.report(n, KindFailover, "%s (%s): handled by the failover work", failoverRoots["global_defs"], summarize(others))
	}
}

func summarize(kws []string) string {
	seen := map[string]bool{}
	var u []string
	for _, k := range kws {
		if !seen[k] {
			seen[k] = true
			u = append(u, k)
		}
	}
	if len(u) == 0 {
		return "empty"
	}
	if len(u) > 6 {
		return strings.Join(u[:6], ", ") + fmt.Sprintf(" and %d more", len(u)-6)
	}
	return strings.Join(u, ", ")
}

// validate checks the configuration. Errors carry the line of a service
// or real server: the file is the one of the virtual_server it came from
// (services of other files with the same line are told apart by
// validating them alone).
func (c *conv) validate() error {
	err := c.cfg.Validate()
	if err == nil {
		return nil
	}
	var le *config.LineError
	if !errors.As(err, &le) || le.Line == 0 {
		return c.locate(err, Pos{File: c.file})
	}
	var cand []int
	files := map[string]bool{}
	for i := range c.cfg.Services {
		s := &c.cfg.Services[i]
		hit := s.Line == le.Line
		for j := range s.RealServers {
			hit = hit || s.RealServers[j].Line == le.Line
		}
		if hit {
			cand = append(cand, i)
			files[c.svcPos[i].File] = true
		}
	}
	if len(cand) == 0 {
		return c.locate(err, Pos{File: c.file})
	}
	if len(files) > 1 {
		for _, i := range cand {
			one := config.Config{Services: []config.Service{c.cfg.Services[i]}}
			if e := one.Validate(); e != nil {
				return c.locate(e, c.svcPos[i])
			}
		}
	}
	return c.locate(err, c.svcPos[cand[len(cand)-1]])
}

func (c *conv) locate(err error, p Pos) error {
	var le *config.LineError
	if errors.As(err, &le) {
		if le.Line > 0 {
			p.Line = le.Line
		}
		return &Error{Pos: p, Msg: le.Msg}
	}
	return &Error{Pos: p, Msg: err.Error()}
}

// Keywords returns the sorted, distinct keywords of a list (for messages).
func Keywords(list []Unsupported) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range list {
		if !seen[u.Keyword] {
			seen[u.Keyword] = true
			out = append(out, u.Keyword)
		}
	}
	sort.Strings(out)
	return out
}
