//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Options shape a lab. The zero value is the default lab.
type Options struct {
	// Prefix starts every namespace's name: "gvs" gives gvs-client,
	// gvs-router, gvs-dir, gvs-rs1... Lower-case letters and digits, at
	// most 12; labs with different prefixes never collide.
	Prefix    string
	Servers   int  // real servers (default 3, at most MaxServers)
	Director2 bool // a second director, dir2 at 10.0.2.2
	// WorkDir holds configurations, logs, captures, built commands and the
	// big file. Default: a new temporary directory that Down removes; a
	// given one is kept.
	WorkDir    string
	BigFile    int64 // size of /big on every real server (0: none; see SetBigFile)
	NoServices bool  // start no nginx, dnsmasq or UDP echo
	NoDecap    bool  // start no gvs-tundecap
	GUEPort    int   // the decapsulators' GUE port (default GUEPort)
}

var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = "gvs"
	}
	if !prefixPattern.MatchString(o.Prefix) {
		return o, fmt.Errorf("lab: prefix %q: want lower-case letters and digits, at most 12", o.Prefix)
	}
	if o.Servers == 0 {
		o.Servers = 3
	}
	if o.Servers < 1 || o.Servers > MaxServers {
		return o, fmt.Errorf("lab: %d real servers: want 1..%d", o.Servers, MaxServers)
	}
	if o.GUEPort == 0 {
		o.GUEPort = GUEPort
	}
	return o, nil
}

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	Opts Options
	Dir  string // the work directory

	runDir  string // pid files and the state record, found again by prefix
	ownsDir bool   // Dir was made by Up: Down removes it

	mu      sync.Mutex
	buildMu sync.Mutex
	procs   map[string]*proc // processes this Lab started, by name
	bins    map[string]string
	down    bool
}

// Available reports why the lab cannot run on this machine, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the lab needs iproute2 (ip)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return errors.New("the lab needs /dev/net/tun")
	}
	return nil
}

// ServicesAvailable reports why the real servers' services cannot run,
// or nil.
func ServicesAvailable() error {
	for _, b := range []struct{ bin, pkg string }{{"nginx", "nginx-light"}, {"dnsmasq", "dnsmasq-base"}} {
		if _, err := lookPath(b.bin); err != nil {
			return fmt.Errorf("the lab's services need %s (Debian package %s)", b.bin, b.pkg)
		}
	}
	return nil
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// NS returns the name of a role's namespace: "client", "router", "dir",
// "dir2", "rs1"... A full name (with the prefix) is returned as it is.
func (l *Lab) NS(role string) string {
	if strings.HasPrefix(role, l.Opts.Prefix+"-") {
		return role
	}
	return l.Opts.Prefix + "-" + role
}

// Hosts lists the lab's namespaces with their addresses.
func (l *Lab) Hosts() []Host { return plan(l.Opts.Prefix, l.Opts.Servers, l.Opts.Director2) }

func (l *Lab) roles() []string {
	var r []string
	for _, h := range l.Hosts() {
		r = append(r, h.Role)
	}
	return r
}

// state is what a lab records about itself under its run directory, so
// another process (gvs-lab status, down) finds it by prefix.
type state struct {
	Options Options
	Dir     string
	OwnsDir bool
}

// runDirFor is where a prefix's pid files and state live: /run is a tmpfs,
// so nothing there outlives a reboot and a recorded pid is never stale
// across one.
func runDirFor(prefix string) string {
	base := "/run/gvs-lab"
	if err := os.MkdirAll(base, 0o700); err != nil {
		base = filepath.Join(os.TempDir(), "gvs-lab-run")
	}
	return filepath.Join(base, prefix)
}

// Up builds a lab: namespaces, links, addresses, routes and sysctls, then
// the decapsulators and services, and returns once everything answers. A
// lab left behind by a crash with the same prefix is removed first; on
// error everything built so far is removed.
func Up(ctx context.Context, opts Options) (_ *Lab, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	if !opts.NoServices {
		if err := ServicesAvailable(); err != nil {
			return nil, err
		}
	}
	if err := Clean(opts.Prefix); err != nil {
		return nil, fmt.Errorf("lab: removing an old lab %q: %w", opts.Prefix, err)
	}
	l := &Lab{Opts: opts, runDir: runDirFor(opts.Prefix), procs: map[string]*proc{}, bins: map[string]string{}}
	if err := os.MkdirAll(filepath.Join(l.runDir, "pids"), 0o700); err != nil {
		return nil, err
	}
	if opts.WorkDir == "" {
		if l.Dir, err = os.MkdirTemp("", "gvs-lab-"+opts.Prefix+"-"); err != nil {
			return nil, err
		}
		l.ownsDir = true
	} else {
		if l.Dir, err = filepath.Abs(opts.WorkDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := l.saveState(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Down()
		}
	}()
	// Build the commands the namespaces run while the namespaces are made.
	var need []string
	if !opts.NoDecap {
		need = append(need, "gvs-tundecap")
	}
	if !opts.NoServices {
		need = append(need, "gvs-lab")
	}
	built := make(chan error, 1)
	go func() { built <- l.buildBinaries(need...) }()
	err = l.build(ctx)
	if berr := <-built; err == nil {
		err = berr
	}
	if err != nil {
		return nil, err
	}
	if !opts.NoDecap {
		if err := l.startDecaps(ctx); err != nil {
			return nil, err
		}
	}
	if !opts.NoServices {
		if err := l.startServices(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Lab) saveState() error {
	b, err := json.MarshalIndent(state{Options: l.Opts, Dir: l.Dir, OwnsDir: l.ownsDir}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.runDir, "state.json"), b, 0o600)
}

// Attach returns the lab a prefix names, built by Up in this or another
// process (gvs-lab up), to inspect it or take it down.
func Attach(prefix string) (*Lab, error) {
	dir := runDirFor(prefix)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, fmt.Errorf("lab: no lab %q: %w", prefix, err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab: state of %q: %w", prefix, err)
	}
	return &Lab{Opts: s.Options, Dir: s.Dir, runDir: dir, ownsDir: s.OwnsDir, procs: map[string]*proc{}, bins: map[string]string{}}, nil
}

// ipBatch runs iproute2 commands, one per line, in a namespace ("" for
// the root namespace): one process instead of one per command. Lines
// starting with "-6 " need IPv6 as the family (ip rule does not infer it)
// and run after the others, in a second batch.
func ipBatch(ctx context.Context, ns string, lines []string) error {
	var any, six []string
	for _, line := range lines {
		if rest, ok := strings.CutPrefix(line, "-6 "); ok {
			six = append(six, rest)
		} else {
			any = append(any, line)
		}
	}
	for _, b := range []struct {
		family string
		lines  []string
	}{{"", any}, {"-6", six}} {
		if len(b.lines) == 0 {
			continue
		}
		args := []string{"-batch", "-"}
		if b.family != "" {
			args = append([]string{b.family}, args...)
		}
		if ns != "" {
			args = append([]string{"-n", ns}, args...)
		}
		cmd := exec.CommandContext(ctx, "ip", args...)
		cmd.Stdin = strings.NewReader(strings.Join(b.lines, "\n") + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			where := ns
			if where == "" {
				where = "the root namespace"
			}
			return fmt.Errorf("lab: ip %s in %s: %v: %s", strings.Join(args, " "), where, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

func cidr(a netip.Addr) string {
	bits := 24
	if a.Is6() {
		bits = 64
	}
	return netip.PrefixFrom(a, bits).String()
}

func hostRoute(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// sysctls are written per namespace before its links exist, so the
// "default" values reach eth0 too; they are set on eth0 explicitly after.
func (l *Lab) sysctlsBefore(role string) [][2]string {
	s := [][2]string{
		// no duplicate address detection: addresses usable at once
		{"net.ipv6.conf.all.accept_dad", "0"}, {"net.ipv6.conf.default.accept_dad", "0"},
	}
	switch {
	case role == "router":
		s = append(s, [2]string{"net.ipv4.ip_forward", "1"}, [2]string{"net.ipv6.conf.all.forwarding", "1"})
	case role == "dir" || role == "dir2":
		s = append(s, [2]string{"net.ipv4.ip_forward", "1"}, [2]string{"net.ipv6.conf.all.forwarding", "1"},
			// a director forwarding a real server's packet back onto the
			// LAN must not redirect the real server to the router: NAT
			// replies have to keep coming through the director
			[2]string{"net.ipv4.conf.all.send_redirects", "0"}, [2]string{"net.ipv4.conf.default.send_redirects", "0"})
	case strings.HasPrefix(role, "rs"):
		for _, k := range []string{"all", "default"} {
			s = append(s,
				// answer ARP only for addresses on the asking interface
				// (never for the VIPs on lo), and announce from eth0's own
				[2]string{"net.ipv4.conf." + k + ".arp_ignore", "1"}, [2]string{"net.ipv4.conf." + k + ".arp_announce", "2"},
				// TUN packets arrive from clients on the TUN device
				[2]string{"net.ipv4.conf." + k + ".rp_filter", "0"},
				// a redirect would send NAT replies around the director
				[2]string{"net.ipv4.conf." + k + ".accept_redirects", "0"}, [2]string{"net.ipv6.conf." + k + ".accept_redirects", "0"})
		}
		// no TIME_WAIT sockets: one test's connection left in TIME_WAIT met a
		// later test's SYN from the same client address and port (through
		// NAT, or to another VIP: another sequence and timestamp base), and
		// the server's challenge ACK made the client reset and retry a
		// second later, which changed what the later test counted
		s = append(s, [2]string{"net.ipv4.tcp_max_tw_buckets", "0"})
	}
	return s
}

func (l *Lab) sysctlsAfter(role string) [][2]string {
	switch {
	case role == "dir" || role == "dir2":
		return [][2]string{{"net.ipv4.conf.eth0.send_redirects", "0"}}
	case strings.HasPrefix(role, "rs"):
		return [][2]string{
			{"net.ipv4.conf.eth0.arp_ignore", "1"}, {"net.ipv4.conf.eth0.arp_announce", "2"},
			{"net.ipv4.conf.eth0.rp_filter", "0"}, {"net.ipv4.conf.eth0.accept_redirects", "0"},
			{"net.ipv6.conf.eth0.accept_redirects", "0"},
		}
	}
	return nil
}

func (l *Lab) writeSysctls(role string, kv [][2]string) error {
	return l.Do(role, func() error {
		for _, e := range kv {
			path := "/proc/sys/" + strings.ReplaceAll(e[0], ".", "/")
			if err := os.WriteFile(path, []byte(e[1]), 0o644); err != nil {
				return fmt.Errorf("lab: sysctl %s=%s in %s: %w", e[0], e[1], role, err)
			}
		}
		return nil
	})
}

// build makes the namespaces and their network.
func (l *Lab) build(ctx context.Context) error {
	hosts := l.Hosts()
	var root []string
	for _, h := range hosts {
		root = append(root, "netns add "+h.Netns)
	}
	if err := ipBatch(ctx, "", root); err != nil {
		return err
	}
	for _, h := range hosts {
		if err := l.writeSysctls(h.Role, l.sysctlsBefore(h.Role)); err != nil {
			return err
		}
	}
	// The veth pairs are made in place: no name is ever taken in the root
	// namespace. The router's LAN ports are p-<role>, each bridged into br0.
	rt := l.NS("router")
	root = []string{fmt.Sprintf("link add eth0 netns %s type veth peer name eth0 netns %s", l.NS("client"), rt)}
	for _, h := range hosts[2:] {
		root = append(root, fmt.Sprintf("link add p-%s netns %s type veth peer name eth0 netns %s", h.Role, rt, h.Netns))
	}
	if err := ipBatch(ctx, "", root); err != nil {
		return err
	}
	// the router first: the others' routes need their link's far end up
	router := []string{
		"link set lo up",
		// no multicast snooping: with no querier on the LAN, NDP's
		// multicast must simply flood
		"link add br0 type bridge mcast_snooping 0",
		"addr add " + cidr(RouterClientSide4) + " dev eth0",
		"addr add " + cidr(RouterClientSide6) + " dev eth0 nodad",
		"addr add " + cidr(RouterLAN4) + " dev br0",
		"addr add " + cidr(RouterLAN6) + " dev br0 nodad",
		"link set eth0 up",
		"link set br0 up",
	}
	for _, h := range hosts[2:] {
		router = append(router, "link set p-"+h.Role+" master br0", "link set p-"+h.Role+" up")
	}
	if err := ipBatch(ctx, rt, router); err != nil {
		return err
	}
	for _, h := range hosts {
		if h.Role == "router" {
			continue
		}
		var lines []string
		lines = append(lines, "link set lo up")
		if h.Role == "client" {
			// the first address is the primary one: IPv4 makes the later
			// ones secondaries; for IPv6 they are deprecated (preferred
			// lifetime 0), so source selection never picks them unasked
			for i := 0; i < Clients; i++ {
				v6 := "addr add " + cidr(Client(i, true)) + " dev eth0 nodad"
				if i > 0 {
					v6 += " preferred_lft 0"
				}
				lines = append(lines, "addr add "+cidr(Client(i, false))+" dev eth0", v6)
			}
		} else {
			lines = append(lines, "addr add "+cidr(h.IPv4)+" dev eth0", "addr add "+cidr(h.IPv6)+" dev eth0 nodad")
		}
		lines = append(lines, "link set eth0 up",
			"route add default via "+h.Gateway4.String(),
			"-6 route add default via "+h.Gateway6.String())
		if strings.HasPrefix(h.Role, "rs") {
			// DR and TUN: the VIPs on lo, and replies from them (source a
			// VIP) straight to the router instead of via the director
			lines = append(lines,
				fmt.Sprintf("route add default via %s table %d", RouterLAN4, DRTable),
				fmt.Sprintf("-6 route add default via %s table %d", RouterLAN6, DRTable))
			for i := 0; i < VIPs; i++ {
				v4, v6 := VIP(i, false), VIP(i, true)
				lines = append(lines,
					"addr add "+hostRoute(v4)+" dev lo",
					"addr add "+hostRoute(v6)+" dev lo nodad",
					fmt.Sprintf("rule add from %s lookup %d", v4, DRTable),
					fmt.Sprintf("-6 rule add from %s lookup %d", v6, DRTable))
			}
		}
		if err := ipBatch(ctx, h.Netns, lines); err != nil {
			return err
		}
		if err := l.writeSysctls(h.Role, l.sysctlsAfter(h.Role)); err != nil {
			return err
		}
	}
	return nil
}

// AddVIP puts a VIP on a director's eth0 (role "dir" or "dir2"), the way
// an LVS operator does (ip addr add VIP/32 dev eth0): the director then
// answers ARP or NDP for it and the router sends the VIP's traffic there.
// Adding a VIP twice is no error.
func (l *Lab) AddVIP(ctx context.Context, role string, vip netip.Addr) error {
	line := "addr replace " + hostRoute(vip) + " dev eth0"
	if vip.Is6() {
		line += " nodad"
	}
	return ipBatch(ctx, l.NS(role), []string{line})
}

// DelVIP removes a VIP from a director's eth0; removing one that is not
// there is no error.
func (l *Lab) DelVIP(ctx context.Context, role string, vip netip.Addr) error {
	out, err := exec.CommandContext(ctx, "ip", "-n", l.NS(role), "addr", "del", hostRoute(vip), "dev", "eth0").CombinedOutput()
	if err != nil && !bytes.Contains(bytes.ToLower(out), []byte("address not found")) && !bytes.Contains(out, []byte("Cannot assign requested address")) {
		return fmt.Errorf("lab: remove %s from %s: %v: %s", vip, role, err, bytes.TrimSpace(out))
	}
	return nil
}

// Down removes the lab: it stops the processes (SIGTERM, then SIGKILL),
// deletes the namespaces and, if Up made it, the work directory. It is
// idempotent and also removes what a crashed run left with this prefix.
func (l *Lab) Down() error {
	l.mu.Lock()
	l.down = true
	l.mu.Unlock()
	l.stopAll()
	err := Clean(l.Opts.Prefix)
	if l.ownsDir && l.Dir != "" {
		if rerr := os.RemoveAll(l.Dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// namespaceName matches the namespaces a lab with some prefix makes.
func namespaceName(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `-(client|router|dir2?|rs[0-9]+)$`)
}

// Namespaces lists the namespaces of labs with this prefix.
func Namespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir("/var/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	re := namespaceName(prefix)
	var names []string
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Clean removes whatever a lab with this prefix left, whoever made it and
// whether or not it crashed: the processes recorded in its pid files and
// any other process inside its namespaces (SIGTERM and a second's grace
// for the recorded ones, then SIGKILL), the namespaces, its
// work directory if the lab made it, and its run directory.
func Clean(prefix string) error {
	if !prefixPattern.MatchString(prefix) {
		return fmt.Errorf("lab: prefix %q: want lower-case letters and digits, at most 12", prefix)
	}
	var errs []error
	dir := runDirFor(prefix)
	stopRecorded(recordedProcs(dir), time.Second)
	names, err := Namespaces(prefix)
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range names {
		killNetnsProcs(ns)
	}
	if len(names) > 0 {
		var lines []string
		for _, ns := range names {
			lines = append(lines, "netns del "+ns)
		}
		if err := ipBatch(context.Background(), "", lines); err != nil {
			// one at a time, so one stubborn namespace does not keep the others
			for _, ns := range names {
				if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", ns, err, bytes.TrimSpace(out)))
				}
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
		var s state
		if json.Unmarshal(b, &s) == nil && s.OwnsDir && s.Dir != "" && strings.Contains(filepath.Base(s.Dir), "gvs-lab-") {
			if err := os.RemoveAll(s.Dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
