// Package ldirectord reads ldirectord.cf and converts it into a GVS
// configuration (package config).
//
// Parse follows ldirectord's reader: global "key=value" lines, and
// "virtual=" / "virtual6=" sections whose lines are indented by a tab or
// four spaces (a blank line ends a section; '#' starts a comment). Convert
// applies ldirectord's semantics and defaults: scheduler wrr, protocol tcp
// (udp on port 53), checktype negotiate with the service taken from the
// port, checktimeout and negotiatetimeout as mutual defaults (5s and 30s),
// checkinterval 10s (a virtual's own only with fork=yes), failurecount as
// the number of failures to go down, quiescent=yes as on_failure inhibit,
// fallback as the sorry server (used when no real server is up), real
// server ranges, request/receive per virtual or per real server, external
// checks with ldirectord's four arguments, checktype=on as no check and
// checktype=off as weight 0. Negotiate checks map to GVS checkers for
// http, https, smtp, submission and dns; the others (ftp, imap, pop, ldap,
// nntp, sip, radius, mysql, pgsql, oracle, simpletcp, http_proxy) are
// unsupported and, when allowed, become connect checks.
//
// Values ldirectord refuses (it stops at a configuration error) are *Error
// values with the file and line. Directives that are not carried over
// exactly are Unsupported entries, blocking (unsupported, unknown) or not
// (no-effect, warning); Options.IgnoreUnsupported allows keywords to be
// dropped ("all" for every one). Host names are resolved with
// Options.Resolve, as ldirectord resolves them when it reads the file.
//
// It imports package config and the engine's types (ipvs) only.
//
// Where to start reading: convert.go (Convert, globals), then virtual.go
// and checks.go; parse.go is the reader.
package ldirectord
