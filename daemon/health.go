package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/govs/gvs/config"
	"github.com/govs/gvs/config/keepalived"
	"github.com/govs/gvs/config/ldirectord"
	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
)

// healthTarget is the health Manager's Target: the engine, serialized with
// every other change the daemon makes (API requests, reloads) and synced to
// the data path after each call that changes what the data path steers.
// Errors are the engine's own (*ipvs.Error, unwrapped), so the Manager's
// ipvs.CodeOf tests (ErrExist, ErrNotFound) see them.
type healthTarget struct{ d *Daemon }

var (
	_ health.Target     = healthTarget{}
	_ health.DestLister = healthTarget{}
)

// AddDest adds a destination and syncs the data path.
func (t healthTarget) AddDest(k ipvs.ServiceKey, dc ipvs.DestConfig) error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	if err := t.d.eng.AddDest(k, dc); err != nil {
		return err
	}
	t.d.syncDataplane()
	return nil
}

// EditDest edits a destination. A change of weight or thresholds alone
// (slow start, agent and dynamic exec weights, inhibit) does not change
// what the data path steers, so it is not followed by a sync; any other
// change is.
func (t healthTarget) EditDest(k ipvs.ServiceKey, dc ipvs.DestConfig) error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	old, found := t.destConfig(k, dc.Addr, dc.Port)
	if err := t.d.eng.EditDest(k, dc); err != nil {
		return err
	}
	if !found || !sameSteering(old, dc) {
		t.d.syncDataplane()
	}
	return nil
}

// DelDest deletes a destination and syncs the data path.
func (t healthTarget) DelDest(k ipvs.ServiceKey, a netip.Addr, port uint16) error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	if err := t.d.eng.DelDest(k, a, port); err != nil {
		return err
	}
	t.d.syncDataplane()
	return nil
}

// ExpireDestConns ends a destination's connections, then syncs the data
// path: its kernel fast path may hold some of them.
func (t healthTarget) ExpireDestConns(k ipvs.ServiceKey, a netip.Addr, port uint16) error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	if err := t.d.eng.ExpireDestConns(k, a, port); err != nil {
		return err
	}
	t.d.syncDataplane()
	return nil
}

// Dests lists the service's destinations (health.DestLister), so that a
// service the Manager starts checking is adopted as it stands.
func (t healthTarget) Dests(k ipvs.ServiceKey) ([]ipvs.DestConfig, error) {
	st, err := t.d.eng.ServiceStatus(k)
	if err != nil {
		return nil, err
	}
	out := make([]ipvs.DestConfig, len(st.Dests))
	for i := range st.Dests {
		out[i] = st.Dests[i].DestConfig
	}
	return out, nil
}

// destConfig returns a destination's configuration as the engine has it.
func (t healthTarget) destConfig(k ipvs.ServiceKey, a netip.Addr, port uint16) (ipvs.DestConfig, bool) {
	dests, err := t.Dests(k)
	if err != nil {
		return ipvs.DestConfig{}, false
	}
	a = a.Unmap()
	for _, dc := range dests {
		if dc.Addr.Unmap() == a && dc.Port == port {
			return dc, true
		}
	}
	return ipvs.DestConfig{}, false
}

// sameSteering reports whether two configurations of a destination differ
// only in what the scheduler reads (weight, thresholds).
func sameSteering(a, b ipvs.DestConfig) bool {
	a.Weight, b.Weight = 0, 0
	a.UThreshold, b.UThreshold = 0, 0
	a.LThreshold, b.LThreshold = 0, 0
	return a == b
}

// checkedServices returns the keys of the services whose destinations the
// health Manager owns.
func checkedServices(cfg *config.Config) map[ipvs.ServiceKey]bool {
	out := map[ipvs.ServiceKey]bool{}
	if cfg == nil {
		return out
	}
	for i := range cfg.Services {
		if health.Checked(&cfg.Services[i]) {
			out[normalized(cfg.Services[i].Key())] = true
		}
	}
	return out
}

// Health returns every checked service's health (GET /v1/health, gvsadm
// -L --health).
func (d *Daemon) Health(context.Context) ([]health.ServiceHealth, error) {
	if d.health == nil {
		return []health.ServiceHealth{}, nil
	}
	return d.health.Status(), nil
}

// ---- loading: YAML, keepalived.conf, ldirectord.cf ----

// BlockingError lists the keywords of a keepalived.conf or ldirectord.cf
// that stop gvsd from starting until they are removed or ignored.
type BlockingError struct {
	File  string
	Lines []string // "file:line: keyword: reason (kind, blocking)"
}

func (e *BlockingError) Error() string {
	return fmt.Sprintf("%s: %d unsupported keyword(s); remove them or allow them with --ignore KEYWORD[,...] (or --ignore all):\n  %s",
		e.File, len(e.Lines), strings.Join(e.Lines, "\n  "))
}

// hasSources reports whether the daemon reads any configuration file.
func (o *Options) hasSources() bool {
	return o.ConfigFile != "" || o.KeepalivedConf != "" || o.LdirectordConf != ""
}

func (o *Options) sourceNames() string {
	var s []string
	for _, f := range []string{o.ConfigFile, o.KeepalivedConf, o.LdirectordConf} {
		if f != "" {
			s = append(s, f)
		}
	}
	return strings.Join(s, ", ")
}

// loadConfig reads the configuration: the YAML file, then the services of
// the keepalived.conf and ldirectord.cf (appended to the YAML's), validated
// whole, then the health checks validated as the Manager will run them.
// Keywords of the converted files that are not carried over exactly are
// logged with their file and line; blocking ones make it fail.
func (d *Daemon) loadConfig() (*config.Config, error) {
	o := &d.opts
	cfg := &config.Config{}
	if o.ConfigFile != "" {
		var err error
		if cfg, err = config.Load(o.ConfigFile); err != nil {
			return nil, err
		}
	}
	merged := false
	if o.KeepalivedConf != "" {
		kc, uns, err := keepalived.Load(o.KeepalivedConf, &keepalived.ParseOptions{ConfigID: keepalived.DefaultConfigID()},
			keepalived.Options{IgnoreUnsupported: o.Ignore})
		report := make([]unsupported, len(uns))
		for i, u := range uns {
			report[i] = unsupported{u.String(), u.Kind == keepalived.KindFailover, u.Blocking}
		}
		if err := d.mergeConverted(cfg, "keepalived", o.KeepalivedConf, kc, report, err); err != nil {
			return nil, err
		}
		merged = true
	}
	if o.LdirectordConf != "" {
		lc, uns, err := ldirectord.Load(o.LdirectordConf, ldirectord.Options{IgnoreUnsupported: o.Ignore})
		report := make([]unsupported, len(uns))
		for i, u := range uns {
			report[i] = unsupported{u.String(), false, u.Blocking}
		}
		if err := d.mergeConverted(cfg, "ldirectord", o.LdirectordConf, lc, report, err); err != nil {
			return nil, err
		}
		merged = true
	}
	if merged {
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", o.sourceNames(), err)
		}
	}
	if err := health.Validate(cfg.Services); err != nil {
		return nil, locate(err, o)
	}
	return cfg, nil
}

// locate names the file of a health validation error when there is one
// file it can come from.
func locate(err error, o *Options) error {
	var le *config.LineError
	if errors.As(err, &le) && le.File == "" {
		c := *le
		switch {
		case o.KeepalivedConf == "" && o.LdirectordConf == "":
			c.File = o.ConfigFile
		case o.ConfigFile == "" && o.LdirectordConf == "":
			c.File = o.KeepalivedConf
		case o.ConfigFile == "" && o.KeepalivedConf == "":
			c.File = o.LdirectordConf
		}
		return &c
	}
	return err
}

// unsupported is a keyword a converter did not carry over exactly.
type unsupported struct {
	line               string // file:line and what
	failover, blocking bool
}

// mergeConverted logs what the conversion of file (a what-format file) did
// not carry over and adds its services to cfg; it fails on the
// conversion's error or on blocking keywords, listing them all.
func (d *Daemon) mergeConverted(cfg *config.Config, what, file string, conv *config.Config, report []unsupported, err error) error {
	var lines []string
	for _, u := range report {
		d.logUnsupported(u.line, u.failover, u.blocking)
		if u.blocking {
			lines = append(lines, u.line)
		}
	}
	if err != nil {
		return fmt.Errorf("%s configuration: %w", what, err)
	}
	if len(lines) > 0 {
		return &BlockingError{File: file, Lines: lines}
	}
	mergeConfig(cfg, conv)
	return nil
}

func (d *Daemon) logUnsupported(line string, failover, blocking bool) {
	switch {
	case blocking:
		d.log.Error("configuration keyword not supported", "entry", line)
	case failover:
		d.log.Warn("configuration section left to the failover work (not run by gvsd's health checking)", "entry", line)
	default:
		d.log.Warn("configuration keyword not carried over exactly", "entry", line)
	}
}

// mergeConfig adds a converted file's services to cfg, and its timeouts
// where cfg sets none.
func mergeConfig(cfg, from *config.Config) {
	cfg.Services = append(cfg.Services, from.Services...)
	if cfg.Timeouts.TCP == 0 {
		cfg.Timeouts.TCP = from.Timeouts.TCP
	}
	if cfg.Timeouts.TCPFin == 0 {
		cfg.Timeouts.TCPFin = from.Timeouts.TCPFin
	}
	if cfg.Timeouts.UDP == 0 {
		cfg.Timeouts.UDP = from.Timeouts.UDP
	}
}
