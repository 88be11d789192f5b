//! `image-resolve`: ask the registry for digests, labels and tags (see image-resolve(1)).

fn main() -> std::process::ExitCode {
    rollout_resolve::cli::main()
}
