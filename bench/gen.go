//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/govs/gvs/lab"
	"golang.org/x/sys/unix"
)

// The load generators. They run as "gvs-bench gen KIND ..." inside the
// client namespace and print one JSON document on standard output.

// CPUSample is the CPU time spent during a load window: the machine's
// (from /proc/stat) and, if asked, one process's (from /proc/PID/stat).
type CPUSample struct {
	Busy     float64 `json:"busy"`    // machine, every CPU, non-idle seconds
	SoftIRQ  float64 `json:"softirq"` // machine, softirq seconds
	Process  float64 `json:"process"` // the watched process's utime+stime seconds (-1: none)
	Wall     float64 `json:"wall"`
	ProcErr  string  `json:"process_error,omitempty"`
	StatErr  string  `json:"stat_error,omitempty"`
	watchPid int
	m0       MachineCPU
	p0       float64
	t0       time.Time
}

func startCPU(pid int) *CPUSample {
	s := &CPUSample{watchPid: pid, Process: -1, t0: time.Now()}
	var err error
	if s.m0, err = ReadMachineCPU(); err != nil {
		s.StatErr = err.Error()
	}
	if pid > 0 {
		if s.p0, err = ReadProcessCPU(pid); err != nil {
			s.ProcErr = err.Error()
		}
	}
	return s
}

func (s *CPUSample) stop() {
	s.Wall = time.Since(s.t0).Seconds()
	if m1, err := ReadMachineCPU(); err == nil && s.StatErr == "" {
		d := m1.Sub(s.m0)
		s.Busy, s.SoftIRQ = d.Busy(), d.SoftIRQ
	}
	if s.watchPid > 0 && s.ProcErr == "" {
		if p1, err := ReadProcessCPU(s.watchPid); err == nil {
			s.Process = p1 - s.p0
		} else {
			s.ProcErr = err.Error()
		}
	}
}

// UDPFlood is the small-packet load's parameters.
type UDPFlood struct {
	Dsts     []netip.Addr // destinations, one per flow in turn
	Src      netip.Addr   // every flow's source; invalid: the lab's client addresses in turn
	Port     int
	Flows    int // connected sockets (source address and port pairs)
	Senders  int // goroutines sending
	Payload  int // UDP payload bytes
	Batch    int // datagrams per sendmmsg
	Duration time.Duration
	CPUPid   int // a process whose CPU time to measure (0: none)
	// Pin keeps sender g's thread on the g-th CPU the process may run on
	// (modulo their number), so every scenario's flood runs where every
	// other's did
	Pin bool
	// FirstCPU shifts the pinning: sender g on CPU g+FirstCPU
	FirstCPU int
}

// UDPResult is what the flood sent.
type UDPResult struct {
	Sent     uint64    `json:"sent"`
	Errors   uint64    `json:"errors"`
	Seconds  float64   `json:"seconds"`
	FirstErr string    `json:"first_error,omitempty"`
	CPU      CPUSample `json:"cpu"`
}

// mmsghdr is struct mmsghdr for sendmmsg.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// FloodUDP sends UDP datagrams from connected sockets, each bound to one of
// the lab's client addresses, as fast as sendmmsg takes them, for the
// duration; it runs in the calling process's namespace.
func FloodUDP(o UDPFlood) (UDPResult, error) {
	if o.Flows < 1 || len(o.Dsts) == 0 || o.Batch < 1 || o.Senders < 1 {
		return UDPResult{}, errors.New("flood: need flows, destinations, a batch and senders")
	}
	fds := make([]int, o.Flows)
	defer func() {
		for _, fd := range fds {
			if fd > 0 {
				unix.Close(fd)
			}
		}
	}()
	for i := range fds {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return UDPResult{}, err
		}
		fds[i] = fd
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		src := lab.Client(i%lab.Clients, false).As4()
		if o.Src.IsValid() {
			src = o.Src.As4()
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
			return UDPResult{}, fmt.Errorf("bind %v: %w", netip.AddrFrom4(src), err)
		}
		dst := o.Dsts[i%len(o.Dsts)]
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.As4(), Port: o.Port}); err != nil {
			return UDPResult{}, fmt.Errorf("connect %v: %w", dst, err)
		}
	}
	payload := make([]byte, o.Payload)
	copy(payload, "gvs-bench")
	var sent, errs atomic.Uint64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	cpu := startCPU(o.CPUPid)
	start := time.Now()
	deadline := start.Add(o.Duration)
	for g := 0; g < o.Senders; g++ {
		var mine []int
		for i := g; i < len(fds); i += o.Senders {
			mine = append(mine, fds[i])
		}
		if len(mine) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o.Pin {
				// the thread ends with the goroutine: its affinity goes with it
				runtime.LockOSThread()
				if err := pinToCPU(g + o.FirstCPU); err != nil {
					firstErr.CompareAndSwap(nil, "pin: "+err.Error())
				}
			}
			iov := unix.Iovec{Base: &payload[0]}
			iov.SetLen(len(payload))
			msgs := make([]mmsghdr, o.Batch)
			for i := range msgs {
				msgs[i].hdr.Iov = &iov
				msgs[i].hdr.SetIovlen(1)
			}
			var n, e uint64
			for k := 0; ; k++ {
				if k%8 == 0 && time.Now().After(deadline) {
					break
				}
				fd := mine[k%len(mine)]
				r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
				if errno != 0 {
					e++
					firstErr.CompareAndSwap(nil, errno.Error())
					continue
				}
				n += uint64(r)
			}
			sent.Add(n)
			errs.Add(e)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu.stop()
	res := UDPResult{Sent: sent.Load(), Errors: errs.Load(), Seconds: elapsed.Seconds(), CPU: *cpu}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstErr = v
	}
	return res, nil
}

// pinToCPU keeps the calling thread on the n-th CPU (modulo their
// number) of those the process may run on.
func pinToCPU(n int) error {
	cpus, err := allowedCPUs()
	if err != nil {
		return err
	}
	var one unix.CPUSet
	one.Set(cpus[n%len(cpus)])
	return unix.SchedSetaffinity(0, &one)
}

// allowedCPUs lists the CPUs the calling thread may run on, in order.
func allowedCPUs() ([]int, error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil, err
	}
	var cpus []int
	for c := 0; c < len(allowed)*64; c++ {
		if allowed.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, errors.New("no CPU allowed")
	}
	return cpus, nil
}

// ConnLoad is the connection load's parameters.
type ConnLoad struct {
	Dsts     []netip.Addr // destinations, in turn
	Port     int
	Workers  int           // concurrent connections (cps) ...
	Rate     int           // ... or requests per second, open loop (latency)
	Duration time.Duration // how long new requests start
	Timeout  time.Duration // per request
	// Source addresses and ports are explicit, not ephemeral: request k
	// uses pair SrcIndex+k of the client's addresses x SrcPorts, so
	// successive runs (the caller advances SrcIndex by Used) never reuse
	// a 4-tuple while the real servers still hold it in TIME_WAIT. With
	// ephemeral ports, a reused tuple's SYN met the previous scenario's
	// TIME_WAIT and about 1 % of the requests took 10 ms or 1 s more.
	SrcIndex int
	// KeepAlive (latency only): the requests go over one open connection
	// per destination, warmed up first, instead of a new connection each.
	KeepAlive bool
}

// Explicit source ports: below the kernel's ephemeral range (32768-60999),
// so they never collide with the client's other connections.
const (
	SrcPortBase = 10000
	SrcPorts    = 32768 - SrcPortBase
)

// SrcPairs is how many (address, port) pairs the client has.
const SrcPairs = SrcPorts * lab.Clients

// srcPair returns the i-th (address, port) pair.
func srcPair(i int) netip.AddrPort {
	i %= SrcPairs
	return netip.AddrPortFrom(lab.Client(i%lab.Clients, false), uint16(SrcPortBase+i/lab.Clients))
}

// ConnResult is the connection loads' result.
type ConnResult struct {
	OK       uint64  `json:"ok"`
	Failed   uint64  `json:"failed"`
	Used     int     `json:"used"` // source pairs used
	Seconds  float64 `json:"seconds"`
	FirstErr string  `json:"first_error,omitempty"`
	// latency only, microseconds
	P50 float64 `json:"p50_us,omitempty"`
	P90 float64 `json:"p90_us,omitempty"`
	P99 float64 `json:"p99_us,omitempty"`
	Max float64 `json:"max_us,omitempty"`
	// Samples are every request's latency, sorted, in whole
	// microseconds: the runner pools a scenario's runs for percentiles
	// that stand on more requests than one run holds
	Samples []float64 `json:"samples_us,omitempty"`
}

// setLatencies fills the percentiles and the samples from the requests'
// latencies (microseconds; sorted in place).
func (res *ConnResult) setLatencies(lat []float64) {
	if len(lat) == 0 {
		return
	}
	sort.Float64s(lat)
	res.P50, res.P90, res.P99, res.Max = Percentile(lat, 50), Percentile(lat, 90), Percentile(lat, 99), lat[len(lat)-1]
	res.Samples = make([]float64, len(lat))
	for i, v := range lat {
		res.Samples[i] = math.Round(v)
	}
}

var (
	request          = []byte("GET / HTTP/1.1\r\nHost: gvs-bench\r\nUser-Agent: gvs-bench\r\nConnection: close\r\n\r\n")
	keepAliveRequest = []byte("GET / HTTP/1.1\r\nHost: gvs-bench\r\nUser-Agent: gvs-bench\r\n\r\n")
)

// keepAliveWarmUp is how many requests each keep-alive connection makes
// before the measured ones: enough client packets for GVS to hand the
// connection to its kernel fast path (ipvs.OffloadAfter is 8).
const keepAliveWarmUp = 10

// keepAliveExchange sends one request on c and reads its whole response
// (the headers, then Content-Length bytes of body).
func keepAliveExchange(c net.Conn, r *bufio.Reader, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(keepAliveRequest); err != nil {
		return err
	}
	status, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return fmt.Errorf("bad response %q", status)
	}
	length := -1
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return errors.New("response without Content-Length")
	}
	_, err = r.Discard(length)
	return err
}

// keepAliveLatency is the latency load over open connections: one per
// destination, each warmed up, then requests at the rate in turn.
func keepAliveLatency(ctx context.Context, o ConnLoad) (ConnResult, error) {
	type conn struct {
		c net.Conn
		r *bufio.Reader
	}
	var conns []conn
	defer func() {
		for _, c := range conns {
			c.c.Close()
		}
	}()
	for i, dst := range o.Dsts {
		src := srcPair(o.SrcIndex + i)
		d := net.Dialer{Timeout: o.Timeout, LocalAddr: &net.TCPAddr{IP: src.Addr().AsSlice(), Port: int(src.Port())}}
		c, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(dst, uint16(o.Port)).String())
		if err != nil {
			return ConnResult{}, err
		}
		conns = append(conns, conn{c, bufio.NewReader(c)})
		for w := 0; w < keepAliveWarmUp; w++ {
			if err := keepAliveExchange(c, conns[i].r, o.Timeout); err != nil {
				return ConnResult{}, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	res := ConnResult{Used: len(o.Dsts)}
	var lat []float64
	start := time.Now()
	deadline := start.Add(o.Duration)
	tick := time.NewTicker(time.Second / time.Duration(o.Rate))
	defer tick.Stop()
	for k := 0; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
		c := conns[k%len(conns)]
		t0 := time.Now()
		if err := keepAliveExchange(c.c, c.r, o.Timeout); err != nil {
			// a connection that failed once is not measured again
			return res, fmt.Errorf("request %d: %w", k, err)
		}
		lat = append(lat, float64(time.Since(t0).Nanoseconds())/1e3)
		res.OK++
		<-tick.C
	}
	res.Seconds = time.Since(start).Seconds()
	res.setLatencies(lat)
	return res, nil
}

// oneRequest opens a connection from src to dst, sends a request with
// Connection: close and reads the whole response.
func oneRequest(src netip.AddrPort, dst netip.AddrPort, timeout time.Duration, buf []byte) error {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: src.Addr().AsSlice(), Port: int(src.Port())}}
	c, err := d.Dial("tcp4", dst.String())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(request); err != nil {
		return err
	}
	var head [12]byte
	h := 0
	for {
		m, err := c.Read(buf)
		if h < len(head) {
			h += copy(head[h:], buf[:m])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if h < len(head) || string(head[:]) != "HTTP/1.1 200" {
		return fmt.Errorf("bad response %q", head[:h])
	}
	return nil
}

// Connections runs the connection-rate load (Workers > 0: closed loop) or
// the latency load (Rate > 0: open loop, one new connection per tick).
func Connections(ctx context.Context, o ConnLoad) (ConnResult, error) {
	if len(o.Dsts) == 0 || (o.Workers < 1 && o.Rate < 1) {
		return ConnResult{}, errors.New("connections: need destinations and workers or a rate")
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.KeepAlive {
		if o.Rate < 1 {
			return ConnResult{}, errors.New("connections: keep-alive latency needs a rate")
		}
		return keepAliveLatency(ctx, o)
	}
	var ok, failed atomic.Uint64
	var next atomic.Int64 // requests started: the source pair index
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	start := time.Now()
	deadline := start.Add(o.Duration)
	var mu sync.Mutex
	var lat []float64
	var wg sync.WaitGroup
	if o.Workers > 0 {
		for w := 0; w < o.Workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for time.Now().Before(deadline) && ctx.Err() == nil {
					k := int(next.Add(1) - 1)
					dst := netip.AddrPortFrom(o.Dsts[k%len(o.Dsts)], uint16(o.Port))
					if err := oneRequest(srcPair(o.SrcIndex+k), dst, o.Timeout, buf); err != nil {
						fail(err)
						continue
					}
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
	} else {
		interval := time.Second / time.Duration(o.Rate)
		tick := time.NewTicker(interval)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			k := int(next.Add(1) - 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				dst := netip.AddrPortFrom(o.Dsts[k%len(o.Dsts)], uint16(o.Port))
				t0 := time.Now()
				if err := oneRequest(srcPair(o.SrcIndex+k), dst, o.Timeout, buf); err != nil {
					fail(err)
					return
				}
				us := float64(time.Since(t0).Nanoseconds()) / 1e3
				ok.Add(1)
				mu.Lock()
				lat = append(lat, us)
				mu.Unlock()
			}()
			<-tick.C
		}
		tick.Stop()
		wg.Wait()
	}
	res := ConnResult{OK: ok.Load(), Failed: failed.Load(), Used: int(next.Load()), Seconds: time.Since(start).Seconds()}
	if o.Workers > 0 {
		// the rate counts the window in which new connections started
		res.Seconds = o.Duration.Seconds()
	}
	if v, okv := firstErr.Load().(string); okv {
		res.FirstErr = v
	}
	res.setLatencies(lat)
	return res, nil
}

type addrList []netip.Addr

func (a *addrList) String() string {
	var s []string
	for _, x := range *a {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (a *addrList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		x, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		*a = append(*a, x)
	}
	return nil
}

// GenMain is "gvs-bench gen udp|tcp|latency ...": one load from the
// namespace it runs in, its result as JSON on out.
func GenMain(args []string, out io.Writer) error {
	if len(args) < 1 {
		return errors.New("gen: want udp, tcp or latency")
	}
	kind := args[0]
	fs := flag.NewFlagSet("gvs-bench gen "+kind, flag.ContinueOnError)
	var dsts addrList
	fs.Var(&dsts, "dst", "destination addresses (comma-separated)")
	port := fs.Int("port", 0, "destination port")
	dur := fs.Duration("duration", 3*time.Second, "how long")
	flows := fs.Int("flows", 8, "udp: flows (sockets)")
	senders := fs.Int("senders", 1, "udp: sending goroutines")
	payload := fs.Int("payload", 18, "udp: payload bytes")
	batch := fs.Int("batch", 64, "udp: datagrams per sendmmsg")
	pid := fs.Int("cpu-pid", 0, "udp: also measure this process's CPU time")
	pin := fs.Bool("pin", false, "udp: keep sender g on the g-th allowed CPU")
	workers := fs.Int("workers", 32, "tcp: concurrent workers")
	rate := fs.Int("rate", 200, "latency: requests per second")
	timeout := fs.Duration("timeout", 2*time.Second, "tcp, latency: per request")
	srcIndex := fs.Int("src-index", 0, "tcp, latency: the first (client address, source port) pair to use")
	keepAlive := fs.Bool("keepalive", false, "latency: requests over one open connection per destination (warmed up) instead of a new connection each")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var v any
	var err error
	switch kind {
	case "udp":
		v, err = FloodUDP(UDPFlood{Dsts: dsts, Port: *port, Flows: *flows, Senders: *senders, Payload: *payload, Batch: *batch, Duration: *dur, CPUPid: *pid, Pin: *pin})
	case "tcp":
		v, err = Connections(context.Background(), ConnLoad{Dsts: dsts, Port: *port, Workers: *workers, Duration: *dur, Timeout: *timeout, SrcIndex: *srcIndex})
	case "latency":
		v, err = Connections(context.Background(), ConnLoad{Dsts: dsts, Port: *port, Rate: *rate, Duration: *dur, Timeout: *timeout, SrcIndex: *srcIndex, KeepAlive: *keepAlive})
	default:
		return fmt.Errorf("gen: unknown load %q", kind)
	}
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return err
	}
	return w.Flush()
}
