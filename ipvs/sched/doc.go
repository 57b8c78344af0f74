// Package sched holds GVS's schedulers: the algorithms that pick the real
// server for a new connection. They are the Linux kernel's IPVS schedulers
// (net/netfilter/ipvs/ip_vs_<name>.c), rewritten in Go and registered with
// the engine from init under the kernel's names:
//
//	rr     round robin                     ip_vs_rr.c
//	wrr    weighted round robin            ip_vs_wrr.c
//	lc     least connections               ip_vs_lc.c
//	wlc    weighted least connections      ip_vs_wlc.c   (the default)
//	sed    shortest expected delay         ip_vs_sed.c
//	nq     never queue                     ip_vs_nq.c
//	fo     weighted failover               ip_vs_fo.c
//	ovf    weighted overflow               ip_vs_ovf.c
//	twos   weighted random twos choice     ip_vs_twos.c
//	sh     source hashing                  ip_vs_sh.c    (flags sh-fallback, sh-port)
//	dh     destination hashing             ip_vs_dh.c
//	mh     Maglev hashing                  ip_vs_mh.c    (flags mh-fallback, mh-port)
//	lblc   locality-based least conns      ip_vs_lblc.c
//	lblcr  lblc with replication           ip_vs_lblcr.c
//
// A program gets them by importing the package for its side effect:
//
//	import _ "github.com/govs/gvs/ipvs/sched"
//
// Each scheduler reproduces its kernel counterpart exactly, as a real
// kernel (Debian 6.1) shows it: the order destinations are tried (the
// service's list, newest first, as the kernel keeps it), tie-breaking
// (which comparisons are strict), starting points and how rr/wrr positions
// survive list changes, the integer arithmetic of the load comparisons,
// hash functions, table sizes and keys, and which destinations are skipped
// (weight 0, the overload flag set by the upper connection threshold, and
// each scheduler's own extra rules). Where the kernel uses randomness
// (twos) or a tunable the engine does not expose (lblc_expiration), the
// file says what GVS does instead.
//
// The package imports only package ipvs and the standard library; it uses
// the engine's public scheduler API (ipvs.Scheduler, DestUpdater,
// SchedulerTicker) and nothing else, so a scheduler can be read and tested
// on its own.
//
// Where to start reading: common.go has what several schedulers share
// (registration, the kernel's load arithmetic, the weighted least-connection
// loop, the kernel's address folding and hash_32); then rr.go and wlc.go,
// the two shapes every other scheduler follows (position state under the
// service lock; lock-free reads of atomics); then the table-driven ones
// (sh.go, dh.go, mh.go) and the cache-driven ones (locality.go, lblc.go,
// lblcr.go).
//
// Tests: each scheduler has unit tests of its pick sequences for fixed
// configurations, and oracle_test.go replays traffic recorded from a real
// kernel (testdata/oracle: the case scripts and their golden outputs, see
// testdata/oracle/README.md) through the engine and compares every choice
// and every ActiveConn/InActConn listing.
package sched
