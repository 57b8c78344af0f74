package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/lab"
)

// TestLocalClients: processes on the director that connect to a VIP are
// balanced like any client (NAT over IPv4 and IPv6, DR), while the
// director keeps its own traffic working.
func TestLocalClients(t *testing.T) {
	d := director(t, "services:\n"+
		rsConfig("tcp", "10.0.2.100", 80, "rr", "masq", "", 80)+
		rsConfig("tcp", "fd00:2::100", 80, "rr", "masq", "", 80)+
		rsConfig("tcp", "10.0.2.101", 80, "rr", "route", "", 80))
	l := d.Lab
	for _, url := range []string{"http://10.0.2.100/", "http://[fd00:2::100]/", "http://10.0.2.101/"} {
		seen := map[string]int{}
		for i := 0; i < 6; i++ {
			body, err := l.HTTPGetFrom(ctx(t), "dir", netip.Addr{}, url)
			if err != nil {
				t.Fatalf("local client: %v", err)
			}
			seen[strings.Fields(body)[0]]++
		}
		if len(seen) != 3 || seen["rs1"] != 2 || seen["rs2"] != 2 || seen["rs3"] != 2 {
			t.Errorf("%s from the director: %v, want rr over rs1..rs3 twice each", url, seen)
		}
	}
	// the director still reaches a real server directly
	if body, err := l.HTTPGetFrom(ctx(t), "dir", netip.Addr{}, "http://10.0.2.11/"); err != nil || !strings.HasPrefix(body, "rs1") {
		t.Errorf("direct request from the director: %q %v", body, err)
	}
	// and the client side still works alongside
	if got := whoami(t, l, lab.Client(0, false).String(), "http://10.0.2.100/"); !strings.HasPrefix(got, "rs") {
		t.Errorf("client: %q", got)
	}
}

// serveOn starts an HTTP server inside a lab namespace that answers
// "name <remote address>".
func serveOn(t *testing.T, l *lab.Lab, role, addr, name string) {
	t.Helper()
	var ln net.Listener
	err := l.Do(role, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", name, r.RemoteAddr)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// TestVIPOnInterface: the classic LVS set-up. The VIP is an address of a
// director interface and services are added with gvsadm: service ports go
// to the real servers without a single RST from the director's own stack,
// and other ports of the VIP stay with the kernel's local listeners.
func TestVIPOnInterface(t *testing.T) {
	d := director(t, "")
	l := d.Lab
	vip := "10.0.2.120" // outside the lab's VIP range, which DR real servers hold on lo
	if _, err := l.Exec(ctx(t), "dir", "ip", "addr", "add", vip+"/32", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Exec(context.Background(), "dir", "ip", "addr", "del", vip+"/32", "dev", "eth0") })
	serveOn(t, l, "dir", vip+":8088", "director")
	// RSTs from the VIP: the director's stack answering. (A client may
	// itself reset a connection whose ephemeral port an earlier test left
	// in TIME_WAIT on a NAT real server: the server's challenge ACK makes
	// it reset and retry; that is the lab's port reuse, not the director.)
	cap, err := l.Capture(ctx(t), "client", "eth0", "src host "+vip+" and tcp[tcpflags] & tcp-rst != 0")
	if err != nil {
		t.Fatal(err)
	}
	adm(t, d, "-A", "-t", vip+":80", "-s", "rr")
	for n := 1; n <= 3; n++ {
		adm(t, d, "-a", "-t", vip+":80", "-r", lab.RealServer(n, false).String()+":80", "-m")
	}
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		seen[whoami(t, l, lab.Client(i%4, false).String(), "http://"+vip+"/")]++
	}
	if seen["rs1"] != 10 || seen["rs2"] != 10 || seen["rs3"] != 10 {
		t.Errorf("distribution %v, want 10 each", seen)
	}
	if got := whoami(t, l, lab.Client(0, false).String(), "http://"+vip+":8088/"); got != "director" {
		t.Errorf("VIP port without a service: answered by %q, want the director's own listener", got)
	}
	// the director's own processes reach the service on its local VIP too
	if body, err := l.HTTPGetFrom(ctx(t), "dir", netip.Addr{}, "http://"+vip+"/"); err != nil || !strings.HasPrefix(body, "rs") {
		t.Errorf("local client to a local VIP: %q %v", body, err)
	}
	cap.Stop()
	pkts, err := cap.Packets(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) > 0 {
		t.Errorf("RSTs on the client link (the director's stack answered virtual-service traffic?):\n%s", strings.Join(pkts, "\n"))
	}
}

// TestGratuitousARP: a VIP that is on no interface is announced when its
// first service appears, and answered for afterwards.
func TestGratuitousARP(t *testing.T) {
	d := director(t, "")
	l := d.Lab
	cap, err := l.Capture(ctx(t), "router", "br0", "arp")
	if err != nil {
		t.Fatal(err)
	}
	adm(t, d, "-A", "-t", "10.0.2.106:80")
	adm(t, d, "-a", "-t", "10.0.2.106:80", "-r", "10.0.2.11:80", "-m")
	deadline := time.Now().Add(3 * time.Second)
	var pkts []string
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if pkts, err = cap.Packets(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(pkts, "\n"), "10.0.2.106 tell 10.0.2.106") {
			break
		}
	}
	cap.Stop()
	if !strings.Contains(strings.Join(pkts, "\n"), "10.0.2.106 tell 10.0.2.106") {
		t.Fatalf("no gratuitous ARP for 10.0.2.106 on the LAN:\n%s", strings.Join(pkts, "\n"))
	}
	if got := whoami(t, l, lab.Client(0, false).String(), "http://10.0.2.106/"); got != "rs1" {
		t.Errorf("got %q from the announced VIP", got)
	}
}

// TestLocalNode: a destination that is an address of the director itself
// delivers to local sockets (here with NAT port mapping), mixed with a
// remote real server; the local server sees the client's address.
func TestLocalNode(t *testing.T) {
	d := director(t, "")
	l := d.Lab
	serveOn(t, l, "dir", "10.0.2.1:8081", "director")
	adm(t, d, "-A", "-t", "10.0.2.107:80", "-s", "rr")
	adm(t, d, "-a", "-t", "10.0.2.107:80", "-r", "10.0.2.11:80", "-m")
	adm(t, d, "-a", "-t", "10.0.2.107:80", "-r", "10.0.2.1:8081", "-m")
	client := lab.Client(2, false).String()
	seen := map[string]int{}
	for i := 0; i < 4; i++ {
		body, err := l.HTTPGet(ctx(t), client, "http://10.0.2.107/")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(body)
		seen[f[0]]++
		if f[0] == "director" && !strings.HasPrefix(f[1], client+":") {
			t.Errorf("the local real server saw %s, want the client %s", f[1], client)
		}
	}
	if seen["director"] != 2 || seen["rs1"] != 2 {
		t.Errorf("distribution %v, want 2 local and 2 on rs1", seen)
	}
}
