//! `gate-eval`: evaluate promotion gates over JSON evidence (see gate-eval(1)).

fn main() -> std::process::ExitCode {
    rollout_gate::cli::main()
}
