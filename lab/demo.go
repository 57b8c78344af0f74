//go:build linux

package lab

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// DemoConfig is the director configuration the demo runs.
//
//go:embed demo.yaml
var DemoConfig []byte

// Director runs gvsd in the lab's director namespace.
type Director struct {
	Lab    *Lab
	Socket string
	Config string
	gvsadm string
	name   string
}

// StartDirector writes config to the lab's directory and starts gvsd with
// it in the director namespace (role "dir" or "dir2"); it returns once the
// API answers.
func (l *Lab) StartDirector(ctx context.Context, role string, config []byte, extraArgs ...string) (*Director, error) {
	gvsd, err := l.Binary("gvsd")
	if err != nil {
		return nil, err
	}
	gvsadm, err := l.Binary("gvsadm")
	if err != nil {
		return nil, err
	}
	d := &Director{Lab: l, Socket: filepath.Join(l.Dir, role+".sock"), Config: filepath.Join(l.Dir, role+".yaml"), gvsadm: gvsadm, name: "gvsd-" + role}
	if err := os.WriteFile(d.Config, config, 0o644); err != nil {
		return nil, err
	}
	args := append([]string{"--config", d.Config, "--socket", d.Socket}, extraArgs...)
	if err := l.Spawn(d.name, role, gvsd, args...); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := d.Adm(ctx, "-Ln"); err == nil {
			return d, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("lab: gvsd did not come up:\n%s", l.Log(d.name))
}

// Adm runs gvsadm against the director.
func (d *Director) Adm(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.gvsadm, args...)
	cmd.Env = append(os.Environ(), "GVSD_SOCKET="+d.Socket)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("gvsadm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Stop stops gvsd (SIGTERM, as an operator would).
func (d *Director) Stop() { d.Lab.Kill(d.name) }

// Log returns gvsd's log.
func (d *Director) Log() string { return d.Lab.Log(d.name) }

// Pid returns gvsd's process id (0 when it is not running).
func (d *Director) Pid() int {
	for _, p := range d.Lab.Processes() {
		if p.Name == d.name && p.Alive {
			return p.Pid
		}
	}
	return 0
}

// Reload sends SIGHUP to gvsd.
func (d *Director) Reload() error { return d.Lab.Signal(d.name, syscall.SIGHUP) }

// RunDemo is the README's main command: lab, director, traffic, listing.
func RunDemo(ctx context.Context, out io.Writer, keep bool) error {
	fmt.Fprintln(out, "== building the lab: client, router, director, 3 real servers (nginx, dnsmasq, UDP echo, TUN decapsulator)")
	l, err := Up(ctx, Options{Prefix: "gvsdemo", Servers: 3})
	if err != nil {
		return err
	}
	if !keep {
		defer l.Down()
	}
	fmt.Fprintln(out, "== starting gvsd on the director with the embedded demo configuration (NAT, DR, TUN; IPv4 and IPv6)")
	d, err := l.StartDirector(ctx, "dir", DemoConfig)
	if err != nil {
		return err
	}
	if !keep {
		defer d.Stop()
	}
	type target struct{ name, url string }
	for _, t := range []target{
		{"NAT  tcp 10.0.2.100:80", "http://10.0.2.100/"},
		{"DR   tcp 10.0.2.101:80", "http://10.0.2.101/"},
		{"TUN  tcp 10.0.2.102:80", "http://10.0.2.102/"},
		{"NAT6 tcp [fd00:2::100]:80", "http://[fd00:2::100]/"},
	} {
		count := map[string]int{}
		for i := 0; i < 12; i++ {
			src := Client(i%Clients, strings.Contains(t.url, "["))
			body, err := l.HTTPGet(ctx, src.String(), t.url)
			if err != nil {
				return err
			}
			count[strings.TrimSpace(body)]++
		}
		fmt.Fprintf(out, "%-28s 12 HTTP requests -> %s\n", t.name, summary(count))
	}
	count := map[string]int{}
	for i := 0; i < 12; i++ {
		reply, err := l.UDPEcho(ctx, Client(i%Clients, false).String(), "10.0.2.100", UDPEchoPort, "hello")
		if err != nil {
			return fmt.Errorf("udp: %v %s", err, reply)
		}
		count[strings.Fields(reply)[0]]++
	}
	fmt.Fprintf(out, "%-28s 12 UDP datagrams -> %s\n", "NAT  udp 10.0.2.100:9000", summary(count))
	listing, err := d.Adm(ctx, "-Ln", "--stats")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "== gvsadm -Ln --stats")
	fmt.Fprint(out, listing)
	listing, err = d.Adm(ctx, "-Ln")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "== gvsadm -Ln")
	fmt.Fprint(out, listing)
	if keep {
		fmt.Fprintf(out, "== the lab stays up: namespaces %s-*, director socket %s\n   try: GVSD_SOCKET=%s gvsadm -Lnc; ip netns exec %s curl http://10.0.2.100/\n   tear down: gvs-lab down --prefix gvsdemo\n",
			l.Opts.Prefix, d.Socket, d.Socket, l.NS("client"))
	}
	return nil
}

func summary(count map[string]int) string {
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, count[k]))
	}
	return strings.Join(parts, " ")
}
