// Package sched holds IPVS's schedulers, one file each, registered with
// the engine under the kernel's names from init: rr wrr lc wlc lblc lblcr
// dh sh sed nq fo ovf mh twos. Each follows its kernel counterpart
// (net/netfilter/ipvs/ip_vs_<name>.c): the order destinations are tried
// (the service's list, newest first), tie-breaking, starting points, hash
// functions and table sizes, and which destinations are skipped (weight 0,
// overloaded) are the kernel's; the oracle tests replay a real kernel's
// choices.
//
// It imports only package ipvs. Where to start reading: util.go (the
// shared comparisons), then any scheduler file.
package sched
