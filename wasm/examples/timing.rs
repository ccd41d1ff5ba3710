//! Times the wasm build's pipeline (jpeg-decoder, the entropy check, the pure-Rust WebP
//! encoder) natively on one file, per stage (a development aid):
//! `cargo run --release -p conveyor-wasm --example timing -- photo.jpg [RECIPE_JSON] [RUNS]`.
//! With `TIMING_OUT=DIR` it also writes each output to `DIR/<input stem>.<format>`.
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: timing FILE [RECIPE_JSON] [RUNS]");
    let data = std::fs::read(&path).unwrap();
    let recipe = match args.next() {
        Some(json) => conveyor::Recipe::from_json(&json).unwrap(),
        None => conveyor::Recipe::default(),
    };
    let runs: usize = args.next().map_or(3, |n| n.parse().unwrap());
    for run in 0..runs {
        let r = conveyor::process(&data, &recipe).unwrap();
        println!("{:?}", r.timings);
        if let (0, Ok(dir)) = (run, std::env::var("TIMING_OUT")) {
            let stem = std::path::Path::new(&path).file_stem().unwrap();
            for o in &r.outputs {
                let name = format!("{}.{}", stem.to_string_lossy(), o.format.extension());
                std::fs::write(
                    std::path::Path::new(&dir).join(name),
                    o.data.as_ref().unwrap(),
                )
                .unwrap();
            }
        }
    }
}
