//go:build linux

// Command gvs-lab builds, inspects and tears down GVS's network-namespace
// lab (package lab), and runs the lab's small helpers.
//
//	gvs-lab up [--prefix gvs] [--servers 3] [--director2] [--big-file BYTES] [--dir DIR] [--no-services] [--no-decap] [--foreground]
//	gvs-lab down [--prefix gvs]
//	gvs-lab status [--prefix gvs]
//	gvs-lab exec [--prefix gvs] NS -- command...   (NS: client, router, dir, rs1... or a full name)
//	gvs-lab demo [--keep]
//
// Helpers the lab and the end-to-end tests run inside namespaces:
//
//	gvs-lab udp-echo --name rs1 [--port 9000]
//	gvs-lab udp-send --src A --dst B [--port 9000] [--payload hello]
//	gvs-lab conns --dst VIP [--port 80] [--count 1000]
//	gvs-lab flood --iface eth0 --mac MAC --dst VIP [--count 10000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/govs/gvs/lab"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet("gvs-lab "+cmd, flag.ExitOnError)
	prefix := fs.String("prefix", "gvs", "namespace prefix")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch cmd {
	case "up":
		servers := fs.Int("servers", 3, "real servers")
		dir2 := fs.Bool("director2", false, "a second director (dir2, 10.0.2.2)")
		big := fs.Int64("big-file", 0, "size in bytes of /big on the real servers")
		dir := fs.String("dir", "", "work directory, kept by down (default: a temporary one, removed by down)")
		noServices := fs.Bool("no-services", false, "no nginx, dnsmasq or UDP echo")
		noDecap := fs.Bool("no-decap", false, "no gvs-tundecap on the real servers")
		foreground := fs.Bool("foreground", false, "stay in the foreground and tear the lab down on Ctrl-C")
		fs.Parse(args)
		l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, Servers: *servers, Director2: *dir2, BigFile: *big,
			WorkDir: *dir, NoServices: *noServices, NoDecap: *noDecap})
		if err != nil {
			fail(err)
		}
		printLab(l)
		if !*foreground {
			fmt.Printf("\nthe lab stays up; try:\n  gvs-lab exec --prefix %[1]s client -- curl -s http://%[2]s/\n  gvs-lab status --prefix %[1]s\n  gvs-lab down --prefix %[1]s\n",
				*prefix, lab.RealServer(1, false))
			return
		}
		fmt.Println("\nthe lab is up; Ctrl-C tears it down")
		<-ctx.Done()
		if err := l.Down(); err != nil {
			fail(err)
		}
	case "down":
		fs.Parse(args)
		names, _ := lab.Namespaces(*prefix)
		if err := lab.Clean(*prefix); err != nil {
			fail(err)
		}
		fmt.Printf("lab %q down (%d namespaces removed)\n", *prefix, len(names))
	case "status":
		fs.Parse(args)
		names, err := lab.Namespaces(*prefix)
		if err != nil {
			fail(err)
		}
		l, err := lab.Attach(*prefix)
		if err != nil {
			if len(names) == 0 {
				fmt.Printf("no lab %q\n", *prefix)
				os.Exit(1)
			}
			fmt.Printf("lab %q: no state recorded (a crashed run?); namespaces: %s\n", *prefix, strings.Join(names, " "))
			return
		}
		printLab(l)
		present := map[string]bool{}
		for _, n := range names {
			present[n] = true
		}
		for _, h := range l.Hosts() {
			if !present[h.Netns] {
				fmt.Printf("MISSING namespace %s\n", h.Netns)
			}
		}
	case "exec":
		fs.Parse(args)
		rest := fs.Args()
		if len(rest) < 3 || rest[1] != "--" {
			usage()
		}
		ns := rest[0]
		if !strings.HasPrefix(ns, *prefix+"-") {
			ns = *prefix + "-" + ns
		}
		c := exec.Command("ip", append([]string{"netns", "exec", ns}, rest[2:]...)...)
		c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
		signal.Ignore(syscall.SIGINT) // the command gets it
		if err := c.Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				os.Exit(exit.ExitCode())
			}
			fail(err)
		}
	case "demo":
		keep := fs.Bool("keep", false, "leave the lab and gvsd running for exploring")
		fs.Parse(args)
		if err := lab.EnsurePackages(os.Stdout); err != nil {
			fail(err)
		}
		if err := lab.RunDemo(ctx, os.Stdout, *keep); err != nil {
			fail(err)
		}
	case "udp-echo":
		name := fs.String("name", "", "server name to answer with")
		port := fs.Int("port", lab.UDPEchoPort, "UDP port")
		fs.Parse(args)
		if err := lab.RunUDPEcho(ctx, *name, *port); err != nil && ctx.Err() == nil {
			fail(err)
		}
	case "udp-send":
		src := fs.String("src", "", "source address")
		dst := fs.String("dst", "", "destination address")
		port := fs.Int("port", lab.UDPEchoPort, "UDP port")
		payload := fs.String("payload", "hello", "payload")
		fs.Parse(args)
		var s netip.Addr
		if *src != "" {
			s = parseAddr(*src)
		}
		reply, err := lab.UDPSend(s, parseAddr(*dst), *port, *payload)
		if err != nil {
			fail(err)
		}
		fmt.Println(reply)
	case "conns":
		dst := fs.String("dst", "", "destination address")
		port := fs.Int("port", lab.HTTPPort, "TCP port")
		count := fs.Int("count", 1000, "concurrent connections")
		fs.Parse(args)
		d := parseAddr(*dst)
		var srcs []netip.Addr
		for i := 0; i < lab.Clients; i++ {
			srcs = append(srcs, lab.Client(i, d.Is6()))
		}
		done, per, err := lab.ManyConns(netip.AddrPortFrom(d, uint16(*port)), *count, srcs)
		fmt.Println(done, per)
		if err != nil {
			fail(err)
		}
	case "flood":
		iface := fs.String("iface", "eth0", "interface")
		mac := fs.String("mac", "", "destination MAC")
		dst := fs.String("dst", "", "the VIP the frames claim to be for")
		count := fs.Int("count", 10000, "frames")
		fs.Parse(args)
		hw, err := net.ParseMAC(*mac)
		if err != nil {
			fail(err)
		}
		n, err := lab.Flood(*iface, hw, parseAddr(*dst), *count)
		if err != nil {
			fail(err)
		}
		fmt.Println(n)
	default:
		usage()
	}
}

func printLab(l *lab.Lab) {
	fmt.Printf("lab %q: %d real servers, work dir %s\n\n", l.Opts.Prefix, l.Opts.Servers, l.Dir)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ROLE\tNAMESPACE\tIPv4\tIPv6\tGATEWAY")
	for _, h := range l.Hosts() {
		gw := "-"
		if h.Gateway4.IsValid() {
			gw = h.Gateway4.String() + ", " + h.Gateway6.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.Role, h.Netns, h.IPv4, h.IPv6, gw)
	}
	w.Flush()
	fmt.Printf("\nclient addresses %s-%s, %s-%s; VIPs %s-%s, %s-%s (on every real server's lo)\n",
		lab.Client(0, false), lab.Client(lab.Clients-1, false), lab.Client(0, true), lab.Client(lab.Clients-1, true),
		lab.VIP(0, false), lab.VIP(lab.VIPs-1, false), lab.VIP(0, true), lab.VIP(lab.VIPs-1, true))
	if ps := l.Processes(); len(ps) > 0 {
		fmt.Println()
		w = tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "PROCESS\tPID\tSTATE")
		for _, p := range ps {
			state := "running"
			if !p.Alive {
				state = "gone"
			}
			fmt.Fprintf(w, "%s\t%d\t%s\n", p.Name, p.Pid, state)
		}
		w.Flush()
	}
}

func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		fail(err)
	}
	return a
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  gvs-lab up [--prefix gvs] [--servers 3] [--director2] [--big-file BYTES] [--dir DIR] [--no-services] [--no-decap] [--foreground]
  gvs-lab down [--prefix gvs]
  gvs-lab status [--prefix gvs]
  gvs-lab exec [--prefix gvs] NS -- command...
  gvs-lab demo [--keep]
  gvs-lab udp-echo --name N [--port P] | udp-send --src A --dst B [--port P] [--payload S]
  gvs-lab conns --dst VIP [--port P] [--count N] | flood --iface IF --mac MAC --dst VIP [--count N]
`)
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gvs-lab:", err)
	os.Exit(1)
}
