//! Generates the C header with cbindgen into `$OUT_DIR/conveyor.h`, with version macros
//! taken from Cargo.toml. The committed copy is `include/conveyor.h`; the test
//! `header_is_current` fails when the two differ (`CONVEYOR_BLESS=1` rewrites it).
//!
//! On Linux it also gives `libconveyor.so` a SONAME, `libconveyor.so.0.<minor>` while
//! the version is 0.x and `libconveyor.so.<major>` from 1.0 (cargo-c's rule), so programs
//! record the ABI they were linked against. Cargo names the file `libconveyor.so` only,
//! so a link named after the SONAME is made beside it in `target/<profile>/`, for
//! programs linked there with an rpath. `scripts/install-c.sh` installs the usual
//! `libconveyor.so.X.Y.Z`, `libconveyor.so.<soversion>` and `libconveyor.so` trio.

fn main() {
    soname();
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

/// The SONAME link argument and the `target/<profile>/libconveyor.so.<soversion>` link.
fn soname() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let soversion = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    let soname = format!("libconveyor.so.{soversion}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is <target>/<profile>/build/conveyor-ffi-<hash>/out, and cargo copies the
    // cdylib to <target>/<profile>/. The link may dangle until then.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let link = profile_dir.join(&soname);
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        if let Err(e) = std::os::unix::fs::symlink("libconveyor.so", &link) {
            println!("cargo:warning=could not link {}: {e}", link.display());
        }
    }
}
