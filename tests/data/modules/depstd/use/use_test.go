package use

import (
	"os"
	"testing"
)

// mark logs line and, when DEPSTD_MARKER names a file, appends it there: the Python tests read
// that file, so they do not depend on how the test binary's output is shown.
func mark(t *testing.T, line string) {
	t.Log(line)
	if path := os.Getenv("DEPSTD_MARKER"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// These values are what the probe hooks make of the calls: the tests pass only when they fired.
func TestDependencyHooked(t *testing.T) {
	got := ID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	if want := "hooked:6ba7b810-9dad-11d1-80b4-00c04fd430c8"; got != want {
		t.Fatalf("ID = %q, want %q", got, want)
	}
	mark(t, "DEP-OK "+got)
}

func TestStdlibHooked(t *testing.T) {
	got := Link("hooked.example")
	if want := "https://hooked.example/p#seen-host=hooked.example"; got != want {
		t.Fatalf("Link = %q, want %q", got, want)
	}
	if other := Link("other.example"); other != "https://other.example/p" {
		t.Fatalf("Link(other) = %q: the hook changed a URL it should have left alone", other)
	}
	mark(t, "STD-OK "+got)
}
