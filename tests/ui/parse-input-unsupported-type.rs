// Inputs hold f32 or usize indices: the error points at `i32`.
staticflow::graph! {
    struct Labels {
        input labels: [n] as i32;
        output y = labels;
    }
}

fn main() {}
