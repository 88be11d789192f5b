//! `digest-pin`: promote and roll back image digest pins (see digest-pin(1)).

fn main() -> std::process::ExitCode {
    rollout_pin::cli::main()
}
