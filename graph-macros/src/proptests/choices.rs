//! A replayable stream of random decisions, generated and shrunk by proptest.
//!
//! The generators read every decision from a `Vec<u32>` rather than from an
//! RNG. When proptest shrinks the vector (fewer, smaller numbers), the graph
//! built from it gets simpler, and an exhausted stream answers 0, which every
//! generator treats as its simplest option; so a failure shrinks to a small
//! source on its own.

pub struct Choices {
    values: Vec<u32>,
    next: usize,
}

impl Choices {
    pub fn new(values: Vec<u32>) -> Self {
        Choices { values, next: 0 }
    }

    /// A number in `0..count` (0 when `count` is 0 or the stream has run out).
    pub fn below(&mut self, count: usize) -> usize {
        let Some(&value) = self.values.get(self.next) else {
            return 0;
        };
        self.next += 1;
        if count == 0 {
            0
        } else {
            usize::try_from(value).unwrap_or(usize::MAX) % count
        }
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// True with about `percent` % probability; false once the stream has run
    /// out, so optional features switch off as the input shrinks.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) >= 100 - percent.min(100)
    }

    /// One of `items`, the first when the stream has run out.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Shuffles `items` in place (Fisher–Yates); the identity when exhausted.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, i - j);
        }
    }
}
