// Package e2e holds GVS's end-to-end tests: gvsd in the lab's director
// namespace balancing real traffic (curl to nginx, UDP to an echo service,
// DNS to dnsmasq) from the client namespace to real servers, for NAT, DR
// and TUN, IPv4 and IPv6. They need root, iproute2, nftables, nginx-light
// and dnsmasq, and skip with a message when those are missing; CI has them.
package e2e
