//! mini-prometheus: the whole Scrapeline pipeline as one binary.

fn main() {
    println!("mini-prometheus: not yet wired");
}
