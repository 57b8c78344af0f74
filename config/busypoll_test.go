package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/govs/gvs/config"
)

// TestBusyPoll: busy_poll is a duration (unset keeps gvsd's default, 0 is
// off), survives Marshal and Parse, and is refused out of range.
func TestBusyPoll(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want *time.Duration
	}{
		{"workers: 1\n", nil},
		{"busy_poll: 0\n", ptr(time.Duration(0))},
		{"busy_poll: 20us\n", ptr(20 * time.Microsecond)},
		{"busy_poll: 100µs\n", ptr(100 * time.Microsecond)},
		{"busy_poll: 0.0001\n", ptr(100 * time.Microsecond)}, // seconds as a number
	} {
		c, err := config.Parse([]byte(tc.yaml), "f.yaml")
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if (c.BusyPoll == nil) != (tc.want == nil) || c.BusyPoll != nil && time.Duration(*c.BusyPoll) != *tc.want {
			t.Errorf("%q: busy_poll %v, want %v", tc.yaml, c.BusyPoll, tc.want)
		}
		out, err := config.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := config.Parse(out, "back.yaml")
		if err != nil {
			t.Fatalf("%q: reparse: %v\n%s", tc.yaml, err, out)
		}
		if (back.BusyPoll == nil) != (c.BusyPoll == nil) || back.BusyPoll != nil && *back.BusyPoll != *c.BusyPoll {
			t.Errorf("%q: round trip gave %v\n%s", tc.yaml, back.BusyPoll, out)
		}
	}
	for _, bad := range []string{"busy_poll: -1ms\n", "busy_poll: 2s\n", "busy_poll: soon\n"} {
		_, err := config.Parse([]byte(bad), "f.yaml")
		if err == nil || !strings.Contains(err.Error(), "f.yaml") && !strings.Contains(err.Error(), "busy_poll") {
			t.Errorf("%q: error %v, want one about busy_poll", bad, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
