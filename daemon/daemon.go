package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/govs/gvs/api"
	"github.com/govs/gvs/config"
	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
	_ "github.com/govs/gvs/ipvs/sched" // the kernel's schedulers
	"github.com/govs/gvs/ipvsadm"
	"github.com/govs/gvs/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is gvsd's version.
const Version = "0.1.0"

// Dataplane is the packet path as the daemon drives it (package
// dataplane on Linux; tests run without one).
type Dataplane interface {
	Start(ctx context.Context) error
	Sync() error
	SetVIPs([]netip.Addr)
	Interfaces() []string
	Workers() int
	WorkerPackets() (received, sent []uint64)
	Drops() map[string]uint64
	// ReceiveDelay is the histogram of the time frames wait in the
	// workers' rings: bucket bounds, counts (one more: above every bound)
	// and their sum.
	ReceiveDelay() (bounds []time.Duration, counts []uint64, sum time.Duration)
	// FastPath is the kernel fast path's flows now and its events by
	// kind; ok false when it is off.
	FastPath() (entries uint64, events map[string]uint64, ok bool)
	Close() error
}

// Options configure a daemon.
type Options struct {
	ConfigFile string // YAML configuration; empty starts with no services
	// KeepalivedConf and LdirectordConf are a keepalived.conf and an
	// ldirectord.cf whose virtual services (with their checks) are run as
	// they are, added to the YAML file's. Keywords GVS does not support
	// stop the daemon unless Ignore lists them ("all": every one).
	KeepalivedConf string
	LdirectordConf string
	Ignore         []string
	Socket         string // API socket (default ipvsadm.DefaultSocket or the file's api.socket)
	Logger         *slog.Logger
	// Health tunes the health-check Manager; Health.Router enables via_vip
	// checks (cmd/gvsd wires netctl's path router on Linux as root).
	Health health.Options
	// NewDataplane builds the packet path; nil runs the control plane only.
	NewDataplane func(eng *ipvs.Engine, cfg *config.Config, log *slog.Logger) (Dataplane, error)
}

// Daemon is a running gvsd.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	eng     *ipvs.Engine
	dp      Dataplane
	backend syncedBackend
	started time.Time
	health  *health.Manager

	mu  sync.Mutex // serializes changes: API requests, reloads, syncs
	cfg *config.Config
}

// New loads the configuration (if any), builds the engine with it and
// prepares the data path.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Daemon{opts: opts, log: opts.Logger, started: time.Now()}
	cfg, err := d.loadConfig() // validated, health checks included
	if err != nil {
		return nil, err
	}
	econf := ipvs.Config{MaxConns: cfg.Options.MaxConns}
	eng, err := ipvs.New(econf)
	if err != nil {
		return nil, err
	}
	d.eng, d.cfg = eng, cfg
	d.backend = syncedBackend{LocalBackend: ipvsadm.NewLocalBackend(eng), d: d}
	if _, err := Reconcile(eng, cfg, d.log); err != nil {
		return nil, err
	}
	if opts.NewDataplane != nil {
		if d.dp, err = opts.NewDataplane(eng, cfg, d.log); err != nil {
			return nil, err
		}
	}
	hopts := opts.Health
	if hopts.Logger == nil {
		hopts.Logger = d.log
	}
	d.health = health.New(healthTarget{d}, hopts)
	return d, nil
}

// startHealth gives the Manager the configuration's checked services (Run
// calls it once the data path runs; Reload after each reconciliation).
func (d *Daemon) startHealth(cfg *config.Config) error {
	if err := d.health.Update(cfg.Services); err != nil {
		d.log.Error("health checks not updated", "err", err)
		return err
	}
	return nil
}

// Engine returns the engine (for metrics and tests).
func (d *Daemon) Engine() *ipvs.Engine { return d.eng }

// Backend returns the API's backend.
func (d *Daemon) Backend() ipvsadm.Backend { return d.backend }

func (d *Daemon) syncDataplane() {
	if d.dp == nil {
		return
	}
	if err := d.dp.Sync(); err != nil {
		d.log.Error("dataplane sync failed", "err", err)
	}
}

// Reload re-reads the configuration file and applies the difference.
// An invalid file changes nothing.
//
// The order: the files are read and validated (the services, then their
// health checks), the engine's services are reconciled (the destinations
// of checked services are left to the health Manager), then the Manager
// gets the new services. A service that stops being checked gets its
// configured destinations back once the Manager has let it go.
func (d *Daemon) Reload() error {
	if !d.opts.hasSources() {
		return errors.New("no configuration file to reload")
	}
	cfg, err := d.loadConfig()
	if err != nil {
		d.log.Error("configuration rejected; running state unchanged", "err", err)
		return err
	}
	d.mu.Lock()
	wasChecked := checkedServices(d.cfg)
	changes, err := Reconcile(d.eng, cfg, d.log)
	if err != nil {
		d.mu.Unlock()
		d.log.Error("reload failed part-way", "err", err, "applied", len(changes))
		return err
	}
	d.cfg = cfg
	if d.dp != nil {
		d.dp.SetVIPs(addrs(cfg.VIPs))
	}
	d.syncDataplane()
	d.mu.Unlock()
	// not under d.mu: the Manager calls the target, which takes it
	if err := d.startHealth(cfg); err != nil {
		return err
	}
	isChecked := checkedServices(cfg)
	for k := range wasChecked {
		if !isChecked[k] {
			// no longer the Manager's: back to what the file lists
			d.mu.Lock()
			more, err := Reconcile(d.eng, cfg, d.log)
			d.syncDataplane()
			d.mu.Unlock()
			changes = append(changes, more...)
			if err != nil {
				d.log.Error("reload failed part-way", "err", err, "applied", len(changes))
				return err
			}
			break
		}
	}
	d.log.Info("configuration reloaded", "files", d.opts.sourceNames(), "changes", len(changes))
	return nil
}

func addrs(in []config.Addr) []netip.Addr {
	out := make([]netip.Addr, len(in))
	for i, a := range in {
		out[i] = netip.Addr(a)
	}
	return out
}

// State implements api.Daemon.
func (d *Daemon) State(context.Context) (api.State, error) {
	st := api.State{
		Version: Version, Started: d.started, ConfigFile: d.opts.ConfigFile,
		Conns: d.eng.ConnCount(), ConnsMax: d.eng.MaxConns(), Drops: map[string]uint64{},
		Defense: d.eng.Defense(), Options: d.eng.Options(), Interfaces: []string{},
	}
	drops := d.eng.DropCounts()
	for r := ipvs.DropReason(1); r < ipvs.NumDropReasons; r++ {
		st.Drops[r.String()] = drops[r]
	}
	if d.dp != nil {
		st.Interfaces = d.dp.Interfaces()
		st.Workers = d.dp.Workers()
		for k, v := range d.dp.Drops() {
			st.Drops[k] = v
		}
	}
	return st, nil
}

// SaveConfig implements api.Daemon: the running services replace the
// file's, written to a temporary file and renamed over the original.
func (d *Daemon) SaveConfig(context.Context) error {
	if d.opts.ConfigFile == "" {
		return &api.Error{Code: "not_found", Message: "gvsd runs without a configuration file (start it with --config)"}
	}
	if d.opts.KeepalivedConf != "" || d.opts.LdirectordConf != "" {
		return &api.Error{Code: "invalid", Message: "gvsd runs services from a keepalived.conf or ldirectord.cf: writing them into the YAML file would define them twice (convert the file with gvs-convert instead)"}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := *d.cfg
	cfg.Services = config.ServicesFromEngine(d.eng.Services())
	// checked services are written as configured: the engine holds only
	// their healthy destinations, at their current weights, and no checks
	configured := map[ipvs.ServiceKey]*config.Service{}
	for i := range d.cfg.Services {
		if health.Checked(&d.cfg.Services[i]) {
			configured[normalized(d.cfg.Services[i].Key())] = &d.cfg.Services[i]
		}
	}
	for i := range cfg.Services {
		if c := configured[normalized(cfg.Services[i].Key())]; c != nil {
			cfg.Services[i] = *c
		}
	}
	t := d.eng.Timeouts()
	cfg.Timeouts.TCP, cfg.Timeouts.TCPFin, cfg.Timeouts.UDP = t.TCP[ipvs.TCPEstablished], t.TCP[ipvs.TCPFinWait], t.UDP[ipvs.UDPNormal]
	data, err := config.Marshal(&cfg)
	if err != nil {
		return err
	}
	if _, err := config.Parse(data, d.opts.ConfigFile); err != nil {
		return fmt.Errorf("refusing to write a configuration that would not load: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(d.opts.ConfigFile), ".gvsd-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append([]byte("# written by gvsd from its running state\n"), data...)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if fi, err := os.Stat(d.opts.ConfigFile); err == nil {
		os.Chmod(tmp.Name(), fi.Mode().Perm())
	}
	if err := os.Rename(tmp.Name(), d.opts.ConfigFile); err != nil {
		return err
	}
	d.cfg = &cfg
	d.log.Info("configuration written", "file", d.opts.ConfigFile, "services", len(cfg.Services))
	return nil
}

// metricsSource adapts the daemon for the metrics collector.
type metricsSource struct{ d *Daemon }

func (m metricsSource) Engine() *ipvs.Engine { return m.d.eng }
func (m metricsSource) WorkerPackets() ([]uint64, []uint64) {
	if m.d.dp == nil {
		return nil, nil
	}
	return m.d.dp.WorkerPackets()
}
func (m metricsSource) DataplaneDrops() map[string]uint64 {
	if m.d.dp == nil {
		return nil
	}
	return m.d.dp.Drops()
}
func (m metricsSource) ReceiveDelay() (bounds []float64, counts []uint64, sum float64) {
	if m.d.dp == nil {
		return nil, nil, 0
	}
	b, counts, s := m.d.dp.ReceiveDelay()
	for _, d := range b {
		bounds = append(bounds, d.Seconds())
	}
	return bounds, counts, s.Seconds()
}

func (m metricsSource) FastPath() (entries uint64, events map[string]uint64, ok bool) {
	if m.d.dp == nil {
		return 0, nil, false
	}
	return m.d.dp.FastPath()
}

// Run serves until ctx ends (SIGTERM), reloading on every value from
// reload (SIGHUP). It stops cleanly: listeners close, the data path
// removes its kernel rules.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.eng.Run(ctx)
	if d.dp != nil {
		d.dp.SetVIPs(addrs(d.cfg.VIPs))
		if err := d.dp.Start(ctx); err != nil {
			d.health.Stop()
			d.dp.Close()
			return err
		}
		defer d.dp.Close()
		d.log.Info("data path running", "interfaces", d.dp.Interfaces(), "workers", d.dp.Workers())
	}
	// stopped before the data path closes: its last changes sync it
	defer d.health.Stop()
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if err := d.startHealth(cfg); err != nil {
		return err
	}
	srv := api.NewServer(d.backend, d, d.log)
	socket := d.opts.Socket
	if socket == "" {
		socket = d.cfg.API.Socket
	}
	if socket == "" {
		socket = ipvsadm.DefaultSocket
	}
	ln, err := api.ListenUnix(socket, 0o600)
	if err != nil {
		return fmt.Errorf("api socket: %w", err)
	}
	servers := []*http.Server{{Handler: srv.Handler()}}
	listeners := []net.Listener{ln}
	defer os.Remove(socket)
	if d.cfg.API.TCP != "" {
		tok, err := os.ReadFile(d.cfg.API.TokenFile)
		if err != nil {
			return fmt.Errorf("api token: %w", err)
		}
		h, err := api.WithToken(srv.Handler(), string(tok))
		if err != nil {
			return err
		}
		tl, err := net.Listen("tcp", d.cfg.API.TCP)
		if err != nil {
			return err
		}
		servers = append(servers, &http.Server{Handler: h})
		listeners = append(listeners, tl)
	}
	if d.cfg.Metrics.Listen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics.NewCollector(metricsSource{d}))
		ml, err := net.Listen("tcp", d.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		servers = append(servers, &http.Server{Handler: mux})
		listeners = append(listeners, ml)
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func(s *http.Server, l net.Listener) {
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(s, listeners[i])
		d.log.Info("listening", "addr", listeners[i].Addr().String())
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		for _, s := range servers {
			s.Shutdown(sctx)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping")
			return nil
		case err := <-errc:
			return err
		case <-reload:
			_ = d.Reload()
		}
	}
}
