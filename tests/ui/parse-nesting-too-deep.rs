// Expressions nest at most 64 brackets deep, so the macro cannot exhaust
// the compiler's stack: the error points at the first bracket past the limit.
staticflow::graph! {
    struct Deep {
        input x: [3];
        output y = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))));
    }
}

fn main() {}
