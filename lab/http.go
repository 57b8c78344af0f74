//go:build linux

package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"
)

// HTTPGet fetches a URL (an IP literal, no names) from the client
// namespace, from source address src, on a new connection, and returns the
// body whatever the status. It gives up after five seconds.
func (l *Lab) HTTPGet(ctx context.Context, src, url string) (string, error) {
	s, err := netip.ParseAddr(src)
	if err != nil {
		return "", err
	}
	return l.HTTPGetFrom(ctx, "client", s, url)
}

// HTTPGetFrom is HTTPGet from any role's namespace (and from its primary
// address if src is the zero Addr).
func (l *Lab) HTTPGetFrom(ctx context.Context, role string, src netip.Addr, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tr := &http.Transport{DialContext: l.DialContext(role, src), DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("lab: GET %s from %s: %w", url, src, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return string(body), fmt.Errorf("lab: GET %s from %s: %w", url, src, err)
	}
	return string(body), nil
}
