// Every input declares its shape: the error points at the `;` after `x`.
staticflow::graph! {
    struct Scale {
        input x;
        output y = x * 2.0;
    }
}

fn main() {}
