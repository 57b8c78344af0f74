// Package keepalived reads keepalived.conf and converts its load-balancing
// part (virtual_server, virtual_server_group, real_server and their health
// checkers) into a GVS configuration (package config), so that
// "gvsd --keepalived-conf FILE" runs an existing keepalived configuration.
//
// # Reading
//
// ParseFile and Parse build a Tree of Nodes (keyword, arguments, block,
// file and line) with keepalived's lexical rules: '#' and '!' comments
// outside double quotes ("\#" escapes them), double-quoted words, '{' and
// '}' anywhere on a line, include/includer/includem/includew/includeb/
// includea with globs and {a,b} alternatives relative to the including
// file (an include may hold part of a block; line numbers stay those of
// each file), "@id"/"@^id" conditional lines against ParseOptions.ConfigID,
// $NAME=value definitions (also multiline) with $NAME and ${NAME}
// substitution and the predefined _PWD, _INSTANCE, _RANDOM, _ENV, _HASH
// and _BANG, and ~SEQ/~SEQx/~LST loops. Syntax errors are *Error values
// carrying the file and line.
//
// # Converting
//
// Convert maps the tree onto config.Config with keepalived's semantics and
// defaults (delay_loop 60s, connect_timeout 5s, retry 1 (DNS 3, MISC 0),
// delay_before_retry 1s (HTTP 3s, DNS delay_loop), scheduler wlc, NAT,
// quorum clamped to the total weight, hysteresis below the quorum,
// persistence forced for port 0...). A virtual_server group becomes one
// service per member (addresses, a.b.c.d-e and full ranges, CIDR blocks,
// IPv6 ranges in hex, fwmarks) sharing the group's settings. Real server
// checks that are identical everywhere are written once, on the service.
//
// Every keyword that is not carried over exactly is returned as an
// Unsupported entry (file, line, keyword, reason) of a Kind:
//
//   - unsupported: GVS cannot do it (a second checker on a real server,
//     a second url, warmup, ha_suspend, smtp_alert, BFD_CHECK, ...);
//     blocking;
//   - unknown: not a keepalived keyword where it stands; blocking;
//   - failover: global_defs, vrrp_*, static_*, track_* and the like,
//     handled by the failover work; not blocking unless
//     Options.FailoverBlocking;
//   - no-effect: SNMP names, log_all_failures, hashed...; not blocking;
//   - warning: keepalived reports a configuration error and runs on with a
//     default (no protocol: UDP; sh-port without sh...); the conversion
//     does the same; not blocking.
//
// Options.IgnoreUnsupported lists the keywords the operator allows to be
// dropped ("all" for every one); Blocking returns what remains. gvsd
// refuses to start while Blocking is not empty.
//
// It imports package config and the engine's types (ipvs) only. Validation
// needs the schedulers registered (import ipvs/sched, as gvsd does).
//
// Where to start reading: convert.go (Convert, the kinds), then vs.go
// (virtual and real servers), checks.go (checkers), group.go, and lex.go
// for the reader.
package keepalived
