//! Writes the hostile inputs of `core/tests/common/hostile.rs` to a folder, for the C
//! and Python doors' tests and for benchmarks:
//!
//! ```sh
//! cargo run -p conveyor --example hostile -- target/hostile
//! ```
//!
//! Files: a scan flood (3,000 scans, 1 MB class), a 100-megapixel black PNG (about
//! 400 KB), a PNG whose iCCP chunk inflates to 64 MiB, a JPEG cut at 40 %, 12-bit,
//! lossless and hierarchical JPEG headers, and a BMP that declares 144 MB in 253 bytes.

#[path = "../tests/common/hostile.rs"]
mod hostile;

use hostile::*;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or("target/hostile".into()));
    std::fs::create_dir_all(&dir)?;
    let whole = progressive_jpeg(1200, 900);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("scan-flood.jpg", scan_flood_jpeg(1024, 1024, 3000)),
        ("png-100mp.png", png_black_rgb(10_000, 10_000)),
        ("iccp-bomb.png", png_iccp_bomb(64 << 20)),
        ("truncated-40.jpg", truncated(&whole, 40)),
        ("jpeg-12bit.jpg", jpeg_variant_header(0xC1, 12)),
        ("jpeg-lossless.jpg", jpeg_variant_header(0xC3, 8)),
        ("jpeg-hierarchical.jpg", jpeg_variant_header(0xC5, 8)),
        ("bmp-size-bomb.bmp", bmp_size_bomb(2554, 18803, 253)),
    ];
    for (name, data) in files {
        std::fs::write(dir.join(name), &data)?;
        println!("{:>10} bytes  {}", data.len(), dir.join(name).display());
    }
    Ok(())
}
