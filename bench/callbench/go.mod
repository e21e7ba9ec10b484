module example.com/callbench

go 1.23
