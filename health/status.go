package health

import (
	"net/netip"
	"time"

	"github.com/govs/gvs/ipvs"
)

// ServiceHealth is one checked service as the API and gvsadm list it.
type ServiceHealth struct {
	Service       ipvs.ServiceKey `json:"service"`
	Name          string          `json:"name,omitempty"`
	Quorum        int64           `json:"quorum"`
	Hysteresis    int64           `json:"hysteresis"`
	QuorumUp      bool            `json:"quorum_up"`
	HealthyWeight int64           `json:"healthy_weight"` // sum of the weights of servers up
	// QuorumTransitions counts quorum changes since the service was added.
	QuorumTransitions uint64        `json:"quorum_transitions"`
	SorryServer       string        `json:"sorry_server,omitempty"` // addr:port
	SorryActive       bool          `json:"sorry_active"`           // the sorry server is in the engine
	Dests             []DestHealth  `json:"dests"`
	OnFailure         string        `json:"on_failure"`   // remove or inhibit
	FailedConns       string        `json:"failed_conns"` // keep or expire
	SlowStart         time.Duration `json:"slow_start_ns,omitempty"`
}

// DestHealth is one real server's health.
type DestHealth struct {
	Addr  netip.Addr `json:"addr"`
	Port  uint16     `json:"port"`
	Check string     `json:"check"`  // check type, "none" when the server has no check
	State Health     `json:"health"` // up, down, error, unknown
	// Up is the damped state that decides the pool (true while "unknown"
	// without alpha; an "error" keeps the previous state).
	Up               bool          `json:"up"`
	InPool           bool          `json:"in_pool"`           // present in the engine
	ConfiguredWeight int32         `json:"configured_weight"` // from the configuration
	TargetWeight     int32         `json:"target_weight"`     // configured, or as the check set it (exec dynamic, agent)
	Weight           int32         `json:"weight"`            // weight in the engine now (0 when absent or inhibited)
	SlowStart        bool          `json:"slow_start,omitempty"`
	LastCheck        time.Time     `json:"last_check,omitzero"`
	LastDuration     time.Duration `json:"last_duration_ns,omitempty"`
	LastError        string        `json:"last_error,omitempty"`
	Transitions      uint64        `json:"transitions"` // up/down changes since the check started
	Since            time.Time     `json:"since,omitzero"`
	Successes        int           `json:"consecutive_successes"`
	Failures         int           `json:"consecutive_failures"`
}

// Status returns every checked service's health, in configuration order.
func (m *Manager) Status() []ServiceHealth {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ServiceHealth, 0, len(m.order))
	for _, k := range m.order {
		s := m.services[k]
		q, h := s.quorum()
		sh := ServiceHealth{
			Service: s.key, Name: s.name, Quorum: q, Hysteresis: h, QuorumUp: s.quorumUp,
			HealthyWeight: s.healthyWeight(), QuorumTransitions: s.quorumTransitions,
			SorryServer: s.sorryLabel(), SorryActive: s.sorryApplied,
			OnFailure: "remove", FailedConns: "keep", SlowStart: time.Duration(s.health.SlowStart),
			Dests: make([]DestHealth, 0, len(s.order)),
		}
		if s.inhibit() {
			sh.OnFailure = "inhibit"
		}
		if s.expire() {
			sh.FailedConns = "expire"
		}
		for _, ak := range s.order {
			d := s.dests[ak]
			dh := DestHealth{
				Addr: d.ap.Addr(), Port: d.ap.Port(), Check: d.checkType(), State: d.health, Up: d.up,
				InPool: d.applied, ConfiguredWeight: d.cfg.Weight, TargetWeight: d.weight,
				SlowStart: d.ramping, LastCheck: d.lastCheck, LastDuration: d.lastDur, LastError: d.lastErr,
				Transitions: d.transitions, Since: d.since, Successes: d.okRun, Failures: d.failRun,
			}
			if d.applied {
				dh.Weight = d.appliedWeight
			}
			sh.Dests = append(sh.Dests, dh)
		}
		out = append(out, sh)
	}
	return out
}
