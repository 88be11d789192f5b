//! Which branch a run syncs from and pushes to: a pure rule over what the remote has.
//!
//! A wrong branch is the quiet failure of a GitOps push: a commit on a new `main` of a
//! repository whose default branch is `master` is never read by Flux, yet the push
//! "succeeds". So the branch is the one given with `--branch`, else the remote's default
//! (the target of its HEAD), else the working copy's branch when it tracks that remote; a
//! branch the remote does not have is created only with `--create-branch`; and every
//! refusal names the branches the remote has.

use crate::error::BumpError;
use crate::git::RemoteBranches;

/// The branch to use, or why there is none.
///
/// `given` is `--branch`; `tracking` the working copy's branch when it tracks the remote;
/// `create` is `--create-branch` (only a push may create a branch).
pub fn choose(
    given: Option<&str>,
    remote: &RemoteBranches,
    remote_name: &str,
    tracking: Option<&str>,
    create: bool,
) -> Result<String, BumpError> {
    let unknown = |message: String| BumpError::BranchUnknown {
        remote: remote_name.to_string(),
        message,
        known: remote.branches.clone(),
    };
    let branch = match (given, &remote.default, tracking) {
        (Some(b), _, _) => b.to_string(),
        (None, Some(d), _) => d.clone(),
        (None, None, Some(t)) => t.to_string(),
        (None, None, None) => {
            return Err(unknown(
                "cannot tell the remote's default branch: give --branch".into(),
            ));
        }
    };
    if remote.branches.contains(&branch) || create {
        return Ok(branch);
    }
    let hint = match &remote.default {
        Some(d) => format!("give --branch {d}, or --create-branch to create {branch:?}"),
        None => format!("give --branch, or --create-branch to create {branch:?}"),
    };
    Err(unknown(format!(
        "branch {branch:?} does not exist on the remote: {hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(default: Option<&str>, branches: &[&str]) -> RemoteBranches {
        RemoteBranches {
            default: default.map(str::to_string),
            branches: branches.iter().map(|b| b.to_string()).collect(),
        }
    }

    #[test]
    fn the_remote_default_wins_over_a_guess() {
        let r = remote(Some("master"), &["master", "release"]);
        assert_eq!(
            choose(None, &r, "origin", Some("release"), false).unwrap(),
            "master"
        );
        assert_eq!(
            choose(Some("release"), &r, "origin", None, false).unwrap(),
            "release"
        );
    }

    #[test]
    fn tracking_is_the_fallback_when_the_remote_does_not_say() {
        let r = remote(None, &["main", "prod"]);
        assert_eq!(
            choose(None, &r, "origin", Some("prod"), false).unwrap(),
            "prod"
        );
        let e = choose(None, &r, "origin", None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot tell the remote's default branch: give --branch (origin has: main, prod)"
        );
    }

    #[test]
    fn a_missing_branch_is_refused_unless_created() {
        let r = remote(Some("master"), &["master"]);
        let e = choose(Some("main"), &r, "origin", None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "branch \"main\" does not exist on the remote: give --branch master, or --create-branch to create \"main\" (origin has: master)"
        );
        assert_eq!(
            choose(Some("main"), &r, "origin", None, true).unwrap(),
            "main"
        );
        let empty = remote(None, &[]);
        assert!(choose(None, &empty, "origin", None, true).is_err());
    }
}
