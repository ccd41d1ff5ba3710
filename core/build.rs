//! Refuses to build the `mozjpeg` feature for x86 or x86_64 without `nasm`.
//!
//! mozjpeg-sys assembles libjpeg-turbo's SIMD code only when `nasm` is on `PATH`, and
//! otherwise builds a plain C codec without saying so (its warning is hidden because it
//! is a dependency): JPEG decoding is then about 1.5x slower and encoding 2.3x slower.
//! So this build fails with the fix instead. `CONVEYOR_ALLOW_NO_SIMD=1` is the explicit
//! opt-out: the build goes on, with a warning. Other architectures (aarch64 uses the GNU
//! assembler, wasm32 has no mozjpeg) and builds without `mozjpeg` are not checked.

use std::process::Command;

const OPT_OUT: &str = "CONVEYOR_ALLOW_NO_SIMD";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // `--cfg loom` runs the pool's model tests (see core/src/pool/sync.rs).
    println!("cargo::rustc-check-cfg=cfg(loom)");
    println!("cargo:rerun-if-env-changed={OPT_OUT}");
    let mozjpeg = std::env::var_os("CARGO_FEATURE_MOZJPEG").is_some();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !mozjpeg || !matches!(arch.as_str(), "x86" | "x86_64") {
        return;
    }
    let problem = match Command::new("nasm").arg("-v").output() {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("NASM version 0.") => {
            format!(
                "the nasm on PATH is too old ({})",
                String::from_utf8_lossy(&out.stdout).trim()
            )
        }
        Ok(out) if out.status.success() => return,
        Ok(out) => format!("`nasm -v` failed ({})", out.status),
        Err(e) => format!("nasm was not found on PATH ({e})"),
    };
    let allowed = std::env::var(OPT_OUT).is_ok_and(|v| !v.is_empty() && v != "0");
    if allowed {
        println!(
            "cargo:warning={problem}: building JPEG without SIMD because {OPT_OUT} is set \
             (about 1.5x slower decoding, 2.3x slower encoding)"
        );
        return;
    }
    eprintln!(
        "\nerror: {problem}.\n\
         \n\
         conveyor's JPEG codec (the `mozjpeg` feature) needs nasm for its SIMD code on\n\
         {arch}; without it JPEG decoding is about 1.5x slower and encoding 2.3x slower.\n\
         \n\
         Install it, then build again:\n\
         \x20   Debian/Ubuntu:  sudo apt-get install nasm\n\
         \x20   Fedora:         sudo dnf install nasm\n\
         \x20   macOS:          brew install nasm\n\
         \n\
         Or build the slower codec on purpose: {OPT_OUT}=1 cargo build ...\n"
    );
    std::process::exit(1);
}
