package health

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/ipvs"
)

// Target is what the Manager acts on: the engine, with the data path
// synced after each call (the daemon implements it). Calls come one at a
// time, from the Manager's own goroutines, and must not call back into the
// Manager.
type Target interface {
	AddDest(ipvs.ServiceKey, ipvs.DestConfig) error
	EditDest(ipvs.ServiceKey, ipvs.DestConfig) error
	DelDest(ipvs.ServiceKey, netip.Addr, uint16) error
	// ExpireDestConns ends the destination's connections at once
	// (failed_conns: expire); the destination stays.
	ExpireDestConns(ipvs.ServiceKey, netip.Addr, uint16) error
}

// DestLister is optionally implemented by a Target. When it is, a service
// the Manager starts checking is adopted: destinations already in the
// engine are edited rather than added, and ones the configuration does not
// list (left over from before) are deleted.
type DestLister interface {
	Dests(ipvs.ServiceKey) ([]ipvs.DestConfig, error)
}

// PathRouter makes via_vip checks possible: it prepares the director's
// kernel so that packets of sockets carrying the returned mark (SO_MARK)
// and addressed to the VIP reach the real server the way the data path
// forwards client packets (see doc.go for the DR and TUN recipes). The
// Manager calls ViaVIP once when a via_vip check starts and Release when
// it stops.
type PathRouter interface {
	ViaVIP(svc ipvs.ServiceKey, dest ipvs.DestConfig) (mark uint32, err error)
	Release(svc ipvs.ServiceKey, dest ipvs.DestConfig)
}

// ErrNoPathRouter is the Error of via_vip checks when no PathRouter is wired.
var ErrNoPathRouter = errors.New("via_vip needs a path router (health.Options.Router), none is wired")

// Options tune a Manager; the zero value is usable.
type Options struct {
	Logger *slog.Logger // default slog.Default()
	// Workers bounds concurrent check attempts, hence sockets and checker
	// goroutines in flight (default 256).
	Workers int
	// Jitter spreads each check interval by ±Jitter of itself (default
	// 0.1; negative: none). The first check of a destination comes at a
	// random point within its first interval.
	Jitter float64
	// NotifyTimeout bounds each notification command (default 10s); it
	// is killed (its process group) after it.
	NotifyTimeout time.Duration
	// MaxNotify bounds notification commands running at once (default 16).
	MaxNotify int
	// Router enables via_vip checks.
	Router PathRouter
	// NewChecker builds checkers (default NewChecker); tests and
	// extensions may add types.
	NewChecker func(*config.Check) (Checker, error)

	clock    clock // tests: a manual clock
	noJitter bool  // tests: first check at once, exact intervals
}

// Manager runs the health checks of the configured services and applies
// their results to a Target. For services with checks it owns the
// destination set; services without checks are left alone.
type Manager struct {
	target Target
	opts   Options
	log    *slog.Logger
	clk    clock
	newChk func(*config.Check) (Checker, error)
	pool   *pool
	notif  *notifier

	stopClock func()
	ctx       context.Context
	cancel    context.CancelFunc

	mu       sync.Mutex
	services map[ipvs.ServiceKey]*service
	order    []ipvs.ServiceKey
	stopped  bool
}

// New starts a Manager with no services; call Update with the configuration.
func New(target Target, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 256
	}
	if opts.Jitter == 0 {
		opts.Jitter = 0.1
	}
	if opts.NotifyTimeout <= 0 {
		opts.NotifyTimeout = 10 * time.Second
	}
	if opts.MaxNotify <= 0 {
		opts.MaxNotify = 16
	}
	if opts.NewChecker == nil {
		opts.NewChecker = NewChecker
	}
	m := &Manager{
		target: target, opts: opts, log: opts.Logger, clk: opts.clock, newChk: opts.NewChecker,
		services: map[ipvs.ServiceKey]*service{},
	}
	if m.clk == nil {
		hc := newHeapClock()
		m.clk, m.stopClock = hc, hc.stop
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.notif = newNotifier(opts.MaxNotify, opts.NotifyTimeout, m.log)
	m.pool = newPool(opts.Workers, m.process)
	return m
}

// Update applies a (re)loaded configuration: services and real servers
// whose check is unchanged keep their state, counters and timers; removed
// ones stop (omega: notify_down for each server of a removed service);
// new ones start (alpha applies). An invalid check rejects the whole
// update and changes nothing.
func (m *Manager) Update(services []config.Service) error {
	plans, err := plan(services, m.newChk)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return errors.New("health manager stopped")
	}
	want := map[ipvs.ServiceKey]bool{}
	for _, p := range plans {
		want[p.key] = true
	}
	for _, k := range m.order {
		if !want[k] {
			m.removeService(m.services[k], "removed from the configuration")
			delete(m.services, k)
		}
	}
	m.order = m.order[:0]
	for i := range plans {
		p := &plans[i]
		if s := m.services[p.key]; s != nil {
			m.updateService(s, p)
		} else {
			m.services[p.key] = m.addService(p)
		}
		m.order = append(m.order, p.key)
	}
	return nil
}

// Stop ends every check and waits for running notification commands (each
// bounded by NotifyTimeout). Omega services notify their servers down. The
// engine is left as it is.
func (m *Manager) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	for _, k := range m.order {
		m.removeService(m.services[k], "health checking stopped")
	}
	m.services, m.order = map[ipvs.ServiceKey]*service{}, nil
	m.mu.Unlock()
	m.cancel()
	if m.stopClock != nil {
		m.stopClock()
	}
	m.pool.close()
	m.notif.wait()
}

// Pool returns the worker pool's figures.
func (m *Manager) Pool() PoolStats { return m.pool.stats() }

// ---- scheduling and results ----

// schedule arms d's next attempt after delay.
func (m *Manager) schedule(d *dest, delay time.Duration) {
	if d.stopTimer != nil {
		d.stopTimer()
	}
	gen := d.gen
	d.stopTimer = m.clk.AfterFunc(delay, func() { m.pool.push(job{d: d, gen: gen}) })
}

// firstDelay is when a new check first runs: at a random point of its
// interval, so thousands of checks do not start in one burst.
func (m *Manager) firstDelay(d *dest) time.Duration {
	if m.opts.noJitter {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d.set.interval)))
}

func (m *Manager) nextDelay(d *dest) time.Duration {
	if m.opts.noJitter || m.opts.Jitter < 0 {
		return d.set.interval
	}
	return jitter(d.set.interval, m.opts.Jitter)
}

// process runs one attempt (a pool worker).
func (m *Manager) process(j job) {
	m.mu.Lock()
	d := j.d
	if m.stopped || d.gen != j.gen || d.svc.removed {
		m.mu.Unlock()
		return
	}
	checker, ep, timeout, pathErr := d.checker, d.ep, d.set.timeout, d.pathErr
	m.mu.Unlock()

	start := m.clk.Now()
	var r Result
	if pathErr != nil {
		r = internal(pathErr)
	} else {
		r = m.pool.runChecker(m.ctx, checker, ep, timeout)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped || d.gen != j.gen || d.svc.removed {
		return
	}
	end := m.clk.Now()
	d.lastCheck, d.lastDur = end, end.Sub(start)
	if r.Health == Down && d.attempt < d.set.retries {
		d.attempt++
		d.lastErr = errText(r.Err) + " (will retry)"
		m.schedule(d, d.set.retryDelay)
		return
	}
	d.attempt = 0
	m.applyResult(d, r, end)
	m.schedule(d, m.nextDelay(d))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// applyResult feeds a concluded check into d's state machine and applies
// what follows. Called with m.mu held.
func (m *Manager) applyResult(d *dest, r Result, now time.Time) {
	s := d.svc
	prevLabel := d.health
	switch r.Health {
	case Error:
		d.lastErr = errText(r.Err)
	case Up:
		d.lastErr = ""
		d.okRun++
		d.failRun = 0
		if r.HasWeight && r.Weight != d.weight {
			m.log.Info("health: weight changed", "service", s.label(), "server", d.ap.String(),
				"from", d.weight, "to", r.Weight, "check", d.check.Type)
			d.weight = r.Weight
		}
		d.dynSet = d.dynSet || r.HasWeight
		if !d.up && (d.okRun >= d.set.rise || (s.health.Alpha && !d.everConcluded)) {
			m.transition(d, true, now, nil)
		}
	case Down:
		d.lastErr = errText(r.Err)
		d.failRun++
		d.okRun = 0
		if d.up && d.failRun >= d.set.fall {
			m.transition(d, false, now, r.Err)
		}
	}
	d.everConcluded = true
	switch {
	case r.Health == Error:
		d.health = Error
	case d.up:
		d.health = Up
	default:
		d.health = Down
	}
	if d.health != prevLabel && !d.justMoved && (prevLabel == Error || d.health != Up) {
		// a change of what the listing shows without a change of state:
		// into or out of error, or a first verdict that finds an alpha
		// server down (a first success of a server already up is quiet)
		m.log.Info("health: check "+string(d.health), "service", s.label(), "server", d.ap.String(),
			"check", d.check.Type, "was", string(prevLabel), "error", d.lastErr)
	}
	d.justMoved = false
	m.evalQuorum(s, false)
	m.reconcile(s)
}

// transition moves d up or down: logs one line, counts it, notifies, and
// starts slow start for a returning server.
func (m *Manager) transition(d *dest, isUp bool, now time.Time, reason error) {
	s := d.svc
	d.up = isUp
	d.transitions++
	d.since = now
	d.justMoved = true
	state := "down"
	if isUp {
		state = "up"
		d.health = Up
	} else {
		d.health = Down
		d.justFailed = true
		d.stopRamp()
	}
	attrs := []any{"service", s.label(), "server", d.ap.String(), "check", d.checkType(), "weight", d.weight}
	if reason != nil {
		attrs = append(attrs, "reason", reason.Error())
	}
	m.log.Info("health: server "+state, attrs...)
	if isUp && s.health.SlowStart > 0 {
		m.startRamp(d, now)
	}
	m.notifyServer(d, isUp)
}

// ---- slow start ----

// rampStep is the interval between weight steps of a slow start: one
// second, or a tenth of the slow start when that is under ten seconds.
func rampStep(total time.Duration) time.Duration {
	if total >= 10*time.Second {
		return time.Second
	}
	return max(total/10, time.Millisecond)
}

func (m *Manager) startRamp(d *dest, now time.Time) {
	d.stopRamp()
	d.rampStart, d.ramping = now, true
	m.armRamp(d)
}

func (m *Manager) armRamp(d *dest) {
	total := time.Duration(d.svc.health.SlowStart)
	step := rampStep(total)
	gen := d.rampGen
	d.stopRampTimer = m.clk.AfterFunc(step, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.stopped || d.svc.removed || d.rampGen != gen || !d.ramping {
			return
		}
		if m.clk.Now().Sub(d.rampStart) >= total {
			d.ramping = false
		} else {
			m.armRamp(d)
		}
		m.reconcile(d.svc)
	})
}

// effWeight is the weight d should have in the engine now: its target
// weight, or during slow start a step of the ramp from 1 up to it.
func (m *Manager) effWeight(d *dest) int32 {
	if !d.ramping || d.weight <= 0 {
		return d.weight
	}
	total := time.Duration(d.svc.health.SlowStart)
	elapsed := m.clk.Now().Sub(d.rampStart)
	if elapsed >= total || total <= 0 {
		return d.weight
	}
	step := rampStep(total)
	n := int64(total / step)
	k := int64(elapsed / step)
	w := (int64(d.weight)*k + n - 1) / n // ceil(weight * k / n)
	return int32(max(1, min(w, int64(d.weight))))
}

// ---- quorum ----

// healthyWeight is the sum of the weights of the servers that are up.
func (s *service) healthyWeight() int64 {
	var sum int64
	for _, k := range s.order {
		if d := s.dests[k]; d.up {
			sum += int64(max(d.weight, 0))
		}
	}
	return sum
}

// quorum returns the quorum (default 1) and the hysteresis, corrected as
// keepalived does (hysteresis below the quorum).
func (s *service) quorum() (q, h int64) {
	q, h = int64(s.health.Quorum), int64(s.health.Hysteresis)
	if q <= 0 {
		q = 1
	}
	if h >= q {
		h = q - 1
	}
	return q, h
}

// evalQuorum updates the quorum state with keepalived's hysteresis: lost
// when the healthy weight is 0 or below quorum - hysteresis, gained at
// quorum + hysteresis or more.
func (m *Manager) evalQuorum(s *service, init bool) {
	sum := s.healthyWeight()
	q, h := s.quorum()
	if init {
		s.quorumUp = sum >= q+h
		if !s.quorumUp {
			m.log.Info("health: starting with quorum down", "service", s.label(),
				"healthy_weight", sum, "quorum", q, "hysteresis", h, "sorry_server", s.sorryLabel())
			m.notifyQuorum(s, false, sum)
		}
		return
	}
	switch {
	case !s.quorumUp && sum >= q+h:
		s.quorumUp = true
		s.quorumTransitions++
		m.log.Info("health: quorum up", "service", s.label(), "healthy_weight", sum, "quorum", q, "hysteresis", h)
		m.notifyQuorum(s, true, sum)
	case s.quorumUp && (sum == 0 || sum < q-h):
		s.quorumUp = false
		s.quorumTransitions++
		m.log.Info("health: quorum down", "service", s.label(), "healthy_weight", sum, "quorum", q, "hysteresis", h,
			"sorry_server", s.sorryLabel())
		m.notifyQuorum(s, false, sum)
	}
}

// ---- applying to the target ----

func (s *service) inhibit() bool { return eqFold(s.health.OnFailure, "inhibit") }

func (s *service) expire() bool { return eqFold(s.health.FailedConns, "expire") }

func (s *service) sorryActive() bool { return s.sorry != nil && !s.quorumUp }

// reconcile makes the target hold what the service's state says: healthy
// servers at their (ramped) weight, failed ones removed or at weight 0,
// and the sorry server instead of the real servers while the quorum is
// lost. Only differences are applied; a failed call is retried at the next
// result. Called with m.mu held.
func (m *Manager) reconcile(s *service) {
	if s.removed {
		return
	}
	sorry := s.sorryActive()
	if sorry {
		m.applySorry(s, true) // in before the real servers go: no gap
	}
	for _, k := range s.order {
		m.applyDest(s, s.dests[k], sorry)
	}
	if !sorry {
		m.applySorry(s, false)
	}
}

func (m *Manager) applyDest(s *service, d *dest, sorry bool) {
	present, w := true, int32(0)
	switch {
	case sorry || !d.up:
		present = s.inhibit()
	default:
		w = m.effWeight(d)
	}
	expire := d.justFailed && s.expire()
	cfg := d.cfg
	cfg.Weight = w
	var err error
	switch {
	case present && !d.applied:
		err = m.target.AddDest(s.key, cfg)
		if ipvs.CodeOf(err) == ipvs.ErrExist {
			err = m.target.EditDest(s.key, cfg)
		}
		if err == nil {
			d.applied, d.appliedWeight, d.appliedCfg = true, w, cfg
		}
	case present && (d.appliedWeight != w || d.appliedCfg != cfg):
		if err = m.target.EditDest(s.key, cfg); err == nil {
			d.appliedWeight, d.appliedCfg = w, cfg
		}
	case !present && d.applied:
		if expire {
			if d.appliedWeight != 0 {
				quiet := d.appliedCfg
				quiet.Weight = 0
				if err = m.target.EditDest(s.key, quiet); err == nil {
					d.appliedWeight = 0
				}
			}
			if err == nil {
				err = m.expireConns(s, d)
			}
			expire = false
		}
		if err == nil {
			err = m.target.DelDest(s.key, d.ap.Addr(), d.ap.Port())
			if ipvs.CodeOf(err) == ipvs.ErrNotFound {
				err = nil
			}
			if err == nil {
				d.applied = false
			}
		}
	}
	if err == nil && expire && d.applied {
		err = m.expireConns(s, d)
	}
	if err != nil {
		if msg := err.Error(); msg != d.targetErr {
			d.targetErr = msg
			m.log.Warn("health: cannot apply to the engine", "service", s.label(), "server", d.ap.String(), "error", msg)
		}
		return
	}
	d.targetErr = ""
	d.justFailed = false
}

func (m *Manager) expireConns(s *service, d *dest) error {
	err := m.target.ExpireDestConns(s.key, d.ap.Addr(), d.ap.Port())
	if ipvs.CodeOf(err) == ipvs.ErrNotFound {
		return nil
	}
	return err
}

func (m *Manager) applySorry(s *service, want bool) {
	if s.sorry == nil || want == s.sorryApplied {
		return
	}
	var err error
	if want {
		err = m.target.AddDest(s.key, *s.sorry)
		if ipvs.CodeOf(err) == ipvs.ErrExist {
			err = m.target.EditDest(s.key, *s.sorry)
		}
	} else {
		err = m.target.DelDest(s.key, s.sorry.Addr, s.sorry.Port)
		if ipvs.CodeOf(err) == ipvs.ErrNotFound {
			err = nil
		}
	}
	if err != nil {
		if msg := err.Error(); msg != s.sorryErr {
			s.sorryErr = msg
			m.log.Warn("health: cannot apply the sorry server", "service", s.label(), "server", s.sorryLabel(), "error", msg)
		}
		return
	}
	s.sorryErr = ""
	s.sorryApplied = want
	verb := "health: sorry server in"
	if !want {
		verb = "health: sorry server out"
	}
	m.log.Info(verb, "service", s.label(), "server", s.sorryLabel())
}

// ---- services ----

func (m *Manager) addService(p *svcPlan) *service {
	s := &service{key: p.key, name: p.name, health: p.health, sorry: p.sorry, dests: map[netip.AddrPort]*dest{}}
	for i := range p.dests {
		d := m.newDest(s, &p.dests[i])
		s.dests[d.ap] = d
		s.order = append(s.order, d.ap)
	}
	m.adopt(s)
	m.evalQuorum(s, true)
	m.reconcile(s)
	for _, k := range s.order {
		if d := s.dests[k]; d.checker != nil {
			m.schedule(d, m.firstDelay(d))
		}
	}
	m.log.Info("health: checking service", "service", s.label(), "servers", len(s.order), "alpha", s.health.Alpha)
	return s
}

// adopt learns which destinations the target already has (DestLister).
func (m *Manager) adopt(s *service) {
	dl, ok := m.target.(DestLister)
	if !ok {
		return
	}
	cur, err := dl.Dests(s.key)
	if err != nil {
		return
	}
	for _, c := range cur {
		ap := netip.AddrPortFrom(c.Addr.Unmap(), c.Port)
		if d := s.dests[ap]; d != nil {
			d.applied, d.appliedWeight, d.appliedCfg = true, c.Weight, c
			continue
		}
		if s.sorry != nil && ap == netip.AddrPortFrom(s.sorry.Addr, s.sorry.Port) {
			s.sorryApplied = true
			continue
		}
		if err := m.target.DelDest(s.key, ap.Addr(), ap.Port()); err == nil {
			m.log.Info("health: removed a destination the configuration does not list", "service", s.label(), "server", ap.String())
		}
	}
}

// newDest builds a destination's state; alpha servers start down until
// their first success, others up.
func (m *Manager) newDest(s *service, p *destPlan) *dest {
	d := &dest{svc: s, ap: p.ap, cfg: p.cfg, rs: p.rs, weight: p.cfg.Weight, health: Unknown}
	m.setCheck(d, p)
	d.up = d.checker == nil || !s.health.Alpha
	if d.checker == nil {
		d.health = Up
	}
	return d
}

// setCheck (re)builds d's checker and endpoint from its plan.
func (m *Manager) setCheck(d *dest, p *destPlan) {
	s := d.svc
	d.check, d.set, d.checker, d.pathErr = p.check, p.set, nil, nil
	if p.check == nil {
		return
	}
	c, err := m.newChk(p.check)
	if err != nil { // validated by plan: only a racing factory gets here
		c = CheckerFunc(func(context.Context, Endpoint) Result { return internal(err) })
	}
	d.checker = c
	ep := Endpoint{Addr: p.cfg.Addr, Port: p.cfg.Port, Interface: p.check.Interface, Service: s.key,
		ServerAddr: p.cfg.Addr, ServerPort: p.cfg.Port, Weight: p.cfg.Weight}
	if a := netip.Addr(p.check.Address); a.IsValid() {
		ep.Addr = a.Unmap()
	}
	if a := netip.Addr(p.check.Source); a.IsValid() {
		ep.Source = a.Unmap()
	}
	if p.check.ViaVIP {
		ep.Addr, ep.Port = s.key.Addr, s.key.Port
		switch {
		case m.opts.Router == nil:
			d.pathErr = ErrNoPathRouter
		default:
			mark, err := m.opts.Router.ViaVIP(s.key, p.cfg)
			if err != nil {
				d.pathErr = err
			} else {
				ep.Mark = mark
				d.routed = true
			}
		}
	}
	if p.check.Port != 0 {
		ep.Port = p.check.Port
	}
	d.ep = ep
}

// stopCheck ends d's checking: pending attempts become stale.
func (m *Manager) stopCheck(d *dest) {
	d.gen++
	if d.stopTimer != nil {
		d.stopTimer()
		d.stopTimer = nil
	}
	d.stopRamp()
	if d.routed && m.opts.Router != nil {
		m.opts.Router.Release(d.svc.key, d.cfg)
	}
	d.routed = false
}

func (m *Manager) updateService(s *service, p *svcPlan) {
	s.name = p.name
	oldSorry := s.sorry
	s.health = p.health
	if !sameSorry(oldSorry, p.sorry) {
		if s.sorryApplied {
			m.applySorry(s, false)
		}
		if !s.sorryApplied {
			s.sorry = p.sorry
		}
	}
	if s.health.SlowStart <= 0 {
		for _, d := range s.dests {
			d.stopRamp()
		}
	}
	want := map[netip.AddrPort]*destPlan{}
	for i := range p.dests {
		want[p.dests[i].ap] = &p.dests[i]
	}
	for _, k := range s.order {
		d := s.dests[k]
		if want[k] != nil {
			continue
		}
		m.stopCheck(d)
		if d.up {
			m.notifyServer(d, false)
		}
		if d.applied {
			if err := m.target.DelDest(s.key, k.Addr(), k.Port()); err != nil && ipvs.CodeOf(err) != ipvs.ErrNotFound {
				m.log.Warn("health: cannot remove a real server", "service", s.label(), "server", k.String(), "error", err.Error())
			}
		}
		m.log.Info("health: real server removed from the configuration", "service", s.label(), "server", k.String())
		delete(s.dests, k)
	}
	s.order = s.order[:0]
	for i := range p.dests {
		dp := &p.dests[i]
		d := s.dests[dp.ap]
		s.order = append(s.order, dp.ap)
		if d == nil {
			d = m.newDest(s, dp)
			s.dests[dp.ap] = d
			if d.checker != nil {
				m.schedule(d, m.firstDelay(d))
			}
			continue
		}
		oldWeight := d.cfg.Weight
		same := sameCheck(d.check, dp.check, d.cfg.Forwarding, dp.cfg.Forwarding)
		d.cfg, d.rs = dp.cfg, dp.rs
		if !same {
			m.stopCheck(d)
			m.setCheck(d, dp)
			d.okRun, d.failRun, d.attempt, d.dynSet = 0, 0, 0, false
			d.weight = dp.cfg.Weight
			if d.checker == nil {
				d.health = Up
				if !d.up {
					m.transition(d, true, m.clk.Now(), nil)
				}
			} else {
				if d.health == Error {
					d.health = Unknown
				}
				m.schedule(d, m.firstDelay(d))
			}
			continue
		}
		d.set = dp.set
		d.ep.Weight = dp.cfg.Weight
		if !d.dynSet || oldWeight != dp.cfg.Weight {
			d.weight = dp.cfg.Weight
			d.dynSet = false
		}
	}
	m.evalQuorum(s, false)
	m.reconcile(s)
}

func sameSorry(a, b *ipvs.DestConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// removeService stops a service's checks; omega notifies every server that
// was up down, and the quorum down. The target is not touched: the daemon
// deletes the service (or takes its destinations back).
func (m *Manager) removeService(s *service, why string) {
	s.removed = true
	for _, k := range s.order {
		m.stopCheck(s.dests[k])
	}
	if s.health.Omega {
		for _, k := range s.order {
			if d := s.dests[k]; d.up {
				m.notifyServer(d, false)
			}
		}
		if s.quorumUp {
			m.notifyQuorum(s, false, 0)
		}
	}
	m.log.Info("health: service no longer checked", "service", s.label(), "why", why)
}

// ---- state ----

type service struct {
	key    ipvs.ServiceKey
	name   string
	health config.Health
	sorry  *ipvs.DestConfig
	dests  map[netip.AddrPort]*dest
	order  []netip.AddrPort

	quorumUp          bool
	quorumTransitions uint64
	sorryApplied      bool
	sorryErr          string
	removed           bool
}

func (s *service) label() string {
	if s.name != "" {
		return s.key.String() + " (" + s.name + ")"
	}
	return s.key.String()
}

func (s *service) sorryLabel() string {
	if s.sorry == nil {
		return ""
	}
	return netip.AddrPortFrom(s.sorry.Addr, s.sorry.Port).String()
}

type dest struct {
	svc     *service
	ap      netip.AddrPort
	cfg     ipvs.DestConfig
	rs      config.RealServer
	check   *config.Check
	set     checkSettings
	checker Checker // nil: no check, always up
	ep      Endpoint
	pathErr error
	routed  bool

	gen       uint64
	stopTimer func() bool
	attempt   int

	up            bool
	health        Health
	everConcluded bool
	justMoved     bool
	okRun         int
	failRun       int
	lastCheck     time.Time
	lastDur       time.Duration
	lastErr       string
	transitions   uint64
	since         time.Time
	weight        int32 // target weight: configured, or set by the check
	dynSet        bool

	ramping       bool
	rampStart     time.Time
	rampGen       uint64
	stopRampTimer func() bool

	applied       bool
	appliedWeight int32
	appliedCfg    ipvs.DestConfig
	justFailed    bool
	targetErr     string
}

func (d *dest) stopRamp() {
	d.rampGen++
	d.ramping = false
	if d.stopRampTimer != nil {
		d.stopRampTimer()
		d.stopRampTimer = nil
	}
}

func (d *dest) checkType() string {
	if d.check == nil {
		return "none"
	}
	return d.check.Type
}

func eqFold(a, b string) bool { return strings.EqualFold(a, b) }
