//! `tag-bump`: set an image tag in a GitOps repository, commit and push (see tag-bump(1)).

fn main() -> std::process::ExitCode {
    rollout_bump::cli::main()
}
