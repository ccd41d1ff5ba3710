//! The README's C and Python examples are copies of files that CI compiles and runs;
//! this keeps them identical.
#![allow(missing_docs)]

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)).unwrap()
}

#[test]
fn readme_examples_are_the_files_ci_runs() {
    let readme = read("README.md");
    for file in ["examples/c/readme.c", "python/examples/readme.py"] {
        let body = read(file);
        assert!(
            readme.contains(body.trim_end()),
            "README.md does not contain {file} verbatim"
        );
    }
}
