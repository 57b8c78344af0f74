package config

import (
	"time"
)

// Health checking, per service (the default for its real servers) and per
// real server (overrides). Package health runs these; keepalived.conf and
// ldirectord.cf converters produce them.

// Check says how to decide whether a real server is up.
type Check struct {
	// Type: tcp, http, https, smtp, dns, udp, icmp, rpc, exec, agent.
	Type       string   `yaml:"type"`
	Interval   Duration `yaml:"interval,omitempty"`    // between checks (default 5s)
	Timeout    Duration `yaml:"timeout,omitempty"`     // connect/answer timeout (default 3s)
	Retries    int      `yaml:"retries,omitempty"`     // extra attempts before a check counts as failed
	RetryDelay Duration `yaml:"retry_delay,omitempty"` // between attempts
	Rise       int      `yaml:"rise,omitempty"`        // successes to come up (default 1)
	Fall       int      `yaml:"fall,omitempty"`        // failures to go down (default 1)
	Port       uint16   `yaml:"port,omitempty"`        // port to check (default: the real server's)
	Address    Addr     `yaml:"address,omitempty"`     // address to check (default: the real server's)
	Source     Addr     `yaml:"source,omitempty"`      // source address to check from
	Interface  string   `yaml:"interface,omitempty"`   // interface to check from
	// ViaVIP checks DR/TUN real servers through the VIP path the way
	// clients reach them (destination = VIP, delivered to the real server's MAC/tunnel).
	ViaVIP bool `yaml:"via_vip,omitempty"`

	HTTP  *HTTPCheck  `yaml:"http,omitempty"`
	SMTP  *SMTPCheck  `yaml:"smtp,omitempty"`
	DNS   *DNSCheck   `yaml:"dns,omitempty"`
	UDP   *UDPCheck   `yaml:"udp,omitempty"`
	RPC   *RPCCheck   `yaml:"rpc,omitempty"`
	Exec  *ExecCheck  `yaml:"exec,omitempty"`
	Agent *AgentCheck `yaml:"agent,omitempty"`

	Line int `yaml:"-"`
}

// HTTPCheck is an HTTP or HTTPS GET.
type HTTPCheck struct {
	Path   string `yaml:"path,omitempty"`   // default "/"
	Host   string `yaml:"host,omitempty"`   // Host header
	SNI    string `yaml:"sni,omitempty"`    // TLS server name (https)
	Status []int  `yaml:"status,omitempty"` // accepted status codes (default 200..299)
	// Digest is the MD5 of the body as keepalived's genhash prints it.
	Digest string `yaml:"digest,omitempty"`
	// Regex must match the body.
	Regex    string `yaml:"regex,omitempty"`
	Insecure bool   `yaml:"insecure,omitempty"` // https: do not verify the certificate
}

// SMTPCheck reads the banner and says HELO.
type SMTPCheck struct {
	HELO string `yaml:"helo,omitempty"`
}

// DNSCheck asks a question and optionally expects an answer.
type DNSCheck struct {
	Name   string `yaml:"name"`
	Type   string `yaml:"type,omitempty"`   // A (default), AAAA, TXT, MX, SOA, NS, CNAME
	Expect string `yaml:"expect,omitempty"` // an answer must contain this text
	TCP    bool   `yaml:"tcp,omitempty"`
}

// UDPCheck sends a payload and expects a reply (or treats ICMP port
// unreachable as down when no reply is required).
type UDPCheck struct {
	Send    string `yaml:"send,omitempty"`
	Expect  string `yaml:"expect,omitempty"`   // reply must contain this
	NoReply bool   `yaml:"no_reply,omitempty"` // up unless ICMP unreachable arrives
}

// RPCCheck makes a Sun RPC NULL call (the LVS-HOWTO's advice for NFS).
type RPCCheck struct {
	Program  uint32 `yaml:"program"`
	Version  uint32 `yaml:"version"`
	Protocol string `yaml:"protocol,omitempty"` // udp (default) or tcp
}

// ExecCheck runs a command: exit 0 up, 1 down; with Dynamic (keepalived's
// misc_dynamic) 2..255 also sets the weight to the code minus 2.
type ExecCheck struct {
	Command []string `yaml:"command"`
	Dynamic bool     `yaml:"dynamic,omitempty"`
	User    string   `yaml:"user,omitempty"`
}

// AgentCheck asks the real server's agent for its own load and turns it
// into a weight (as feedbackd and HAProxy's agent-check do).
type AgentCheck struct {
	Port uint16 `yaml:"port"`
	Send string `yaml:"send,omitempty"` // request line, default none (read on connect)
}

// Health is the per-service behaviour around checks.
type Health struct {
	// OnFailure: remove (default) takes the server out of the service;
	// inhibit sets its weight to 0 (keepalived's inhibit_on_failure).
	OnFailure string `yaml:"on_failure,omitempty"`
	// FailedConns: keep (default) lets existing connections end on their
	// own; expire ends them at once.
	FailedConns string `yaml:"failed_conns,omitempty"`
	// SlowStart ramps a returning server's weight up over this period.
	SlowStart Duration `yaml:"slow_start,omitempty"`
	// Quorum: the total weight of healthy servers needed for the service
	// to be up; Hysteresis applies around it (keepalived's semantics).
	Quorum     int         `yaml:"quorum,omitempty"`
	Hysteresis int         `yaml:"hysteresis,omitempty"`
	Sorry      *RealServer `yaml:"sorry_server,omitempty"`
	// Alpha: servers start down until their first success. Omega: run
	// notify_down for every server when the service is removed.
	Alpha bool `yaml:"alpha,omitempty"`
	Omega bool `yaml:"omega,omitempty"`
	// Notification commands, run on every transition: each is an argv,
	// executed directly (no shell; write [/bin/sh, -c, "..."] for one), as
	// keepalived 2.x runs an executable notify_up/notify_down script after
	// splitting its quoted string into words (the keepalived.conf reader
	// does that split). The event is in the environment (GVS_EVENT,
	// GVS_STATE, GVS_SERVICE, GVS_SERVICE_NAME, GVS_SERVER, GVS_SERVER_ADDR,
	// GVS_SERVER_PORT, GVS_WEIGHT; GVS_HEALTHY_WEIGHT and GVS_QUORUM for
	// quorum events) and {event}, {state}, {service}, {name}, {server},
	// {addr}, {port}, {weight} in the arguments are replaced; see package
	// health (notify.go). A real server's own notify_up/notify_down replace
	// the service's.
	NotifyUp   []string `yaml:"notify_up,omitempty"`
	NotifyDown []string `yaml:"notify_down,omitempty"`
	QuorumUp   []string `yaml:"quorum_up,omitempty"`
	QuorumDown []string `yaml:"quorum_down,omitempty"`
}

// Duration is a time.Duration in YAML ("5s", "200ms", or seconds as a number).
type Duration time.Duration
