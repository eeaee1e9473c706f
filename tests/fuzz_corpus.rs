//! Replays every file of the fuzz corpus (`fuzz/corpus/<target>/`) and every
//! crash the fuzzers found (`fuzz/regressions/<target>/`) through the same harness
//! the cargo-fuzz targets run (`fuzz/harness.rs`), on stable, so a plain
//! `cargo test` keeps the fuzzers' findings fixed.
//!
//! One test function: the harness's counting allocator is process-wide, so its
//! memory checks need the inputs to run one at a time.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("server_request", harness::server_request),
    ("client_response", harness::client_response),
    ("hybi", harness::hybi),
    ("hixie", harness::hixie),
    ("close_frame", harness::close_frame),
    ("inflate", harness::inflate),
    ("driver", harness::driver),
];

#[test]
fn every_corpus_file_replays_without_a_finding() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let mut files = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name}: {} fails", path.display());
                files += 1;
            }
        }
        assert!(files > 0, "no corpus for the {name} target");
        replayed += files;
    }
    println!("replayed {replayed} inputs");
}
