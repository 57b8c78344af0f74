// Package bench is GVS's benchmark harness (issue 7): it builds the
// network-namespace lab (package lab) and measures, in one run, on one
// topology, with the same addresses and the same loads:
//
//	(a) kernel routing, no load balancing: the client talks to the real
//	    servers' own addresses and the director namespace is a plain
//	    router (the router sends the real servers' addresses to it);
//	(b) an nftables DNAT load balancer in the director namespace
//	    (numgen inc mod 3 over the real servers);
//	(c) HAProxy in TCP mode in the director namespace (TCP loads only);
//	(d) GVS NAT, (e) GVS DR, (f) GVS TUN: gvsd in the director namespace
//	    (the real servers decapsulate TUN with gvs-tundecap).
//
// The loads, each bounded in time:
//
//  1. udp: 64-byte frames (18-byte UDP payload) from several client flows
//     (source addresses and ports), sent with sendmmsg on connected UDP
//     sockets, counted where they are delivered: a TCX program first on
//     each real server's eth0 ingress counts and drops them (for TUN it
//     matches the ipip packets, ahead of the real server's decapsulation,
//     so that is not measured; sink_linux.go), with nftables netdev-ingress
//     counters as the fallback;
//     delivered packets per second and loss, in two variants: one sender
//     thread (the kernel paths then forward inside the sender's CPU time
//     while gvsd has the other CPU) and one sender per CPU (the whole
//     machine loaded; gvsd competes with the senders for CPU);
//  2. cps: new TCP connections per second, one HTTP request each
//     (Connection: close) to nginx, from N concurrent workers; the TCP
//     loads use explicit client (address, port) pairs, never reused while a
//     real server may still hold the tuple in TIME_WAIT from an earlier
//     scenario (that cost 1 % of the connections 10 ms or 1 s);
//  3. bulk: one iperf3 TCP stream each way (iperf3 and iperf3 -R), offloads
//     at the kernel's defaults; the iperf3 service balances by source
//     address so its control and data connections meet on one server;
//  4. latency: p50 and p99 of a request (new connection, HTTP request,
//     whole response) sent open-loop at a fixed moderate rate (500/s,
//     under a tenth of the slowest peer's connection rate); besides each
//     run's p99, the p99 of every run's requests pooled, since one run's
//     stands on a few of its slowest requests;
//  5. cost: CPU seconds per million delivered packets during load 1 (its
//     one-sender variant): for GVS gvsd's own utime+stime (/proc/PID/stat);
//     for the kernel peers the machine's softirq time (/proc/stat), which
//     includes the client's, router's and real servers' softirq work too
//     (an upper bound; /proc/stat is tick-sampled unless
//     CONFIG_IRQ_TIME_ACCOUNTING is set). The machine's total busy time per
//     million packets is given for all;
//  6. table: the engine's connection-table benchmarks (go test -bench
//     BenchmarkConnLookup ./ipvs/): ns per lookup and bytes per entry at 1M
//     and 10M entries.
//
// gvs-bench --gvsd-args "..." passes extra arguments to every gvsd it
// starts (e.g. --busy-poll 50us), so a data-path option can be measured
// against the peers; the results' settings line lists them.
//
// The machine may be shared: the CPU time of user processes outside the
// lab during each scenario is reported too ("background load").
//
// Rounds interleave the scenarios (round 1 runs a..f, then round 2...), so
// drift on a noisy machine spreads over all of them; each figure is the
// median of the rounds with min and max, and ratios compare medians from
// the same run. A failure is recorded in its cell, never aborting the run.
//
// The host probe (probe.go, --probe, on by default): the bench VM's
// kernel switches for minutes at a time into a mode where every path's
// per-packet cost is about 1.5 times the normal one, in any scenario, and
// which nothing in the guest reports. Before every load the runner probes
// (datagrams through a veth pair in a namespace of its own, from each
// CPU) and waits a little for the normal mode; after it, it probes again.
// A run the probe read slow around is flagged. After the rounds, within
// a budget that keeps the full run under ten minutes, such runs are
// measured again, at another moment of the host. New runs the probe
// reads normal around take the flagged ones' places only for a load whose
// flagged runs were all measured again, in every scenario; otherwise
// they are dropped, so no scenario's runs are chosen by a kinder rule
// than another's (settleAgain). Runs still flagged
// stay in the tables, and a section repeats the targets' figures over
// the normal-mode runs only, with their counts.
//
// The load generators run as "gvs-bench gen ..." inside the client
// namespace (a process of their own, so no namespace switching per
// connection). Pure parts (statistics, the markdown table, the PNG chart,
// parsers) have no build tag and unit tests; the lab parts are Linux-only.
//
// Where to start reading: run.go (Run), scenario.go, loads.go, gen.go.
package bench
