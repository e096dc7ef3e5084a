// `#[no_std]` is a marker: it takes no arguments.
staticflow::graph! {
    #[no_std(alloc)]
    struct Scale {
        input x: [3];
        output y = x * 2.0;
    }
}

fn main() {}
