module example.com/sqlidle

go 1.23
