package cgodrv

import (
	"database/sql"
	"testing"
)

func TestQueryAnsweredByC(t *testing.T) {
	db, err := sql.Open("cgodrv", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT answer(?)", 21).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 42 {
		t.Fatalf("got %d, want 42", n)
	}
}
