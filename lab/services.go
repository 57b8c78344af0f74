//go:build linux

package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func (l *Lab) rsDir(n int) string { return filepath.Join(l.Dir, RS(n)) }

func (l *Lab) checkServer(n int) error {
	if n < 1 || n > l.Opts.Servers {
		return fmt.Errorf("lab: no real server %d (the lab has %d)", n, l.Opts.Servers)
	}
	return nil
}

// startDecaps runs gvs-tundecap in every real server and waits for its
// TUN device.
func (l *Lab) startDecaps(ctx context.Context) error {
	bin, err := l.Binary("gvs-tundecap")
	if err != nil {
		return err
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		if err := l.Spawn("tundecap-"+RS(n), RS(n), bin, "--tun", "gvstun0", "--gue-port", strconv.Itoa(l.Opts.GUEPort)); err != nil {
			return err
		}
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		err := l.waitFor(ctx, "tundecap-"+RS(n), "its TUN device gvstun0", func() (bool, error) {
			ok := false
			err := l.Do(RS(n), func() error {
				ifi, err := net.InterfaceByName("gvstun0")
				ok = err == nil && ifi.Flags&net.FlagUp != 0
				return nil
			})
			return ok, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// waitFor polls ready until it holds, the process called name exits, ctx
// ends or ten seconds pass.
func (l *Lab) waitFor(ctx context.Context, name, what string, ready func() (bool, error)) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := ready()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if !l.Running(name) {
			return fmt.Errorf("lab: %s exited before %s was ready; its log:\n%s", name, what, l.Log(name))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: %s: %s not ready after 10 s; its log:\n%s", name, what, l.Log(name))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listening reports whether a socket of proto ("tcp" or "udp") is bound to
// port (listening, for TCP) in a role's namespace, reading the kernel's
// socket tables from a thread inside it.
func (l *Lab) listening(role, proto string, port int) (bool, error) {
	found := false
	err := l.Do(role, func() error {
		for _, file := range []string{proto, proto + "6"} {
			f, err := os.Open("/proc/thread-self/net/" + file)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) < 4 {
					continue
				}
				_, portHex, ok := strings.Cut(fields[1], ":")
				p, err := strconv.ParseUint(portHex, 16, 16)
				if !ok || err != nil || int(p) != port {
					continue
				}
				if proto == "udp" || fields[3] == "0A" { // 0A: TCP_LISTEN
					found = true
				}
			}
			f.Close()
		}
		return nil
	})
	return found, err
}

func (l *Lab) waitListening(ctx context.Context, name, role, proto string, ports ...int) error {
	for _, port := range ports {
		err := l.waitFor(ctx, name, fmt.Sprintf("%s port %d in %s", proto, port, role), func() (bool, error) {
			return l.listening(role, proto, port)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

const nginxConf = `daemon off;
user root;
worker_processes 1;
worker_rlimit_nofile 16384;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp-body;
  proxy_temp_path %[1]s/tmp-proxy;
  fastcgi_temp_path %[1]s/tmp-fcgi;
  uwsgi_temp_path %[1]s/tmp-uwsgi;
  scgi_temp_path %[1]s/tmp-scgi;
  types { text/plain html txt; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 8s;
  server {
    listen %[3]d default_server; listen [::]:%[3]d default_server;
    listen %[4]d default_server; listen [::]:%[4]d default_server;
    listen %[5]d default_server; listen [::]:%[5]d default_server;
    root %[1]s/www;
    index index.html;
    location = /whoami { default_type text/plain; return 200 "%[2]s client=$remote_addr:$remote_port local=$server_addr:$server_port\n"; }
  }
}
`

// StartNginx starts (or restarts) nginx on real server n: "/" answers
// "rsN\n", /whoami "rsN client=ADDR:PORT local=ADDR:PORT", /big the big
// file if there is one; ports 80, 8080 and 443 (plain HTTP), IPv4 and
// IPv6. It returns once nginx listens.
func (l *Lab) StartNginx(ctx context.Context, n int) error {
	if err := l.checkServer(n); err != nil {
		return err
	}
	bin, err := lookPath("nginx")
	if err != nil {
		return err
	}
	dir := l.rsDir(n)
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte(RS(n)+"\n"), 0o644); err != nil {
		return err
	}
	conf := fmt.Sprintf(nginxConf, dir, RS(n), HTTPPort, HTTPAltPort, HTTPSPort)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	name := "nginx-" + RS(n)
	l.Kill(name)
	if err := l.Spawn(name, RS(n), bin, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "nginx-error.log")); err != nil {
		return err
	}
	return l.waitListening(ctx, name, RS(n), "tcp", HTTPPort, HTTPAltPort, HTTPSPort)
}

// StopNginx stops nginx on real server n (health checks then see it fail).
func (l *Lab) StopNginx(n int) { l.Kill("nginx-" + RS(n)) }

// StartDNS starts dnsmasq on real server n, port 53: whoami.lab answers
// TXT "rsN" and the server's own A and AAAA addresses.
func (l *Lab) StartDNS(ctx context.Context, n int) error {
	if err := l.checkServer(n); err != nil {
		return err
	}
	bin, err := lookPath("dnsmasq")
	if err != nil {
		return err
	}
	name := "dnsmasq-" + RS(n)
	l.Kill(name)
	dir := l.rsDir(n)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err = l.Spawn(name, RS(n), bin, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--log-facility=-", "--port="+strconv.Itoa(DNSPort), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user=root",
		"--txt-record=whoami.lab,"+RS(n),
		"--address=/whoami.lab/"+RealServer(n, false).String(), "--address=/whoami.lab/"+RealServer(n, true).String())
	if err != nil {
		return err
	}
	return l.waitListening(ctx, name, RS(n), "udp", DNSPort)
}

// StopDNS stops dnsmasq on real server n.
func (l *Lab) StopDNS(n int) { l.Kill("dnsmasq-" + RS(n)) }

// StartUDPEcho starts the UDP echo on real server n (UDPEchoPort, IPv4 and
// IPv6): each datagram is answered from the address it was sent to with
// "rsN client=ADDR:PORT local=ADDR PAYLOAD".
func (l *Lab) StartUDPEcho(ctx context.Context, n int) error {
	if err := l.checkServer(n); err != nil {
		return err
	}
	bin, err := l.Binary("gvs-lab")
	if err != nil {
		return err
	}
	name := "udpecho-" + RS(n)
	l.Kill(name)
	if err := l.Spawn(name, RS(n), bin, "udp-echo", "--name", RS(n), "--port", strconv.Itoa(UDPEchoPort)); err != nil {
		return err
	}
	return l.waitListening(ctx, name, RS(n), "udp", UDPEchoPort)
}

// StopUDPEcho stops the UDP echo on real server n.
func (l *Lab) StopUDPEcho(n int) { l.Kill("udpecho-" + RS(n)) }

// StartIperf starts an iperf3 server on real server n (port 0:
// IperfPort), for benchmarks; StopIperf or Down stops it.
func (l *Lab) StartIperf(ctx context.Context, n, port int) error {
	if err := l.checkServer(n); err != nil {
		return err
	}
	if port == 0 {
		port = IperfPort
	}
	bin, err := lookPath("iperf3")
	if err != nil {
		return errors.New("lab: iperf3 is not installed (Debian package iperf3)")
	}
	name := fmt.Sprintf("iperf3-%s-%d", RS(n), port)
	l.Kill(name)
	if err := l.Spawn(name, RS(n), bin, "--server", "--port", strconv.Itoa(port)); err != nil {
		return err
	}
	return l.waitListening(ctx, name, RS(n), "tcp", port)
}

// StopIperf stops the iperf3 server on real server n and port.
func (l *Lab) StopIperf(n, port int) {
	if port == 0 {
		port = IperfPort
	}
	l.Kill(fmt.Sprintf("iperf3-%s-%d", RS(n), port))
}

func (l *Lab) startServices(ctx context.Context) error {
	for n := 1; n <= l.Opts.Servers; n++ {
		if err := l.StartNginx(ctx, n); err != nil {
			return err
		}
		if err := l.StartDNS(ctx, n); err != nil {
			return err
		}
		if err := l.StartUDPEcho(ctx, n); err != nil {
			return err
		}
	}
	if l.Opts.BigFile > 0 {
		return l.SetBigFile(l.Opts.BigFile)
	}
	return nil
}

// SetBigFile (re)makes the file every real server serves as /big: size
// pseudo-random bytes, the same on all of them (one file, hard-linked),
// so a client's digest can be compared with BigFilePath's.
func (l *Lab) SetBigFile(size int64) error {
	src := l.BigFilePath()
	tmp := src + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{'g', 'v', 's'})
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, src); err != nil {
		return err
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		www := filepath.Join(l.rsDir(n), "www")
		if err := os.MkdirAll(www, 0o755); err != nil {
			return err
		}
		dst := filepath.Join(www, "big")
		os.Remove(dst)
		if err := os.Link(src, dst); err != nil {
			return err
		}
	}
	return nil
}

// BigFilePath is the file real servers serve as /big.
func (l *Lab) BigFilePath() string { return filepath.Join(l.Dir, "big") }
