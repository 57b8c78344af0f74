package lab

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Ports the real servers listen on.
const (
	HTTPPort    = 80
	HTTPAltPort = 8080
	DNSPort     = 53
	UDPEchoPort = 9000
	IperfPort   = 5201
)

func (l *Lab) rsDir(n int) string { return filepath.Join(l.Dir, RS(n)) }

// startDecaps runs gvs-tundecap in every real server.
func (l *Lab) startDecaps(ctx context.Context) error {
	bin, err := l.Binary("gvs-tundecap")
	if err != nil {
		return err
	}
	for n := 1; n <= l.Opts.Servers; n++ {
		if _, err := l.Spawn("tundecap-"+RS(n), RS(n), bin, "--gue-port", strconv.Itoa(l.Opts.GUEPort)); err != nil {
			return err
		}
	}
	return nil
}

const nginxConf = `daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp-body;
  proxy_temp_path %[1]s/tmp-proxy;
  fastcgi_temp_path %[1]s/tmp-fcgi;
  uwsgi_temp_path %[1]s/tmp-uwsgi;
  scgi_temp_path %[1]s/tmp-scgi;
  keepalive_requests 100000;
  keepalive_timeout 8s;
  server {
    listen 80 default_server; listen [::]:80 default_server;
    listen 8080 default_server; listen [::]:8080 default_server;
    listen 443 default_server; listen [::]:443 default_server;
    root %[1]s/www;
    location = /whoami { default_type text/plain; return 200 "%[2]s client=$remote_addr:$remote_port local=$server_addr:$server_port\n"; }
    location = /hang { default_type text/plain; echo_sleep 3600; }
  }
}
`

// StartNginx starts (or restarts) nginx on real server n.
func (l *Lab) StartNginx(n int) error {
	bin, err := lookPath("nginx")
	if err != nil {
		return err
	}
	dir := l.rsDir(n)
	conf := fmt.Sprintf(nginxConf, dir, RS(n))
	// echo_sleep needs a module nginx-light lacks: drop that location
	conf = removeLine(conf, "location = /hang")
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	l.Kill("nginx-" + RS(n))
	if _, err := l.Spawn("nginx-"+RS(n), RS(n), bin, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "nginx-error.log")); err != nil {
		return err
	}
	return l.waitTCP(RS(n), RealServer(n, false).String(), HTTPPort)
}

// StopNginx stops nginx on real server n.
func (l *Lab) StopNginx(n int) { l.Kill("nginx-" + RS(n)) }

func removeLine(s, prefix string) string {
	out := ""
	for _, line := range splitLines(s) {
		if len(line) > 0 && containsTrim(line, prefix) {
			continue
		}
		out += line + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

func containsTrim(line, prefix string) bool {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return len(line)-i >= len(prefix) && line[i:i+len(prefix)] == prefix
}

// waitTCP waits until something accepts on addr:port inside role's namespace.
func (l *Lab) waitTCP(role, addr string, port int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := l.Exec(context.Background(), role, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
		if len(out) > 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("lab: nothing listens on %s:%d in %s (see %s)", addr, port, role, filepath.Join(l.Dir, "nginx-"+role+".log"))
}

func (l *Lab) startServices(ctx context.Context) error {
	if err := ServicesAvailable(); err != nil {
		return err
	}
	labBin, err := l.Binary("gvs-lab")
	if err != nil {
		return err
	}
	dnsmasq, _ := lookPath("dnsmasq")
	for n := 1; n <= l.Opts.Servers; n++ {
		dir := l.rsDir(n)
		www := filepath.Join(dir, "www")
		if err := os.MkdirAll(www, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(RS(n)+"\n"), 0o644); err != nil {
			return err
		}
		if l.Opts.BigFile > 0 {
			if err := l.writeBig(filepath.Join(www, "big"), n); err != nil {
				return err
			}
		}
		if err := l.StartNginx(n); err != nil {
			return err
		}
		if _, err := l.Spawn("dnsmasq-"+RS(n), RS(n), dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
			"--port=53", "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user=root",
			"--txt-record=whoami.lab,"+RS(n), "--address=/whoami.lab/"+RealServer(n, false).String(),
			"--address=/whoami.lab/"+RealServer(n, true).String()); err != nil {
			return err
		}
		if _, err := l.Spawn("udpecho-"+RS(n), RS(n), labBin, "udp-echo", "--name", RS(n), "--port", strconv.Itoa(UDPEchoPort)); err != nil {
			return err
		}
	}
	return nil
}

// writeBig writes the same pseudo-random big file to every real server
// (built once, then hard-linked or copied), so digests compare.
func (l *Lab) writeBig(path string, n int) error {
	src := filepath.Join(l.Dir, "big")
	if _, err := os.Stat(src); err != nil {
		f, err := os.Create(src)
		if err != nil {
			return err
		}
		if _, err := io.CopyN(f, rand.Reader, l.Opts.BigFile); err != nil {
			f.Close()
			return err
		}
		f.Close()
	}
	if err := os.Link(src, path); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(out, in)
	return err
}

// BigFilePath returns the big file every real server serves as /big.
func (l *Lab) BigFilePath() string { return filepath.Join(l.Dir, "big") }

// RunUDPEcho answers every datagram with "<name> client=<addr> local=<addr> <payload>",
// on IPv4 and IPv6, replying from the address the datagram was sent to (a
// VIP for DR and TUN).
func RunUDPEcho(ctx context.Context, name string, port int) error {
	c4, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return err
	}
	c6, err := net.ListenUDP("udp6", &net.UDPAddr{Port: port})
	if err != nil {
		c4.Close()
		return err
	}
	go func() { <-ctx.Done(); c4.Close(); c6.Close() }()
	errc := make(chan error, 2)
	go func() { errc <- serveEcho4(c4, name) }()
	go func() { errc <- serveEcho6(c6, name) }()
	return <-errc
}
