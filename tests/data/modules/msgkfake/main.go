// Command msgkfake runs an in-process Kafka-protocol cluster (franz-go's kfake) on 127.0.0.1 for
// the messaging integration tests: it prints "KAFKA <host:port>" once it listens and runs until it
// is signalled. Topics given with -topics are created with one partition each.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	topics := flag.String("topics", "", "comma-separated topics to create")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0)}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(1, strings.Split(*topics, ",")...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "msgkfake:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println("KAFKA", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
