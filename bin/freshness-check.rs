//! `freshness-check`: how far a pinned ref is behind head on the paths that matter (see freshness-check(1)).

fn main() -> std::process::ExitCode {
    rollout_fresh::cli::main()
}
