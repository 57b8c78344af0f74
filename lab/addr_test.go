package lab

import (
	"net/netip"
	"testing"
)

func TestAddressPlan(t *testing.T) {
	for _, c := range []struct {
		got  netip.Addr
		want string
	}{
		{Client(0, false), "10.0.1.2"}, {Client(8, false), "10.0.1.10"},
		{Client(0, true), "fd00:1::2"}, {Client(8, true), "fd00:1::10"},
		{RealServer(1, false), "10.0.2.11"}, {RealServer(1, true), "fd00:2::11"},
		{RealServer(10, false), "10.0.2.20"}, {RealServer(10, true), "fd00:2::20"},
		{RealServer(MaxServers, false), "10.0.2.99"},
		{VIP(0, false), "10.0.2.100"}, {VIP(9, true), "fd00:2::109"},
	} {
		if c.got.String() != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	// everything on the LAN is in the LAN prefix, and nothing collides
	seen := map[netip.Addr]string{}
	for _, v6 := range []bool{false, true} {
		lan, clients := LAN4, ClientNet4
		if v6 {
			lan, clients = LAN6, ClientNet6
		}
		add := func(a netip.Addr, what string, in netip.Prefix) {
			if !in.Contains(a) {
				t.Errorf("%s %s outside %s", what, a, in)
			}
			if other, ok := seen[a]; ok {
				t.Errorf("%s %s is also %s", what, a, other)
			}
			seen[a] = what
		}
		for i := 0; i < Clients; i++ {
			add(Client(i, v6), "client", clients)
		}
		for n := 1; n <= MaxServers; n++ {
			add(RealServer(n, v6), RS(n), lan)
		}
		for i := 0; i < VIPs; i++ {
			add(VIP(i, v6), "VIP", lan)
		}
	}
	for _, a := range []netip.Addr{RouterLAN4, Director4, Director2_4, RouterLAN6, Director6, Director2_6} {
		if w, ok := seen[a]; ok {
			t.Errorf("%s is also %s", a, w)
		}
	}
}

func TestAddressOutOfRange(t *testing.T) {
	for _, f := range []func(){func() { RealServer(0, false) }, func() { RealServer(MaxServers+1, true) }, func() { VIP(VIPs, false) }, func() { Client(-1, false) }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func TestPlanInterfaceNames(t *testing.T) {
	// the router's LAN ports are p-<role>: within IFNAMSIZ for every role
	for _, h := range plan("gvs", MaxServers, true) {
		if len("p-"+h.Role) > 15 {
			t.Errorf("port name p-%s too long", h.Role)
		}
	}
}
