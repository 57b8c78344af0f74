package ipvsadm

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resolver answers the name look-ups ipvsadm makes through the C library:
// host names when parsing addresses ("-t www:http") and, without -n, when
// printing them. SystemResolver is the real one; tests use fixed files.
type Resolver interface {
	// HostAddr4 resolves a host name to its first IPv4 address, as
	// gethostbyname does (a name with only IPv6 addresses fails).
	HostAddr4(name string) (netip.Addr, bool)
	// AddrName returns the canonical name of an address, as gethostbyaddr does.
	AddrName(addr netip.Addr) (string, bool)
	// ServicePort resolves a service name for protocol "tcp", "udp" or
	// "sctp", as getservbyname does.
	ServicePort(name, proto string) (uint16, bool)
	// ServiceName returns the official service name of a port, as
	// getservbyport does.
	ServiceName(port uint16, proto string) (string, bool)
}

// SystemResolver reads /etc/hosts and /etc/services the way the C library's
// "files" sources do and, when DNS is set, asks the system resolver for
// what the hosts file does not know. Results are cached for the life of the value.
type SystemResolver struct {
	HostsFile    string        // default /etc/hosts
	ServicesFile string        // default /etc/services
	DNS          bool          // fall back to DNS for host names and addresses
	DNSTimeout   time.Duration // per look-up; default 5 s

	once     sync.Once
	hosts    []hostLine
	services []serviceLine

	mu        sync.Mutex
	nameCache map[string]netip.Addr
	addrCache map[netip.Addr]string
}

// NewSystemResolver returns the resolver gvsadm uses: the system's files, then DNS.
func NewSystemResolver() *SystemResolver {
	return &SystemResolver{DNS: true}
}

type hostLine struct {
	addr  netip.Addr
	names []string // canonical name first
}

type serviceLine struct {
	name    string
	aliases []string
	port    uint16
	proto   string
}

func (r *SystemResolver) load() {
	r.once.Do(func() {
		hf := r.HostsFile
		if hf == "" {
			hf = "/etc/hosts"
		}
		sf := r.ServicesFile
		if sf == "" {
			sf = "/etc/services"
		}
		r.hosts = readHosts(hf)
		r.services = readServices(sf)
		r.nameCache = map[string]netip.Addr{}
		r.addrCache = map[netip.Addr]string{}
	})
}

// fields splits a files-database line, dropping the comment.
func fields(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.Fields(line)
}

func readHosts(path string) []hostLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []hostLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fs[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		out = append(out, hostLine{addr: a, names: fs[1:]})
	}
	return out
}

func readServices(path string) []serviceLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []serviceLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		pp := strings.SplitN(fs[1], "/", 2)
		if len(pp) != 2 {
			continue
		}
		p, err := strconv.ParseUint(pp[0], 10, 16)
		if err != nil {
			continue
		}
		out = append(out, serviceLine{name: fs[0], aliases: fs[2:], port: uint16(p), proto: pp[1]})
	}
	return out
}

func (r *SystemResolver) timeout() time.Duration {
	if r.DNSTimeout > 0 {
		return r.DNSTimeout
	}
	return 5 * time.Second
}

// HostAddr4 implements Resolver.
func (r *SystemResolver) HostAddr4(name string) (netip.Addr, bool) {
	r.load()
	if name == "" {
		return netip.Addr{}, false
	}
	for _, h := range r.hosts {
		if !h.addr.Is4() {
			continue
		}
		for _, n := range h.names {
			if strings.EqualFold(n, name) {
				return h.addr, true
			}
		}
	}
	if !r.DNS {
		return netip.Addr{}, false
	}
	r.mu.Lock()
	a, ok := r.nameCache[name]
	r.mu.Unlock()
	if ok {
		return a, a.IsValid()
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout())
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err == nil && len(ips) > 0 {
		a = ips[0].Unmap()
	}
	r.mu.Lock()
	r.nameCache[name] = a
	r.mu.Unlock()
	return a, a.IsValid()
}

// AddrName implements Resolver.
func (r *SystemResolver) AddrName(addr netip.Addr) (string, bool) {
	r.load()
	for _, h := range r.hosts {
		if h.addr == addr {
			return h.names[0], true
		}
	}
	if !r.DNS {
		return "", false
	}
	r.mu.Lock()
	n, ok := r.addrCache[addr]
	r.mu.Unlock()
	if ok {
		return n, n != ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout())
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, addr.String())
	if err == nil && len(names) > 0 {
		n = strings.TrimSuffix(names[0], ".")
	}
	r.mu.Lock()
	r.addrCache[addr] = n
	r.mu.Unlock()
	return n, n != ""
}

// ServicePort implements Resolver.
func (r *SystemResolver) ServicePort(name, proto string) (uint16, bool) {
	r.load()
	for _, s := range r.services {
		if s.proto != proto {
			continue
		}
		if s.name == name {
			return s.port, true
		}
		for _, a := range s.aliases {
			if a == name {
				return s.port, true
			}
		}
	}
	return 0, false
}

// ServiceName implements Resolver.
func (r *SystemResolver) ServiceName(port uint16, proto string) (string, bool) {
	r.load()
	for _, s := range r.services {
		if s.proto == proto && s.port == port {
			return s.name, true
		}
	}
	return "", false
}

// ---- the C library's number and address parsers, as ipvsadm relies on them ----

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// strtol10 is strtol(s, &end, 10) for a 64-bit long: the value (clamped on
// overflow), how many bytes were consumed (0 when no digits) and whether it
// overflowed (errno ERANGE).
func strtol10(s string) (v int64, end int, erange bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var u uint64
	for i < len(s) && isDigit(s[i]) {
		d := uint64(s[i] - '0')
		if !erange {
			if u > (1<<63)/10 || (u == (1<<63)/10 && d > (1<<63)%10) {
				erange = true
			} else {
				u = u*10 + d
			}
		}
		i++
	}
	if i == start {
		return 0, 0, false
	}
	switch {
	case neg && erange:
		return -1 << 63, i, true
	case erange:
		return 1<<63 - 1, i, true
	case neg:
		return -int64(u), i, false
	case u > 1<<63-1:
		return 1<<63 - 1, i, true
	}
	return int64(u), i, false
}

// stringToNumber is ipvsadm's string_to_number: a whole decimal number in
// [lo, hi], or -1.
func stringToNumber(s string, lo, hi int64) int64 {
	v, end, erange := strtol10(s)
	if end == 0 || end != len(s) || erange || v < lo || v > hi {
		return -1
	}
	return v
}

// atoi is the C library's atoi: (int)strtol(s, NULL, 10).
func atoi(s string) int32 {
	v, _, _ := strtol10(s)
	return int32(v)
}

// strIsDigit is ipvsadm's str_is_digit: true for "" and all-digit strings.
func strIsDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// inetAton is the C library's inet_aton: "a.b.c.d", "a.b.c", "a.b" or "a",
// each part decimal, octal (leading 0) or hexadecimal (0x); trailing
// whitespace ends the address. It returns the address in host order.
func inetAton(s string) (uint32, bool) {
	var parts [3]uint32
	np := 0
	i := 0
	var val uint64
	for {
		if i >= len(s) || !isDigit(s[i]) {
			return 0, false
		}
		val = 0
		base := uint64(10)
		digit := false
		if s[i] == '0' {
			i++
			if i < len(s) && (s[i] == 'x' || s[i] == 'X') {
				base = 16
				i++
			} else {
				base = 8
				digit = true
			}
		}
		for i < len(s) {
			c := s[i]
			if isDigit(c) {
				if base == 8 && (c == '8' || c == '9') {
					return 0, false
				}
				val = val*base + uint64(c-'0')
			} else if base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				val = val<<4 | uint64(c|0x20-'a'+10)
			} else {
				break
			}
			if val > 0xffffffff {
				return 0, false
			}
			digit = true
			i++
		}
		if i < len(s) && s[i] == '.' {
			if np > 2 || val > 0xff {
				return 0, false
			}
			parts[np] = uint32(val)
			np++
			i++
			continue
		}
		if !digit {
			return 0, false
		}
		break
	}
	if i < len(s) && !isSpace(s[i]) {
		return 0, false
	}
	switch np {
	case 0:
	case 1:
		if val > 0xffffff {
			return 0, false
		}
		val |= uint64(parts[0]) << 24
	case 2:
		if val > 0xffff {
			return 0, false
		}
		val |= uint64(parts[0])<<24 | uint64(parts[1])<<16
	case 3:
		if val > 0xff {
			return 0, false
		}
		val |= uint64(parts[0])<<24 | uint64(parts[1])<<16 | uint64(parts[2])<<8
	}
	return uint32(val), true
}

// inetPton6 is inet_pton(AF_INET6, ...): an IPv6 literal without zone.
func inetPton6(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// inetPton4 is inet_pton(AF_INET, ...): exactly four decimal octets.
func inetPton4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// ntop formats an address as the C library's inet_ntop does (which differs
// from Go for IPv4-compatible IPv6 addresses such as ::1.2.3.4).
func ntop(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var w [8]uint16
	for i := range w {
		w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	bestBase, bestLen := -1, 0
	curBase, curLen := -1, 0
	for i := 0; i < 8; i++ {
		if w[i] == 0 {
			if curBase == -1 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
			continue
		}
		if curBase != -1 {
			if bestBase == -1 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase != -1 && (bestBase == -1 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase != -1 && bestLen < 2 {
		bestBase = -1
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if bestBase != -1 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				sb.WriteByte(':')
			}
			continue
		}
		if i != 0 {
			sb.WriteByte(':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || bestLen == 5 && w[5] == 0xffff) {
			sb.WriteString(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).String())
			return sb.String()
		}
		sb.WriteString(strconv.FormatUint(uint64(w[i]), 16))
	}
	if bestBase != -1 && bestBase+bestLen == 8 {
		sb.WriteByte(':')
	}
	return sb.String()
}
