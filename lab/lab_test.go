package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestLab(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip("lab:", err, "(CI runs as root)")
	}
	if err := ServicesAvailable(); err != nil {
		t.Skip("lab:", err, "(CI installs them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Up(ctx, Options{Prefix: "gvslt", Servers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		l.Down()
		if _, err := l.Exec(ctx, "client", "true"); err == nil {
			t.Error("namespace left behind")
		}
	}()
	// the client reaches a real server directly (through the router and the
	// LAN), and nginx names it
	out, err := l.Exec(ctx, "client", "curl", "-s", "-m", "3", "http://"+RealServer(1, false).String()+"/")
	if err != nil || out != "rs1\n" {
		t.Fatalf("curl rs1: %q %v", out, err)
	}
	out, err = l.Exec(ctx, "client", "curl", "-s", "-m", "3", "http://["+RealServer(2, true).String()+"]/whoami")
	if err != nil || !strings.HasPrefix(out, "rs2 client=fd00:1::") {
		t.Fatalf("curl rs2 over IPv6: %q %v", out, err)
	}
	// the UDP echo answers with the client's address
	out, err = l.Exec(ctx, "rs2", "dig", "+short", "+time=2", "@"+RealServer(1, false).String(), "TXT", "whoami.lab")
	if err != nil || !strings.Contains(out, `"rs1"`) {
		t.Fatalf("dnsmasq: %q %v", out, err)
	}
	// real servers do not answer ARP for a VIP (arp_ignore)
	l.Exec(ctx, "router", "ping", "-c", "1", "-W", "1", VIP(0, false).String())
	neigh, _ := l.Exec(ctx, "router", "ip", "neigh", "show", VIP(0, false).String())
	if strings.Contains(neigh, "lladdr") {
		t.Fatalf("a real server answered ARP for the VIP: %s", neigh)
	}
}
