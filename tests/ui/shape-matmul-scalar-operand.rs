// `matmul` needs 1-D or 2-D operands; a scalar operand is pointed at the call.
staticflow::graph! {
    struct Scale {
        input x: [3];
        const k = 2.0;
        output y = matmul(k, x);
    }
}

fn main() {}
