// Package ipvs is GVS's load-balancing engine: the nouns of Linux IPVS
// (Service, Dest, connection entries, persistence templates, statistics,
// timeouts) and the two entry points a data path calls per packet,
// Worker.In (client to service) and Worker.Out (NAT reply).
//
// It is pure Go: no syscalls, no OS-specific imports, and nothing from the
// rest of GVS. Schedulers live in package ipvs/sched and register
// themselves here; the data path, the API and the health checkers sit above
// and call in.
//
// Semantics follow the kernel (net/netfilter/ipvs), checked against a real
// kernel in ../shared/ipvs-oracle; docs/semantics.md lists every behaviour
// and where GVS differs on purpose. Where to start reading: engine.go
// (configuration), worker.go and schedule.go (the packet path), table.go and
// wheel.go (the connection table and its expiry).
//
// Concurrency: configuration methods serialize on one mutex and publish
// copy-on-write snapshots; a packet takes exactly one shard lock of the
// connection table and updates only its worker's counters.
package ipvs
