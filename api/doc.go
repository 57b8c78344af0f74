// Package api is gvsd's control API: a versioned HTTP/JSON interface
// (/v1/...) served on a Unix socket (root-only by default) and, when
// configured, on TCP behind a bearer token; and the client gvsadm uses.
//
// The API is the ipvsadm.Backend interface remoted one call per request
// (Server wraps any Backend, gvsd gives it the one over its engine; Client
// implements Backend), plus daemon endpoints (state, health, writing the
// configuration back). Errors carry a stable code, the kernel errno ipvsadm
// words its messages from, and a human message. openapi.yaml describes it;
// a test checks the server against the document.
//
// Where to start reading: server.go (routes), client.go.
package api
