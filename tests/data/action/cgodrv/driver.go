// Package cgodrv is a database/sql driver whose answers come from C, as with cgo drivers such as
// go-sqlite3: the Action's image must carry a C toolchain to build it (tests/test_action_fast.py).
package cgodrv

/*
static long answer(long x) { return x * 2; }
*/
import "C"

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
)

func init() { sql.Register("cgodrv", drv{}) }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) { return conn{}, nil }

type conn struct{}

func (conn) Prepare(query string) (driver.Stmt, error) { return stmt{query}, nil }
func (conn) Close() error                              { return nil }
func (conn) Begin() (driver.Tx, error)                 { return nil, errors.New("no transactions") }

type stmt struct{ query string }

func (stmt) Close() error                               { return nil }
func (stmt) NumInput() int                              { return 1 }
func (stmt) Exec([]driver.Value) (driver.Result, error) { return nil, errors.New("read only") }
func (s stmt) Query(args []driver.Value) (driver.Rows, error) {
	x, _ := args[0].(int64)
	return &rows{value: int64(C.answer(C.long(x)))}, nil
}

type rows struct {
	value int64
	done  bool
}

func (*rows) Columns() []string { return []string{"answer"} }
func (*rows) Close() error      { return nil }
func (r *rows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = r.value
	return nil
}
