//! Generates the C header with cbindgen into `$OUT_DIR/conveyor.h`, with version macros
//! taken from Cargo.toml. The committed copy is `include/conveyor.h`; the test
//! `header_is_current` fails when the two differ (`CONVEYOR_BLESS=1` rewrites it).

fn main() {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("conveyor.h");
    let v = |k: &str| std::env::var(k).unwrap();
    let mut config =
        cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        "\n#define CONVEYOR_VERSION \"{}\"\n#define CONVEYOR_VERSION_MAJOR {}\n#define CONVEYOR_VERSION_MINOR {}\n#define CONVEYOR_VERSION_PATCH {}\n",
        v("CARGO_PKG_VERSION"),
        v("CARGO_PKG_VERSION_MAJOR"),
        v("CARGO_PKG_VERSION_MINOR"),
        v("CARGO_PKG_VERSION_PATCH"),
    ));
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(&out);
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
}
