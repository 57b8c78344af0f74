// Package health runs GVS's health checks and applies their results to the
// engine: what keepalived's checkers, ldirectord and mon do around Linux
// IPVS.
//
// It imports the configuration model (package config: config.Check,
// config.Health, config.Service) and the engine's types (package ipvs:
// ServiceKey, DestConfig, error codes) and nothing else of GVS: never the
// data path. It changes the engine only through a Target the daemon
// implements (on the engine, syncing the data path after each call).
//
// Where to start reading: manager.go (Manager, Target, the state machine,
// quorum, sorry server, applying to the target), then health.go (Checker,
// Result, Endpoint, NewChecker) and one checker file per type (tcp.go,
// http.go, smtp.go, dns.go, udp.go, icmp.go, rpc.go, exec.go, agent.go).
// pool.go and sched.go run the checks; notify.go runs notification
// commands; status.go is the listing.
//
// # Checks and their results
//
// A check attempt ends Up, Down or Error. Error means the checker itself
// failed (a panic, a checker that ignores its deadline, a command that
// cannot start, a socket option or source address the director cannot
// use, ICMP not permitted, via_vip without a path router): it is listed as
// "error" and counts neither as a success nor as a failure, so the server
// stays as it was. Each attempt has the check's timeout (default 3s); a
// Down attempt is retried `retries` times, `retry_delay` apart (default 1s,
// at most the interval), before the check counts as failed. Checks run
// every `interval` (default 5s) ± 10% jitter; a destination's first check
// comes at a random point of its first interval, so thousands of them do
// not start in one burst.
//
// Damping: a server goes down after `fall` consecutive failed checks and
// comes back after `rise` consecutive successes (defaults 1). Without
// health.alpha servers start up (in the pool) before their first check;
// with alpha they start down and their first success brings them up at
// once (rise applies after that), as keepalived's alpha mode does.
//
// The checkers' exact semantics are documented on their types:
// TCPChecker, HTTPChecker (keepalived's HTTP_GET request and genhash's
// digest: MD5 of the raw bytes after "\r\n\r\n" up to Content-Length or
// EOF, not de-chunked), SMTPChecker, DNSChecker (own wire encoder and
// decoder), UDPChecker, ICMPChecker, RPCChecker (NULL call as rpcinfo -u/-t,
// portmapper when the port is 0), ExecChecker (keepalived's MISC_CHECK and
// misc_dynamic), AgentChecker and ParseAgentReply (HAProxy agent-check and
// feedbackd-style load replies). Every socket a check opens can be bound
// to a source address (IP_FREEBIND, so a VIP not yet up works) or to an
// interface (SO_BINDTODEVICE).
//
// # What results do
//
// For services with checks (the service's check, or any real server's),
// the Manager owns the destination set; services without checks are left
// alone. A healthy server is in the engine at its weight: the configured
// one, or the one its check sets (exec with dynamic, agent). A failed one
// is deleted (health.on_failure: remove, the default) or kept at weight 0
// (inhibit). With health.failed_conns: expire, the failed server is first
// set to weight 0 and its connections are expired (Target.ExpireDestConns)
// before it is deleted; keep (default) lets them end on their own. With
// health.slow_start a returning server starts at weight 1 and climbs
// linearly to its weight over that period, a step every second (every
// tenth of the period when it is under ten seconds).
//
// Quorum, as keepalived: the healthy weight is the sum of the weights of
// the servers that are up; the quorum (default 1) is lost when that is 0
// or below quorum - hysteresis, and regained at quorum + hysteresis or
// more (hysteresis is lowered below the quorum, as keepalived does).
// While it is lost and a sorry server is set, the sorry server is the
// service's only destination (healthy real servers are taken out too, as
// keepalived does); it goes as soon as the quorum is back (with the default
// quorum: as soon as one server is healthy). It comes in before the last
// real server goes and leaves after the first one is back, so the service
// never has an empty moment.
//
// Every transition is one log/slog line ("health: server up|down", "health:
// quorum up|down", "health: sorry server in|out", "health: check error"
// and the like, "health: weight changed"); nothing is logged per check.
// Transitions also run the notification commands (see notifier), and
// health.omega runs notify_down for each server still up (and quorum_down)
// when a service stops being checked.
//
// Reloads (Manager.Update): a destination whose check did not change keeps
// its state, counters and timer; a changed check restarts at once with the
// state kept; removed destinations stop (deleted from the engine, notified
// down if they were up); new ones start (alpha applies). A removed service
// is not touched in the engine: the daemon deletes it.
//
// # Scale
//
// Checks run on a fixed pool of workers (Options.Workers, default 256),
// which bounds checks in flight, their sockets and their goroutines; one
// goroutine and one runtime timer schedule all of them (sched.go). Every
// attempt runs under its own deadline; a checker that still has not
// returned a second after it is abandoned (reported as an error) and the
// worker moves on, so a hanging server delays nothing but its own check.
// A destination never has two attempts in flight.
//
// # via_vip
//
// A via_vip check connects to the VIP and port, as clients do, but must
// reach one particular real server. The Manager cannot do that alone: it
// asks a PathRouter (Options.Router) for a socket mark once per
// destination and marks the check's socket with it (SO_MARK). gvsd's
// router (netctl.PathRouter, wired in cmd/gvsd) does this:
//
//   - DR: for each (real server, VIP) a mark M and a table T:
//     `ip rule add fwmark M lookup T` and `ip route add VIP/32 via RS dev
//     IF onlink table T`. The director's kernel then sends the SYN to the
//     VIP in a frame for the real server's MAC, exactly as the data path
//     forwards client packets; the real server (VIP on lo, arp_ignore)
//     answers straight back from the VIP to the director's address.
//   - TUN: the same rule and route under the data path's encapsulation
//     mark for the real server; its TC egress program encapsulates the
//     check's packets as it does client packets (dataplane.TunnelMark).
//
// This needs the VIP not to be a local address of the director's kernel
// (the local table is looked up before any rule; GVS-owned VIPs are not
// local), the replies (source VIP, destination the director) to reach the
// kernel rather than the data path's steering, and rp_filter to accept
// them (loose mode on the interface). Without a router via_vip checks are
// errors (ErrNoPathRouter), never failures.
package health
