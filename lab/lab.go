package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options shape a lab.
type Options struct {
	Prefix    string // namespace prefix (default "gvs")
	Servers   int    // real servers (default 3)
	Director2 bool   // a second director at 10.0.2.2
	WorkDir   string // files and logs (default a new temp dir)
	// BigFile is the size of /big on each real server (default 0: none).
	BigFile int64
	// Services false skips nginx, dnsmasq and the UDP echo.
	NoServices bool
	// GUEPort for the real servers' decapsulators (default 6080).
	GUEPort int
}

// Lab is a running lab.
type Lab struct {
	Opts Options
	Dir  string

	mu    sync.Mutex
	procs map[string]*exec.Cmd // by name, e.g. "nginx-rs1"
	bins  map[string]string
}

// NS returns a namespace's name: "client", "router", "dir", "dir2", "rs1".
func (l *Lab) NS(role string) string { return l.Opts.Prefix + "-" + role }

// RS returns the n-th real server's namespace role name ("rs1").
func RS(n int) string { return "rs" + strconv.Itoa(n) }

// Available reports why the lab cannot run here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the lab needs iproute2")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return errors.New("the lab needs /dev/net/tun")
	}
	return nil
}

// ServicesAvailable reports whether nginx and dnsmasq are installed.
func ServicesAvailable() error {
	for _, b := range []string{"nginx", "dnsmasq"} {
		if _, err := lookPath(b); err != nil {
			return fmt.Errorf("the lab's services need %s (Debian packages nginx-light, dnsmasq-base)", b)
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

// Up builds the lab. On error everything built so far is removed.
func Up(ctx context.Context, opts Options) (_ *Lab, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "gvs"
	}
	if opts.Servers == 0 {
		opts.Servers = 3
	}
	if opts.GUEPort == 0 {
		opts.GUEPort = 6080
	}
	l := &Lab{Opts: opts, procs: map[string]*exec.Cmd{}, bins: map[string]string{}}
	Clean(opts.Prefix)
	if opts.WorkDir == "" {
		if l.Dir, err = os.MkdirTemp("", "gvs-lab-"+opts.Prefix+"-"); err != nil {
			return nil, err
		}
	} else {
		l.Dir = opts.WorkDir
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			l.Down()
		}
	}()
	if err := l.build(); err != nil {
		return nil, err
	}
	if err := l.startDecaps(ctx); err != nil {
		return nil, err
	}
	if !opts.NoServices {
		if err := l.startServices(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// sh runs ip/sysctl-style commands, failing with their output.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (l *Lab) ip(ns string, args ...string) error {
	return sh(append([]string{"ip", "-n", l.NS(ns)}, args...)...)
}

func (l *Lab) sysctl(ns string, kv ...string) error {
	return sh(append([]string{"ip", "netns", "exec", l.NS(ns), "sysctl", "-qw"}, kv...)...)
}

func (l *Lab) roles() []string {
	r := []string{"client", "router", "dir"}
	if l.Opts.Director2 {
		r = append(r, "dir2")
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		r = append(r, RS(n))
	}
	return r
}

func (l *Lab) build() error {
	var steps [][]string
	add := func(a ...string) { steps = append(steps, a) }
	for _, r := range l.roles() {
		if err := sh("ip", "netns", "add", l.NS(r)); err != nil {
			return err
		}
		if err := l.ip(r, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	c, rt, d := l.NS("client"), l.NS("router"), l.NS("dir")
	add("ip", "link", "add", "eth0", "netns", c, "type", "veth", "peer", "name", "eth0", "netns", rt)
	add("ip", "-n", rt, "link", "add", "br0", "type", "bridge")
	add("ip", "-n", rt, "link", "set", "br0", "up")
	add("ip", "-n", rt, "addr", "add", RouterClientSide4.String()+"/24", "dev", "eth0")
	add("ip", "-n", rt, "addr", "add", RouterClientSide6.String()+"/64", "dev", "eth0", "nodad")
	add("ip", "-n", rt, "addr", "add", RouterLAN4.String()+"/24", "dev", "br0")
	add("ip", "-n", rt, "addr", "add", RouterLAN6.String()+"/64", "dev", "br0", "nodad")
	add("ip", "-n", rt, "link", "set", "eth0", "up")
	for i := 0; i < Clients; i++ {
		add("ip", "-n", c, "addr", "add", Client(i, false).String()+"/24", "dev", "eth0")
		add("ip", "-n", c, "addr", "add", Client(i, true).String()+"/64", "dev", "eth0", "nodad")
	}
	add("ip", "-n", c, "link", "set", "eth0", "up")
	add("ip", "-n", c, "route", "add", "default", "via", RouterClientSide4.String())
	add("ip", "-n", c, "-6", "route", "add", "default", "via", RouterClientSide6.String())
	lanPort := func(role, port string, a4, a6 string) {
		ns := l.NS(role)
		add("ip", "link", "add", port, "netns", rt, "type", "veth", "peer", "name", "eth0", "netns", ns)
		add("ip", "-n", rt, "link", "set", port, "master", "br0", "up")
		add("ip", "-n", ns, "addr", "add", a4+"/24", "dev", "eth0")
		add("ip", "-n", ns, "addr", "add", a6+"/64", "dev", "eth0", "nodad")
		add("ip", "-n", ns, "link", "set", "eth0", "up")
	}
	lanPort("dir", "p-dir", Director4.String(), Director6.String())
	add("ip", "-n", d, "route", "add", "default", "via", RouterLAN4.String())
	add("ip", "-n", d, "-6", "route", "add", "default", "via", RouterLAN6.String())
	if l.Opts.Director2 {
		lanPort("dir2", "p-dir2", Director2_4.String(), Director2_6.String())
		add("ip", "-n", l.NS("dir2"), "route", "add", "default", "via", RouterLAN4.String())
		add("ip", "-n", l.NS("dir2"), "-6", "route", "add", "default", "via", RouterLAN6.String())
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		r := RS(n)
		ns := l.NS(r)
		lanPort(r, "p-"+r, RealServer(n, false).String(), RealServer(n, true).String())
		// NAT: replies go back through the director
		add("ip", "-n", ns, "route", "add", "default", "via", Director4.String())
		add("ip", "-n", ns, "-6", "route", "add", "default", "via", Director6.String())
		// DR/TUN: the VIPs on lo, replies from them straight to the router
		add("ip", "-n", ns, "route", "add", "default", "via", RouterLAN4.String(), "table", "100")
		add("ip", "-n", ns, "-6", "route", "add", "default", "via", RouterLAN6.String(), "table", "100")
		for i := 0; i < VIPs; i++ {
			add("ip", "-n", ns, "addr", "add", VIP(i, false).String()+"/32", "dev", "lo")
			add("ip", "-n", ns, "addr", "add", VIP(i, true).String()+"/128", "dev", "lo", "nodad")
			add("ip", "-n", ns, "rule", "add", "from", VIP(i, false).String(), "lookup", "100")
			add("ip", "-n", ns, "-6", "rule", "add", "from", VIP(i, true).String(), "lookup", "100")
		}
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	for _, r := range []string{"router", "dir", "dir2"} {
		if r == "dir2" && !l.Opts.Director2 {
			continue
		}
		if err := l.sysctl(r, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"); err != nil {
			return err
		}
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		if err := l.sysctl(RS(n), "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
			"net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2",
			"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"); err != nil {
			return err
		}
	}
	return nil
}

// Down removes the lab: processes, namespaces, work files.
func (l *Lab) Down() error {
	l.mu.Lock()
	for name, c := range l.procs {
		if c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			c.Process.Kill()
			c.Wait()
		}
		delete(l.procs, name)
	}
	l.mu.Unlock()
	Clean(l.Opts.Prefix)
	if l.Opts.WorkDir == "" && l.Dir != "" {
		os.RemoveAll(l.Dir)
	}
	return nil
}

// Clean deletes every namespace with the prefix and the processes in
// them, whatever created them (a crashed run included).
func Clean(prefix string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix+"-") {
			continue
		}
		if pids, err := exec.Command("ip", "netns", "pids", f[0]).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				if pid, err := strconv.Atoi(p); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

// Exec runs a command in a namespace and returns its combined output.
func (l *Lab) Exec(ctx context.Context, role string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.NS(role), name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Spawn starts a background process in a namespace; Down kills it. Its
// output goes to <Dir>/<name>.log.
func (l *Lab) Spawn(name, role string, bin string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(l.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.NS(role), bin}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	go func() { cmd.Wait(); log.Close() }()
	l.mu.Lock()
	l.procs[name] = cmd
	l.mu.Unlock()
	return cmd, nil
}

// Kill stops a spawned process.
func (l *Lab) Kill(name string) {
	l.mu.Lock()
	c := l.procs[name]
	delete(l.procs, name)
	l.mu.Unlock()
	if c != nil && c.Process != nil {
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
}

// Log returns a spawned process's output so far.
func (l *Lab) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.Dir, name+".log"))
	return string(b)
}

// moduleRoot finds the GVS module's root (to build its commands).
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Dir(filepath.Dir(file))
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil && len(bytes.TrimSpace(out)) > 0 && string(bytes.TrimSpace(out)) != os.DevNull {
		return filepath.Dir(string(bytes.TrimSpace(out))), nil
	}
	return "", errors.New("lab: cannot find the GVS module to build its commands")
}

// Binary returns the path of a GVS command ("gvsd", "gvsadm",
// "gvs-tundecap", "gvs-lab"), building it into the lab's directory once.
// GVS_BIN_DIR points at prebuilt binaries instead.
func (l *Lab) Binary(name string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.bins[name]; p != "" {
		return p, nil
	}
	if dir := os.Getenv("GVS_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			l.bins[name] = p
			return p, nil
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(l.Dir, "bin", name)
	cmd := exec.Command("go", "build", "-o", p, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lab: build %s: %v: %s", name, err, out)
	}
	l.bins[name] = p
	return p, nil
}
