module example.com/godebug

go 1.21

godebug panicnil=1
