package netaddr

import "testing"

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
	}{
		{"example.com:8080", "example.com", 8080},
		{"example.com", "example.com", 0},
		{"[::1]:443", "::1", 443},
		{"[::1]", "::1", 0},
		{"host:notaport", "host", 0},
		{"host:70000", "host", 0},
	} {
		if host, port := SplitHostPort(tc.in); host != tc.host || port != tc.port {
			t.Errorf("SplitHostPort(%q) = %q, %d; want %q, %d", tc.in, host, port, tc.host, tc.port)
		}
	}
}
