// Embedding ids must be `usize` inputs.
staticflow::graph! {
    struct Lookup {
        input ids: [n];
        var table: [100, 16];
        output y = embedding(table, ids);
    }
}

fn main() {}
