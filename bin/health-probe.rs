//! `health-probe`: check the runtime health URLs over HTTP (see health-probe(1)).

fn main() -> std::process::ExitCode {
    rollout_probe::cli::main()
}
