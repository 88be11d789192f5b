//! `policy-apply`: governed, idempotent, audited rollout-policy mutation (see policy-apply(1)).

fn main() -> std::process::ExitCode {
    rollout_policy::cli::main()
}
