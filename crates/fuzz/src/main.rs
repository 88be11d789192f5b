//! `rollout-fuzz TARGET [--seconds N] [--seed N]` (or `all`): mutate the seed files of the
//! repository against a target for a bounded time; the first input that breaks a property
//! is written to `target/fuzz/crashes/TARGET-HASH` and the run exits 1. Prints one line per
//! target: executions, accepted inputs, seconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rollout_fuzz::{Rng, TARGETS, input_name, mutate, target};

/// The seed files: every example and fixture of the repository, and the presets.
fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = [
        "examples",
        "tests/fixtures",
        "crates/gate/presets",
        "crates/fuzz/regressions",
    ]
    .iter()
    .map(|d| root.join(d))
    .collect();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.len() <= 256 * 1024
            {
                out.push(bytes);
            }
        }
    }
    out.sort();
    out
}

fn run(name: &str, seconds: u64, seed: u64, seeds: &[Vec<u8>], root: &Path) -> Result<(), ()> {
    let t = target(name).expect("known target");
    let mut rng = Rng::new(seed ^ name.len() as u64);
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut execs, mut accepted) = (0u64, 0u64);
    while Instant::now() < deadline {
        let base = &pool[rng.below(pool.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, other);
        execs += 1;
        match std::panic::catch_unwind(|| t(&input)) {
            Ok(true) => {
                accepted += 1;
                // inputs the parser accepted lead deeper: keep some of them
                if pool.len() < 4096 {
                    pool.push(input);
                } else {
                    let i = rng.below(pool.len());
                    pool[i] = input;
                }
            }
            Ok(false) => {}
            Err(_) => {
                let dir = root.join("target/fuzz/crashes");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("{name}-{}", input_name(&input)));
                let _ = std::fs::write(&file, &input);
                eprintln!(
                    "rollout-fuzz: {name}: a property broke after {execs} executions; input in {} (add it to crates/fuzz/regressions/{name}/ once fixed)",
                    file.display()
                );
                return Err(());
            }
        }
    }
    println!(
        "rollout-fuzz: {name}: {execs} executions, {accepted} accepted, {seconds}s, seed {seed}, no property broken"
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 10;
    let mut seed = 20261121u64;
    let mut names = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seconds" => {
                seconds = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(10);
                i += 1;
            }
            "--seed" => {
                seed = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(seed);
                i += 1;
            }
            "all" => names.extend(TARGETS.iter().map(|(n, _)| n.to_string())),
            n if target(n).is_some() => names.push(n.to_string()),
            other => {
                eprintln!(
                    "rollout-fuzz: error: unknown target {other:?} (targets: all, {})",
                    TARGETS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return ExitCode::from(2);
            }
        }
        i += 1;
    }
    if names.is_empty() {
        names.extend(TARGETS.iter().map(|(n, _)| n.to_string()));
    }
    // a broken property is reported once, by the driver, not by the default hook
    std::panic::set_hook(Box::new(|info| {
        eprintln!("rollout-fuzz: panic: {info}");
    }));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seeds = seeds(&root);
    for name in &names {
        if run(name, seconds, seed, &seeds, &root).is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
