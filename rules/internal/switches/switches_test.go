package switches

import "testing"

func TestOn(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		name string
		want bool
	}{
		{nil, "nethttp", true},
		{map[string]string{"OTEL_SDK_DISABLED": "TRUE"}, "nethttp", false},
		{map[string]string{"OTEL_SDK_DISABLED": "false"}, "nethttp", true},
		{map[string]string{"OTEL_GO_DISABLED_INSTRUMENTATIONS": " NetHTTP , databasesql"}, "nethttp", false},
		{map[string]string{"OTEL_GO_DISABLED_INSTRUMENTATIONS": "databasesql"}, "nethttp", true},
		{map[string]string{"OTEL_GO_ENABLED_INSTRUMENTATIONS": "databasesql"}, "nethttp", false},
		{map[string]string{"OTEL_GO_ENABLED_INSTRUMENTATIONS": "databasesql,nethttp"}, "nethttp", true},
		{map[string]string{"OTEL_GO_ENABLED_INSTRUMENTATIONS": " , "}, "nethttp", true},
		{map[string]string{
			"OTEL_GO_ENABLED_INSTRUMENTATIONS":  "nethttp",
			"OTEL_GO_DISABLED_INSTRUMENTATIONS": "nethttp",
		}, "nethttp", false},
	} {
		s := Read(func(k string) string { return c.env[k] })
		if got := s.On(c.name); got != c.want {
			t.Errorf("%v: On(%q) = %v, want %v", c.env, c.name, got, c.want)
		}
	}
}
