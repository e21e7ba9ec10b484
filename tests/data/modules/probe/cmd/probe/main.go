package main

import (
	"fmt"
	"os"
	"path/filepath"

	"example.com/probe/target"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "boom" {
		target.Boom(7)
		return
	}
	g := &target.Greeter{Name: "ann"}
	s, err := g.Greet("bob")
	fmt.Println("OUT: Greet", s, err)
	fmt.Println("OUT: Hello", target.Greeter{Name: "cy"}.Hello())
	fmt.Println("OUT: Misuse", target.Misuse("m"))
	fmt.Println("OUT: Add", target.Add(1, 2))
	v, err := target.Compute(42)
	fmt.Println("OUT: Compute(42)", v, err)
	v, err = target.Compute(5)
	fmt.Println("OUT: Compute(5)", v, err)
	fmt.Println("OUT: Double", target.Double(4))
	fmt.Println("OUT: Carry", target.Carry(9))
	fmt.Println("OUT: Fragile", target.Fragile("ABC"))
	fmt.Println("OUT: Nested", target.Nested("n"))
	fmt.Println("OUT: MaxInt", target.Max(3, 8))
	fmt.Println("OUT: MaxStr", target.Max("pear", "apple"))
	b := &target.Box[string]{V: "first"}
	fmt.Println("OUT: Swap", b.Swap("second"), b.V)
	bi := &target.Box[int]{V: 1}
	fmt.Println("OUT: SwapInt", bi.Swap(2), bi.V)
	fmt.Println("OUT: Sum", target.Sum("total=", 1, 2, 3))
	n, up := target.Unnamed(99, "abc")
	fmt.Println("OUT: Unnamed", n, up)
	file, line := target.Where(1)
	fmt.Println("OUT: Where", filepath.Base(file), line)
}
