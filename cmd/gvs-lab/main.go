// Command gvs-lab builds and tears down GVS's network-namespace lab, and
// runs the lab's small helpers (the UDP echo the real servers serve).
//
//	gvs-lab up [--prefix gvs] [--servers 3] [--big-file BYTES]
//	gvs-lab down [--prefix gvs]
//	gvs-lab status [--prefix gvs]
//	gvs-lab exec NS -- command...
//	gvs-lab udp-echo --name rs1 --port 9000
//	gvs-lab udp-send --src A --dst B --port 9000 --payload hello
//	gvs-lab demo [--keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/govs/gvs/lab"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	prefix := fs.String("prefix", "gvs", "namespace prefix")
	servers := fs.Int("servers", 3, "real servers")
	big := fs.Int64("big-file", 0, "size of /big on the real servers")
	dir := fs.String("dir", "/tmp/gvs-lab", "work directory (kept)")
	name := fs.String("name", "", "udp-echo: server name")
	port := fs.Int("port", lab.UDPEchoPort, "udp-echo, udp-send: port")
	src := fs.String("src", "", "udp-send: source address")
	dst := fs.String("dst", "", "udp-send: destination address")
	payload := fs.String("payload", "hello", "udp-send: payload")
	keep := fs.Bool("keep", false, "demo: leave the lab and gvsd running for exploring")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch cmd {
	case "up":
		fs.Parse(args)
		l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, Servers: *servers, BigFile: *big, WorkDir: *dir})
		if err != nil {
			fail(err)
		}
		fmt.Printf("lab %q is up (work dir %s); its processes stop when this command ends: press Ctrl-C to tear down\n", *prefix, l.Dir)
		<-ctx.Done()
		l.Down()
	case "down":
		fs.Parse(args)
		lab.Clean(*prefix)
	case "status":
		fs.Parse(args)
		out, _ := exec.Command("ip", "netns", "list").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, *prefix+"-") {
				fmt.Println(line)
			}
		}
	case "exec":
		if len(args) < 3 || args[1] != "--" {
			usage()
		}
		c := exec.Command("ip", append([]string{"netns", "exec", args[0]}, args[2:]...)...)
		c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := c.Run(); err != nil {
			os.Exit(1)
		}
	case "demo":
		fs.Parse(args)
		if err := lab.EnsurePackages(os.Stdout); err != nil {
			fail(err)
		}
		if err := lab.RunDemo(ctx, os.Stdout, *keep); err != nil {
			fail(err)
		}
	case "flood":
		iface := fs.String("iface", "eth0", "flood: interface")
		mac := fs.String("mac", "", "flood: destination MAC")
		count := fs.Int("count", 10000, "flood: frames")
		fs.Parse(args)
		hw, err := net.ParseMAC(*mac)
		if err != nil {
			fail(err)
		}
		d, err := netip.ParseAddr(*dst)
		if err != nil {
			fail(err)
		}
		n, err := lab.Flood(*iface, hw, d, *count)
		if err != nil {
			fail(err)
		}
		fmt.Println(n)
	case "conns":
		count := fs.Int("count", 1000, "conns: concurrent connections")
		fs.Parse(args)
		d, err := netip.ParseAddr(*dst)
		if err != nil {
			fail(err)
		}
		var srcs []netip.Addr
		for i := 0; i < lab.Clients; i++ {
			srcs = append(srcs, lab.Client(i, d.Is6()))
		}
		done, per, err := lab.ManyConns(netip.AddrPortFrom(d, uint16(*port)), *count, srcs)
		fmt.Println(done, per)
		if err != nil {
			fail(err)
		}
	case "udp-send":
		fs.Parse(args)
		s, err := netip.ParseAddr(*src)
		if err != nil {
			fail(err)
		}
		d, err := netip.ParseAddr(*dst)
		if err != nil {
			fail(err)
		}
		reply, err := lab.UDPSend(s, d, *port, *payload)
		if err != nil {
			fail(err)
		}
		fmt.Println(reply)
	case "udp-echo":
		fs.Parse(args)
		if err := lab.RunUDPEcho(ctx, *name, *port); err != nil && ctx.Err() == nil {
			fail(err)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gvs-lab demo [--keep] | up|down|status [--prefix P] | exec NS -- cmd... | udp-echo --name N --port P | udp-send --src A --dst B --port P")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gvs-lab:", err)
	os.Exit(1)
}
