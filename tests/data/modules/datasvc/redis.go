package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/redis/go-redis/v9"
)

// redisHandler: SET, GET, GET of a missing key (redis.Nil), a WRONGTYPE error, a pipeline of two
// INCRs and a transaction (MULTI SET GET EXEC).
func redisHandler(addr string) http.HandlerFunc {
	var rdb *redis.Client
	if addr != "" {
		rdb = redis.NewClient(&redis.Options{Addr: addr, DB: 2})
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if rdb == nil {
			http.Error(w, "REDIS_ADDR not set", http.StatusServiceUnavailable)
			return
		}
		ctx := r.Context()
		if err := rdb.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
			fail(w, err)
			return
		}
		got, err := rdb.Get(ctx, "greeting").Result()
		if err != nil {
			fail(w, err)
			return
		}
		if err := rdb.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
			fail(w, fmt.Errorf("GET missing: %v", err))
			return
		}
		wrongType := rdb.LPush(ctx, "greeting", "x").Err()
		pipe := rdb.Pipeline()
		incr := pipe.Incr(ctx, "counter")
		pipe.Incr(ctx, "counter")
		if _, err := pipe.Exec(ctx); err != nil {
			fail(w, err)
			return
		}
		var inTx *redis.StringCmd
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "tx", "1", 0)
			inTx = p.Get(ctx, "tx")
			return nil
		}); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprintf(w, "%s %d %s wrongtype=%v\n", got, incr.Val(), inTx.Val(), wrongType != nil)
	}
}
