//! Times the pipeline on one file, per stage (a development aid):
//! `cargo run --release -p conveyor --example timing -- photo.jpg`
fn main() {
    let path = std::env::args().nth(1).expect("usage: timing FILE");
    let data = std::fs::read(path).unwrap();
    let recipe = conveyor::Recipe::default();
    for _ in 0..3 {
        let r = conveyor::process(&data, &recipe).unwrap();
        println!("{:?}", r.timings);
    }
}
