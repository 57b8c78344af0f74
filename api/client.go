package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/govs/gvs/health"
	"github.com/govs/gvs/ipvs"
	"github.com/govs/gvs/ipvsadm"
)

// Client talks to gvsd's API. It implements ipvsadm.Backend.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

var _ ipvsadm.Backend = (*Client)(nil)

func init() {
	ipvsadm.NewRemoteBackend = func(socket string) (ipvsadm.Backend, error) { return DialUnix(socket), nil }
}

// DialUnix returns a client for gvsd's Unix socket.
func DialUnix(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", path)
			if err != nil {
				return nil, fmt.Errorf("cannot reach gvsd at %s (is it running?): %w", path, err)
			}
			return c, nil
		},
	}
	return &Client{base: "http://gvsd", hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// DialTCP returns a client for gvsd's TCP listener ("http://host:port").
func DialTCP(baseURL, token string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: &http.Client{Timeout: 2 * time.Minute}}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e Error
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Code == "" {
			return fmt.Errorf("gvsd: %s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return e.engineError()
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func svcPath(k ipvs.ServiceKey) string { return "/v1/services/" + url.PathEscape(ServiceID(k)) }

// Info implements ipvsadm.Backend.
func (c *Client) Info(ctx context.Context) (info ipvsadm.Info, err error) {
	err = c.do(ctx, "GET", "/v1/info", nil, &info)
	return
}

// State returns the daemon's state.
func (c *Client) State(ctx context.Context) (st State, err error) {
	err = c.do(ctx, "GET", "/v1/state", nil, &st)
	return
}

// Health returns every checked service's health (GET /v1/health); it
// implements ipvsadm.HealthBackend for gvsadm -L --health.
func (c *Client) Health(ctx context.Context) ([]health.ServiceHealth, error) {
	var l HealthList
	if err := c.do(ctx, "GET", "/v1/health", nil, &l); err != nil {
		return nil, err
	}
	return l.Services, nil
}

// SaveConfig asks gvsd to write its services back to its configuration file.
func (c *Client) SaveConfig(ctx context.Context) error {
	return c.do(ctx, "POST", "/v1/config/save", nil, nil)
}

func (c *Client) AddService(ctx context.Context, svc ipvs.ServiceConfig) error {
	return c.do(ctx, "POST", "/v1/services", svc, nil)
}

func (c *Client) EditService(ctx context.Context, svc ipvs.ServiceConfig) error {
	return c.do(ctx, "PUT", svcPath(svc.ServiceKey), svc, nil)
}

func (c *Client) DelService(ctx context.Context, key ipvs.ServiceKey) error {
	return c.do(ctx, "DELETE", svcPath(key), nil, nil)
}

func (c *Client) Flush(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/v1/services", nil, nil)
}

func (c *Client) AddDest(ctx context.Context, key ipvs.ServiceKey, d ipvs.DestConfig) error {
	return c.do(ctx, "POST", svcPath(key)+"/dests", d, nil)
}

func (c *Client) EditDest(ctx context.Context, key ipvs.ServiceKey, d ipvs.DestConfig) error {
	return c.do(ctx, "PUT", svcPath(key)+"/dests/"+url.PathEscape(DestID(d.Addr, d.Port)), d, nil)
}

func (c *Client) DelDest(ctx context.Context, key ipvs.ServiceKey, d ipvsadm.DestKey) error {
	return c.do(ctx, "DELETE", svcPath(key)+"/dests/"+url.PathEscape(DestID(d.Addr, d.Port)), nil, nil)
}

func (c *Client) Zero(ctx context.Context, key *ipvs.ServiceKey) error {
	req := ZeroRequest{}
	if key != nil {
		req.Service = ServiceID(*key)
	}
	return c.do(ctx, "POST", "/v1/zero", req, nil)
}

func (c *Client) SetTimeouts(ctx context.Context, t ipvsadm.Timeouts) error {
	return c.do(ctx, "PUT", "/v1/timeouts", t, nil)
}

func (c *Client) Timeouts(ctx context.Context) (t ipvsadm.Timeouts, err error) {
	err = c.do(ctx, "GET", "/v1/timeouts", nil, &t)
	return
}

func (c *Client) Services(ctx context.Context) (list []ipvs.ServiceStatus, err error) {
	err = c.do(ctx, "GET", "/v1/services", nil, &list)
	return
}

func (c *Client) Service(ctx context.Context, key ipvs.ServiceKey) (st ipvs.ServiceStatus, err error) {
	err = c.do(ctx, "GET", svcPath(key), nil, &st)
	return
}

func (c *Client) Conns(ctx context.Context) ([]ipvsadm.Conn, error) {
	var page ConnPage
	err := c.do(ctx, "GET", "/v1/conns", nil, &page)
	return page.Conns, err
}

// ConnPage fetches one filtered page of the connection table; q holds
// limit, offset, protocol, client, virtual, dest, template.
func (c *Client) ConnPage(ctx context.Context, q url.Values) (page ConnPage, err error) {
	err = c.do(ctx, "GET", "/v1/conns?"+q.Encode(), nil, &page)
	return
}

func (c *Client) StartDaemon(ctx context.Context, d ipvsadm.DaemonConfig) error {
	return c.do(ctx, "POST", "/v1/daemons", d, nil)
}

func (c *Client) StopDaemon(ctx context.Context, st ipvsadm.DaemonState) error {
	return c.do(ctx, "DELETE", "/v1/daemons/"+st.String(), nil, nil)
}

func (c *Client) Daemons(ctx context.Context) (list []ipvsadm.DaemonConfig, err error) {
	err = c.do(ctx, "GET", "/v1/daemons", nil, &list)
	return
}

func (c *Client) Restore(ctx context.Context, ops []ipvsadm.RestoreOp) (snaps []ipvsadm.Snapshot, err error) {
	err = c.do(ctx, "POST", "/v1/restore", RestoreRequest{Ops: ops}, &snaps)
	return
}
