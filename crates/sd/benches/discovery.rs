//! Discovery benchmark (placeholder until written).
fn main() {}
