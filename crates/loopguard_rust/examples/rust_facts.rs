//! Prints the facts of one Rust file: `cargo run -p loopguard_rust --example rust_facts -- FILE [MODULE]`.
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: facts FILE [MODULE]");
        return;
    };
    let module = args.next().unwrap_or_else(|| "m".to_owned());
    let source = std::fs::read_to_string(&path).unwrap_or_default();
    let facts = loopguard_rust::lower(&path, &module, &source, None);
    println!("{facts:#?}");
}
