module example.com/msgsvc

go 1.26.0

require (
	github.com/nats-io/nats.go v1.31.0
	github.com/rabbitmq/amqp091-go v1.8.1
	github.com/segmentio/kafka-go v0.4.42
)

require (
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/pierrec/lz4/v4 v4.1.15 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
