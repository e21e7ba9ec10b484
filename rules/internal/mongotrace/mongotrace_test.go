package mongotrace

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func TestSpanName(t *testing.T) {
	for _, c := range []struct {
		cmd  Command
		want string
	}{
		{Command{Name: "find", Collection: "items", Database: "app"}, "find items"},
		{Command{Name: "ping", Database: "admin"}, "ping admin"},
		{Command{Name: "ping"}, "ping"},
		{Command{Database: "app"}, "app"},
		{Command{}, "mongodb"},
	} {
		if got := SpanName(c.cmd); got != c.want {
			t.Errorf("SpanName(%+v) = %q, want %q", c.cmd, got, c.want)
		}
	}
}

func TestServerAttrs(t *testing.T) {
	got := serverAttrs("127.0.0.1:27017[-3]")
	want := []attribute.KeyValue{
		attribute.String("server.address", "127.0.0.1"), attribute.Int("server.port", 27017),
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("serverAttrs = %v, want %v", got, want)
	}
	if got := serverAttrs("[::1]:27018[-12]"); len(got) != 2 || got[0].Value.AsString() != "::1" {
		t.Errorf("IPv6: %v", got)
	}
	if got := serverAttrs("/tmp/mongodb-27017.sock[-1]"); len(got) != 1 ||
		got[0].Value.AsString() != "/tmp/mongodb-27017.sock" {
		t.Errorf("socket: %v", got)
	}
	if got := serverAttrs(""); got != nil {
		t.Errorf("empty: %v", got)
	}
}

func TestParseFailure(t *testing.T) {
	f := ParseFailure("(CommandNotFound) no such command: 'nope'")
	if f.CodeName != "CommandNotFound" || f.Code != "" {
		t.Errorf("%+v", f)
	}
	if f := ParseFailure("connection(127.0.0.1:1[-1]) incomplete read"); f.CodeName != "" {
		t.Errorf("%+v", f)
	}
	if f := ParseFailure("(not a name) x"); f.CodeName != "" {
		t.Errorf("%+v", f)
	}
}

func TestIsOtelmongo(t *testing.T) {
	if IsOtelmongo(TestIsOtelmongo) || IsOtelmongo(nil) || IsOtelmongo((func())(nil)) || IsOtelmongo(3) {
		t.Error("a function of another package read as otelmongo's")
	}
}
