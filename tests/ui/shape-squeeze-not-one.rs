// Only axes of size 1 can be squeezed away.
staticflow::graph! {
    struct Drop {
        input x: [n, 3];
        output y = squeeze(x, axis = 1);
    }
}

fn main() {}
