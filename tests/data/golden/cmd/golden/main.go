package main

import (
	"fmt"
	"net/url"
	"strconv"

	"example.com/golden/cases"
)

type num int

func (n num) String() string { return strconv.Itoa(int(n)) }

func main() {
	c := &cases.Counter{}
	c.Add(2)
	sum, _ := cases.Named(4)
	s, _ := cases.Unnamed(1, "u")
	cases.UnnamedParams(1, "x")
	st := &cases.Stack[string]{}
	fmt.Println(cases.Plain(1, "a"), c.Value(), sum, s, cases.Variadic("p", 1, 2),
		cases.Host(&url.URL{Host: "h"}), cases.Map([]int{1, 2}, func(i int) num { return num(i) }),
		st.Push("x"), cases.Twice(1), cases.Ignored(3), cases.OneLine())
	fmt.Println(cases.Skippable(5))
}
