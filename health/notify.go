package health

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Notifications run a command on every transition, asynchronously, each
// bounded by a timeout (then its process group is killed), at most
// MaxNotify at once, and in order for one server (or one service's
// quorum): a server's "down" never overtakes its "up".
//
// The command gets the event in its environment:
//
//	GVS_EVENT           server-up, server-down, quorum-up, quorum-down
//	GVS_STATE           up or down
//	GVS_SERVICE         the service as ipvsadm names it ("TCP 10.0.0.1:80", "FWM 3")
//	GVS_SERVICE_NAME    the service's configured name (may be empty)
//	GVS_SERVER          the real server, addr:port (server events)
//	GVS_SERVER_ADDR, GVS_SERVER_PORT
//	GVS_WEIGHT          the server's weight (server events)
//	GVS_HEALTHY_WEIGHT  the sum of healthy weights (quorum events)
//	GVS_QUORUM          the quorum (quorum events)
//
// and the same values replace {event}, {state}, {service}, {name},
// {server}, {addr}, {port}, {weight} in its arguments. A server's own
// notify_up/notify_down replace the service's health.notify_up/notify_down.
type notifier struct {
	max     int
	timeout time.Duration
	log     *slog.Logger
	wg      sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	pending []notification
	running map[string]bool // keys with a command running
	runners int
}

type notification struct {
	key  string
	argv []string
	ev   event
}

func newNotifier(max int, timeout time.Duration, log *slog.Logger) *notifier {
	n := &notifier{max: max, timeout: timeout, log: log, running: map[string]bool{}}
	n.cond = sync.NewCond(&n.mu)
	return n
}

type event struct {
	name string // server-up...
	vars [][2]string
}

// run queues a command; at most max run at once, one at a time per key,
// in the order queued.
func (n *notifier) run(key string, argv []string, ev event) {
	if len(argv) == 0 || argv[0] == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wg.Add(1)
	n.pending = append(n.pending, notification{key, argv, ev})
	if n.runners < n.max {
		n.runners++
		go n.runner()
	} else {
		n.cond.Signal()
	}
}

func (n *notifier) runner() {
	n.mu.Lock()
	for {
		i := slices.IndexFunc(n.pending, func(x notification) bool { return !n.running[x.key] })
		if i < 0 {
			if len(n.pending) == 0 {
				n.runners--
				n.mu.Unlock()
				return
			}
			n.cond.Wait() // everything pending waits for a running key
			continue
		}
		it := n.pending[i]
		n.pending = slices.Delete(n.pending, i, i+1)
		n.running[it.key] = true
		n.mu.Unlock()
		n.exec(it.argv, it.ev)
		n.mu.Lock()
		delete(n.running, it.key)
		n.cond.Broadcast()
		n.wg.Done()
	}
}

func (n *notifier) exec(argv []string, ev event) {
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = expand(a, ev.vars)
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	env := os.Environ()
	for _, v := range ev.vars {
		env = append(env, "GVS_"+strings.ToUpper(v[0])+"="+v[1])
	}
	cmd.Env = env
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := procGroup(cmd, ""); err != nil {
		n.log.Warn("health: notification not run", "event", ev.name, "command", args[0], "error", err.Error())
		return
	}
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		n.log.Warn("health: notification failed", "event", ev.name, "command", args[0], "error", err.Error(),
			"output", string(bytes.TrimSpace(out.b)))
	}
}

// wait waits for every notification started so far.
func (n *notifier) wait() { n.wg.Wait() }

// notifyServer runs the server's (else the service's) notify command.
func (m *Manager) notifyServer(d *dest, isUp bool) {
	s := d.svc
	argv, name, state := d.rs.NotifyDown, "server-down", "down"
	if isUp {
		argv, name, state = d.rs.NotifyUp, "server-up", "up"
	}
	if len(argv) == 0 {
		argv = s.health.NotifyDown
		if isUp {
			argv = s.health.NotifyUp
		}
	}
	ev := event{name: name, vars: [][2]string{
		{"event", name}, {"state", state}, {"service", s.key.String()}, {"service_name", s.name}, {"name", s.name},
		{"server", d.ap.String()}, {"server_addr", d.ap.Addr().String()}, {"server_port", strconv.Itoa(int(d.ap.Port()))},
		{"addr", d.ap.Addr().String()}, {"port", strconv.Itoa(int(d.ap.Port()))},
		{"weight", strconv.Itoa(int(d.weight))},
	}}
	m.notif.run(s.key.String()+"|"+d.ap.String(), argv, ev)
}

// notifyQuorum runs the service's quorum_up or quorum_down command.
func (m *Manager) notifyQuorum(s *service, isUp bool, sum int64) {
	argv, name, state := s.health.QuorumDown, "quorum-down", "down"
	if isUp {
		argv, name, state = s.health.QuorumUp, "quorum-up", "up"
	}
	q, _ := s.quorum()
	ev := event{name: name, vars: [][2]string{
		{"event", name}, {"state", state}, {"service", s.key.String()}, {"service_name", s.name}, {"name", s.name},
		{"healthy_weight", strconv.FormatInt(sum, 10)}, {"quorum", strconv.FormatInt(q, 10)},
	}}
	m.notif.run(s.key.String()+"|quorum", argv, ev)
}
