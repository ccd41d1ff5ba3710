//! Times the wasm build's pipeline (jpeg-decoder, the entropy check, the pure-Rust WebP
//! encoder) natively on one file, per stage (a development aid):
//! `cargo run --release -p conveyor-wasm --example timing -- photo.jpg [RECIPE_JSON] [RUNS]`
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: timing FILE [RECIPE_JSON] [RUNS]");
    let data = std::fs::read(path).unwrap();
    let recipe = match args.next() {
        Some(json) => conveyor::Recipe::from_json(&json).unwrap(),
        None => conveyor::Recipe::default(),
    };
    let runs: usize = args.next().map_or(3, |n| n.parse().unwrap());
    for _ in 0..runs {
        let r = conveyor::process(&data, &recipe).unwrap();
        println!("{:?}", r.timings);
    }
}
