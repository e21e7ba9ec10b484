package userenv

import (
	"os"
	"testing"
)

func TestRestore(t *testing.T) {
	t.Setenv("GOWORK", "/tmp/private/go.work")
	t.Setenv("GOFLAGS", "-tags=otelautoinst")
	t.Setenv("KEPT", "as it was")
	Restore("GOWORK\nGOFLAGS=\"-mod=mod -tags=a\\\\b \\\"q\\\" é\"")
	if _, ok := os.LookupEnv("GOWORK"); ok {
		t.Errorf("GOWORK is set (%q), the user had none", os.Getenv("GOWORK"))
	}
	if got, want := os.Getenv("GOFLAGS"), `-mod=mod -tags=a\b "q" é`; got != want {
		t.Errorf("GOFLAGS = %q, want %q", got, want)
	}
	if got := os.Getenv("KEPT"); got != "as it was" {
		t.Errorf("a variable not saved changed: %q", got)
	}
}

func TestMalformedLinesChangeNothing(t *testing.T) {
	t.Setenv("GOFLAGS", "-tags=otelautoinst")
	Restore("GOFLAGS=not quoted\n=\"x\"\n")
	if got := os.Getenv("GOFLAGS"); got != "-tags=otelautoinst" {
		t.Errorf("GOFLAGS = %q after malformed lines", got)
	}
}
