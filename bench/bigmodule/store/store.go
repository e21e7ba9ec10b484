// Package store is the user package the warm-rebuild measurement edits.
package store

import (
	"context"
	"database/sql"
)

// Item is one row of the items table.
type Item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Store reads items.
type Store struct{ db *sql.DB }

// New returns a Store over db.
func New(db *sql.DB) *Store { return &Store{db: db} }

// Item returns the item with the given id.
func (s *Store) Item(ctx context.Context, id string) (*Item, error) {
	var it Item
	err := s.db.QueryRowContext(ctx, "SELECT id, name FROM items WHERE id = ?", id).Scan(&it.ID, &it.Name)
	if err != nil {
		return nil, err
	}
	return &it, nil
}
