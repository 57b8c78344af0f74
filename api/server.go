package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/ipvsadm"
)

// State is the daemon's own state (GET /v1/state).
type State struct {
	Version    string             `json:"version"`
	Started    time.Time          `json:"started"`
	ConfigFile string             `json:"config_file,omitempty"`
	Interfaces []string           `json:"interfaces"`
	Workers    int                `json:"workers"`
	Conns      int64              `json:"conns"`
	ConnsMax   int64              `json:"conns_max"`
	Drops      map[string]uint64  `json:"drops"`
	Defense    ipvs.DefenseStatus `json:"defense"`
	Options    ipvs.Options       `json:"options"`
}

// Daemon is what the API needs from gvsd beyond the Backend.
type Daemon interface {
	State(ctx context.Context) (State, error)
	// SaveConfig writes the running services back to the configuration
	// file, atomically.
	SaveConfig(ctx context.Context) error
}

// HealthSource is implemented by a Daemon that runs health checks
// (GET /v1/health).
type HealthSource interface {
	Health(ctx context.Context) ([]health.ServiceHealth, error)
}

// HealthList is the body of GET /v1/health: every checked service, in
// configuration order, with its real servers' health.
type HealthList struct {
	Services []health.ServiceHealth `json:"services"`
}

// Route is one API endpoint.
type Route struct{ Method, Path string }

// Server serves the API over a Backend.
type Server struct {
	backend ipvsadm.Backend
	daemon  Daemon
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []Route
}

// NewServer builds the API over b; d may be nil (no daemon endpoints).
func NewServer(b ipvsadm.Backend, d Daemon, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{backend: b, daemon: d, log: log, mux: http.NewServeMux()}
	s.handle("GET /v1/info", s.info)
	s.handle("GET /v1/state", s.state)
	s.handle("GET /v1/services", s.listServices)
	s.handle("POST /v1/services", s.addService)
	s.handle("DELETE /v1/services", s.flush)
	s.handle("GET /v1/services/{id}", s.getService)
	s.handle("PUT /v1/services/{id}", s.editService)
	s.handle("DELETE /v1/services/{id}", s.delService)
	s.handle("POST /v1/services/{id}/dests", s.addDest)
	s.handle("PUT /v1/services/{id}/dests/{dest}", s.editDest)
	s.handle("DELETE /v1/services/{id}/dests/{dest}", s.delDest)
	s.handle("POST /v1/zero", s.zero)
	s.handle("GET /v1/timeouts", s.getTimeouts)
	s.handle("PUT /v1/timeouts", s.setTimeouts)
	s.handle("GET /v1/conns", s.conns)
	s.handle("GET /v1/daemons", s.daemons)
	s.handle("POST /v1/daemons", s.startDaemon)
	s.handle("DELETE /v1/daemons/{state}", s.stopDaemon)
	s.handle("POST /v1/restore", s.restore)
	s.handle("POST /v1/config/save", s.saveConfig)
	s.handle("GET /v1/health", s.health)
	return s
}

// Routes lists the endpoints (the OpenAPI test compares them with the document).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

func (s *Server) handle(pattern string, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.routes = append(s.routes, Route{method, path})
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := h(w, r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			st, body := errorBody(err)
			if st >= 500 {
				s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			w.WriteHeader(st)
			_ = json.NewEncoder(w).Encode(body)
			return
		}
		if v == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	})
}

const maxBody = 64 << 20 // a restore of thousands of services fits

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: " + err.Error())
	}
	return nil
}

func serviceKey(r *http.Request) (ipvs.ServiceKey, error) {
	k, err := ParseServiceID(r.PathValue("id"))
	if err != nil {
		return k, badRequest(err.Error())
	}
	return k, nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.backend.Info(r.Context())
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.daemon == nil {
		return nil, &Error{Code: "not_found", Message: "no daemon state here"}
	}
	return s.daemon.State(r.Context())
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.backend.Services(r.Context())
}

func (s *Server) addService(w http.ResponseWriter, r *http.Request) (any, error) {
	var cfg ipvs.ServiceConfig
	if err := decode(r, &cfg); err != nil {
		return nil, err
	}
	if err := s.backend.AddService(r.Context(), cfg); err != nil {
		return nil, err
	}
	w.WriteHeader(http.StatusCreated)
	return struct {
		ID string `json:"id"`
	}{ServiceID(cfg.ServiceKey)}, nil
}

func (s *Server) flush(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, s.backend.Flush(r.Context())
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := serviceKey(r)
	if err != nil {
		return nil, err
	}
	return s.backend.Service(r.Context(), k)
}

func (s *Server) editService(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := serviceKey(r)
	if err != nil {
		return nil, err
	}
	var cfg ipvs.ServiceConfig
	if err := decode(r, &cfg); err != nil {
		return nil, err
	}
	cfg.ServiceKey = k
	return nil, s.backend.EditService(r.Context(), cfg)
}

func (s *Server) delService(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := serviceKey(r)
	if err != nil {
		return nil, err
	}
	return nil, s.backend.DelService(r.Context(), k)
}

func (s *Server) addDest(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := serviceKey(r)
	if err != nil {
		return nil, err
	}
	var d ipvs.DestConfig
	if err := decode(r, &d); err != nil {
		return nil, err
	}
	if err := s.backend.AddDest(r.Context(), k, d); err != nil {
		return nil, err
	}
	w.WriteHeader(http.StatusCreated)
	return struct {
		ID string `json:"id"`
	}{DestID(d.Addr, d.Port)}, nil
}

func (s *Server) editDest(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := serviceKey(r)
	if err != nil {
		return nil, err
	}
	a, p, err := ParseDestID(r.PathValue("dest"))
	if err != nil {
		return nil, badRequest(err.Error())
	}
	var d ipvs.DestConfig
	if err := decode(r, &d); err != nil {
		return nil, err
	}
	d.Addr, d.Port = a, p
	return nil, s.backend.EditDest(r.Context(), k, d)
}

func (s *Server) delDest(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := serviceKey(r)
	if err != nil {
		return nil, err
	}
	a, p, err := ParseDestID(r.PathValue("dest"))
	if err != nil {
		return nil, badRequest(err.Error())
	}
	return nil, s.backend.DelDest(r.Context(), k, ipvsadm.DestKey{Addr: a, Port: p})
}

// ZeroRequest names the service to zero; empty zeroes everything.
type ZeroRequest struct {
	Service string `json:"service,omitempty"`
}

func (s *Server) zero(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ZeroRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return nil, err
		}
	}
	if req.Service == "" {
		return nil, s.backend.Zero(r.Context(), nil)
	}
	k, err := ParseServiceID(req.Service)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	return nil, s.backend.Zero(r.Context(), &k)
}

func (s *Server) getTimeouts(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.backend.Timeouts(r.Context())
}

func (s *Server) setTimeouts(w http.ResponseWriter, r *http.Request) (any, error) {
	var t ipvsadm.Timeouts
	if err := decode(r, &t); err != nil {
		return nil, err
	}
	return nil, s.backend.SetTimeouts(r.Context(), t)
}

// ConnPage is one page of the connection table.
type ConnPage struct {
	Conns []ipvsadm.Conn `json:"conns"`
	Total int            `json:"total"`          // entries matching the filter
	Next  int            `json:"next,omitempty"` // offset of the next page; 0 = last page
}

func (s *Server) conns(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, offset := 0, 0
	var err error
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			return nil, badRequest("limit must be a non-negative integer")
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return nil, badRequest("offset must be a non-negative integer")
		}
	}
	match, err := connFilter(q.Get("protocol"), q.Get("client"), q.Get("virtual"), q.Get("dest"), q.Get("template"))
	if err != nil {
		return nil, err
	}
	all, err := s.backend.Conns(r.Context())
	if err != nil {
		return nil, err
	}
	page := ConnPage{Conns: []ipvsadm.Conn{}}
	for _, c := range all {
		if !match(&c) {
			continue
		}
		if page.Total >= offset && (limit == 0 || len(page.Conns) < limit) {
			page.Conns = append(page.Conns, c)
		}
		page.Total++
	}
	if limit > 0 && offset+limit < page.Total {
		page.Next = offset + limit
	}
	return page, nil
}

// connFilter builds a predicate from the query: protocol (tcp, udp, sctp),
// client/virtual/dest (an address, or address:port), template (true/false).
func connFilter(proto, client, virt, dest, template string) (func(*ipvsadm.Conn) bool, error) {
	var p ipvs.Protocol
	if proto != "" {
		if err := p.UnmarshalText([]byte(proto)); err != nil {
			return nil, badRequest(err.Error())
		}
	}
	endpoint := func(name, v string) (func(netip.AddrPort) bool, error) {
		if v == "" {
			return func(netip.AddrPort) bool { return true }, nil
		}
		if ap, err := netip.ParseAddrPort(v); err == nil {
			return func(x netip.AddrPort) bool { return x.Addr().Unmap() == ap.Addr().Unmap() && x.Port() == ap.Port() }, nil
		}
		if a, err := netip.ParseAddr(v); err == nil {
			return func(x netip.AddrPort) bool { return x.Addr().Unmap() == a.Unmap() }, nil
		}
		return nil, badRequest(fmt.Sprintf("%s: %q is not an address or address:port", name, v))
	}
	mc, err := endpoint("client", client)
	if err != nil {
		return nil, err
	}
	mv, err := endpoint("virtual", virt)
	if err != nil {
		return nil, err
	}
	md, err := endpoint("dest", dest)
	if err != nil {
		return nil, err
	}
	var wantTemplate *bool
	if template != "" {
		b, err := strconv.ParseBool(template)
		if err != nil {
			return nil, badRequest("template must be true or false")
		}
		wantTemplate = &b
	}
	return func(c *ipvsadm.Conn) bool {
		return (proto == "" || c.Protocol == p) && mc(c.Client) && mv(c.Virtual) && md(c.Dest) &&
			(wantTemplate == nil || *wantTemplate == c.Template)
	}, nil
}

func (s *Server) daemons(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.backend.Daemons(r.Context())
}

func (s *Server) startDaemon(w http.ResponseWriter, r *http.Request) (any, error) {
	var d ipvsadm.DaemonConfig
	if err := decode(r, &d); err != nil {
		return nil, err
	}
	return nil, s.backend.StartDaemon(r.Context(), d)
}

func (s *Server) stopDaemon(w http.ResponseWriter, r *http.Request) (any, error) {
	var st ipvsadm.DaemonState
	switch r.PathValue("state") {
	case "master":
		st = ipvsadm.DaemonMaster
	case "backup":
		st = ipvsadm.DaemonBackup
	default:
		return nil, badRequest("daemon state must be master or backup")
	}
	return nil, s.backend.StopDaemon(r.Context(), st)
}

// RestoreRequest is a whole rule set, applied all or nothing.
type RestoreRequest struct {
	Ops []ipvsadm.RestoreOp `json:"ops"`
}

func (s *Server) restore(w http.ResponseWriter, r *http.Request) (any, error) {
	var req RestoreRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	snaps, err := s.backend.Restore(r.Context(), req.Ops)
	if err != nil {
		return nil, err
	}
	if snaps == nil {
		snaps = []ipvsadm.Snapshot{}
	}
	return snaps, nil
}

func (s *Server) saveConfig(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.daemon == nil {
		return nil, &Error{Code: "not_found", Message: "no configuration file here"}
	}
	return nil, s.daemon.SaveConfig(r.Context())
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) (any, error) {
	out := HealthList{Services: []health.ServiceHealth{}}
	hs, ok := s.daemon.(HealthSource)
	if !ok {
		return out, nil // nothing is checked here
	}
	list, err := hs.Health(r.Context())
	if err != nil {
		return nil, err
	}
	if list != nil {
		out.Services = list
	}
	return out, nil
}

// ListenUnix listens on a Unix socket with the given permissions (0600:
// root only), replacing a stale socket file.
func ListenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		// a live gvsd answers; a dead one left its socket behind
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("api: %s is in use by a running gvsd", path)
		}
		os.Remove(path)
	}
	old := umask(0o177)
	l, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// WithToken wraps a handler so it answers only requests bearing token.
func WithToken(h http.Handler, token string) (http.Handler, error) {
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("api: the TCP listener needs a bearer token; refusing to start without one")
	}
	want := []byte("Bearer " + strings.TrimSpace(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(&Error{Code: "unauthorized", Message: "missing or wrong bearer token"})
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}
