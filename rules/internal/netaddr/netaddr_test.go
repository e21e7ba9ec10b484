package netaddr

import (
	"strings"
	"testing"
)

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

func TestServerAttrs(t *testing.T) {
	for in, want := range map[string]string{
		"broker:9092": "[server.address=broker server.port=9092]",
		"[::1]:6379":  "[server.address=::1 server.port=6379]",
		"db.internal": "[server.address=db.internal]",
	} {
		var got []string
		for _, kv := range ServerAttrs(in) {
			got = append(got, string(kv.Key)+"="+kv.Value.Emit())
		}
		if s := "[" + strings.Join(got, " ") + "]"; s != want {
			t.Errorf("ServerAttrs(%q) = %s, want %s", in, s, want)
		}
	}
}
