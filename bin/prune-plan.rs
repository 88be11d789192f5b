//! `prune-plan`: plan a registry clean-up that never deletes what is still in use (see prune-plan(1)).

fn main() -> std::process::ExitCode {
    rollout_prune::cli::main()
}
