//! Edits inside a tree a pull request controls: every file named relative to a root
//! directory held open, every directory on the way opened without following a symbolic
//! link, and a batch of replacements that lands whole or not at all.
//!
//! Why file descriptors: a path checked and then written by name can be redirected between
//! the two (a directory swapped for a symlink to `/etc` after the check). Here the check and
//! the write are the same lookup: the root is opened once, each directory below it with
//! `openat(…, O_NOFOLLOW | O_DIRECTORY)`, the temp file is created in that held directory
//! with `O_EXCL | O_NOFOLLOW` and renamed over its target with `renameat` on the same
//! descriptor. A directory that became a symlink fails the open; a target that became a
//! symlink is replaced as a name (the rename never follows it). Paths under `.git/` and
//! paths that are not plain relative paths are refused before anything is opened.
//!
//! A batch is written in four steps (CONTRACT.md §4):
//!
//! 1. every file is checked: a regular file, not read-only, still the bytes the plan was
//!    made from (a file to create: not there yet);
//! 2. every new content is staged in a temp file next to its target, with its mode;
//! 3. each temp file is made durable (`fsync`, on several threads for a large batch);
//! 4. the temp files are renamed over their targets, then each directory is synced.
//!
//! A failure in steps 1 to 3 leaves every file untouched (the temp files are removed). A
//! failure part-way through step 4 puts back every file already replaced, in reverse order,
//! before the error is reported; if even that fails, the error names exactly the files left
//! changed. Each rename is atomic, so every file is always whole: old or new.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::CoreError;
use crate::fsx::TEMP_PREFIX;

/// A root directory, held open; files below it are read and replaced through it.
#[derive(Debug)]
pub struct Tree {
    fd: OwnedFd,
    shown: PathBuf,
}

/// One file of a batch to replace.
#[derive(Debug, Clone, Copy)]
pub struct Replacement<'a> {
    /// Relative to the root, `/`-separated, as reports show it.
    pub rel: &'a str,
    /// The bytes the plan was computed from.
    pub old: &'a [u8],
    /// The bytes to write.
    pub new: &'a [u8],
    /// The file is new: it must not exist yet (and gets mode 0644); `old` is empty.
    pub create: bool,
}

const NOTHING: &str = "nothing was written";

/// Faults a test can inject into a batch write from outside the process (each tool reads
/// its own variable at its edge: `DIGEST_PIN_FAULT`, `TAG_BUMP_FAULT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// `rename-fails-at:K`: the K-th rename (0-based) fails, so a restore must follow.
    pub rename_fails_at: Option<usize>,
    /// `wait-for:PATH`: after the plan, before the first check, create `PATH.waiting` and
    /// wait (at most 60 s) until `PATH` exists, so a test can change the tree in between.
    pub wait_for: Option<PathBuf>,
}

impl Fault {
    /// Read a fault from its variable's value; anything else is no fault.
    pub fn parse(value: Option<&str>) -> Fault {
        let mut f = Fault::default();
        if let Some(v) = value {
            if let Some(k) = v.strip_prefix("rename-fails-at:") {
                f.rename_fails_at = k.parse().ok();
            } else if let Some(p) = v.strip_prefix("wait-for:") {
                f.wait_for = Some(PathBuf::from(p));
            }
        }
        f
    }

    fn pause(&self) {
        let Some(go) = &self.wait_for else { return };
        let mut waiting = go.clone().into_os_string();
        waiting.push(".waiting");
        let _ = std::fs::write(&waiting, b"");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !go.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn failed(file: &str, e: impl ToString, restored: &str) -> CoreError {
    CoreError::WriteFailed {
        file: file.to_string(),
        message: e.to_string(),
        restored: restored.to_string(),
    }
}

fn changed(file: &str, detail: &str) -> CoreError {
    CoreError::FileChanged {
        file: file.to_string(),
        detail: detail.to_string(),
    }
}

/// Split `rel` into its directories and its file name; refuse anything but a plain
/// relative path, and any path into a `.git` directory.
fn split(rel: &str) -> Result<(Vec<&str>, &str), CoreError> {
    let refuse = |why: &str| CoreError::PathRefused {
        path: rel.to_string(),
        why: why.to_string(),
    };
    let parts: Vec<&str> = rel.split('/').collect();
    for p in &parts {
        match *p {
            "" | "." | ".." => return Err(refuse("not a plain relative path")),
            ".git" => return Err(refuse("inside a .git directory")),
            _ if p.contains('\0') => return Err(refuse("holds a NUL byte")),
            _ => {}
        }
    }
    let (name, dirs) = parts.split_last().expect("split yields one part at least");
    Ok((dirs.to_vec(), name))
}

/// A process-unique temp file name.
fn temp_name(attempt: u32) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{TEMP_PREFIX}{}-{n}-{:08x}",
        std::process::id(),
        nanos ^ attempt
    )
}

/// One staged temp file: its directory's key, its name, its open file.
struct Staged {
    dir: String,
    name: String,
    file: File,
}

impl Tree {
    /// Hold `root` open (the root itself may be reached through a symlink: it is the
    /// caller's choice, not the tree's content).
    pub fn open(root: &Path) -> Result<Tree, CoreError> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| CoreError::Write {
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        Ok(Tree {
            fd,
            shown: root.to_path_buf(),
        })
    }

    /// The root as it was given.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Open the directory `dirs` below the root, one component at a time, never following
    /// a symbolic link.
    fn open_dir(&self, rel: &str, dirs: &[&str]) -> Result<OwnedFd, CoreError> {
        let mut fd = rustix::io::dup(&self.fd).map_err(|e| failed(rel, e, NOTHING))?;
        for d in dirs {
            fd = rustix::fs::openat(&fd, *d, dir_flags(), Mode::empty()).map_err(|e| match e {
                Errno::LOOP | Errno::NOTDIR => changed(
                    rel,
                    &format!("its directory {d:?} is now a symbolic link or not a directory"),
                ),
                Errno::NOENT => changed(rel, &format!("its directory {d:?} no longer exists")),
                e => failed(rel, e, NOTHING),
            })?;
        }
        Ok(fd)
    }

    /// Read a regular file below the root (a symlink anywhere on the way is refused).
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, CoreError> {
        let (dirs, name) = split(rel)?;
        let dir = self.open_dir(rel, &dirs)?;
        read_in(&dir, rel, name)
    }

    /// Replace every file of `files`, or none (the four steps of the module docs), with
    /// the test `fault` injected (none in normal runs).
    pub fn replace_all(&self, files: &[Replacement], fault: &Fault) -> Result<(), CoreError> {
        if files.is_empty() {
            return Ok(());
        }
        fault.pause();
        // Step 1: open each directory once, check each file.
        let mut dirs: BTreeMap<String, OwnedFd> = BTreeMap::new();
        let mut names = Vec::with_capacity(files.len());
        let mut modes = Vec::with_capacity(files.len());
        for r in files {
            let (parts, name) = split(r.rel)?;
            let key = parts.join("/");
            if !dirs.contains_key(&key) {
                let fd = self.open_dir(r.rel, &parts)?;
                dirs.insert(key.clone(), fd);
            }
            modes.push(preflight(&dirs[&key], r, name)?);
            names.push((key, name));
        }
        // Step 2: stage every new content.
        let mut staged: Vec<Staged> = Vec::with_capacity(files.len());
        let cleanup = |staged: &[Staged], dirs: &BTreeMap<String, OwnedFd>| {
            for s in staged {
                let _ = rustix::fs::unlinkat(&dirs[&s.dir], s.name.as_str(), AtFlags::empty());
            }
        };
        for ((r, (key, _)), mode) in files.iter().zip(&names).zip(&modes) {
            match stage(&dirs[key], key, r.rel, r.new, *mode) {
                Ok(s) => staged.push(s),
                Err(e) => {
                    cleanup(&staged, &dirs);
                    return Err(e);
                }
            }
        }
        // Step 3: make the data durable.
        if let Err((k, e)) = sync_all(&staged) {
            cleanup(&staged, &dirs);
            return Err(failed(files[k].rel, e, NOTHING));
        }
        // Step 4: rename, restoring on a failure.
        for (k, (s, (r, (key, name)))) in staged.iter().zip(files.iter().zip(&names)).enumerate() {
            let renamed = if fault.rename_fails_at == Some(k) {
                Err(std::io::Error::other("injected fault"))
            } else {
                let d = &dirs[key];
                rename(d, &s.name, name, r.create).map_err(std::io::Error::from)
            };
            if let Err(e) = renamed {
                cleanup(&staged[k..], &dirs);
                let left = restore(&dirs, &files[..k], &names[..k], &modes[..k]);
                return Err(failed(r.rel, e, &restore_note(k, &left)));
            }
        }
        for (key, fd) in &dirs {
            if let Err(e) = rustix::fs::fsync(fd) {
                let file = files
                    .iter()
                    .zip(&names)
                    .find(|(_, (k, _))| k == key)
                    .map_or(files[0].rel, |(r, _)| r.rel);
                return Err(failed(
                    file,
                    e,
                    "every file holds its new content, but the renames may not be durable yet",
                ));
            }
        }
        Ok(())
    }
}

/// Rename `tmp` over `name` in `dir`; a new file never replaces one that appeared meanwhile
/// (`RENAME_NOREPLACE` where the system has it).
fn rename(dir: &OwnedFd, tmp: &str, name: &str, create: bool) -> Result<(), Errno> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if create {
        return rustix::fs::renameat_with(dir, tmp, dir, name, rustix::fs::RenameFlags::NOREPLACE);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    if create && rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
        return Err(Errno::EXIST);
    }
    rustix::fs::renameat(dir, tmp, dir, name)
}

/// Read `name` in `dir` as a regular file, not following a symlink.
fn read_in(dir: &OwnedFd, rel: &str, name: &str) -> Result<Vec<u8>, CoreError> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP => changed(rel, "is now a symbolic link"),
        Errno::NOENT => changed(rel, "no longer exists"),
        e => failed(rel, e, NOTHING),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| failed(rel, e, NOTHING))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(changed(rel, "is not a regular file"));
    }
    let mut bytes = Vec::new();
    File::from(fd)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(rel, e, NOTHING))?;
    Ok(bytes)
}

/// Step 1 for one file: a regular file, replaceable, unchanged since it was read. Returns
/// its permission bits.
fn preflight(dir: &OwnedFd, r: &Replacement, name: &str) -> Result<u32, CoreError> {
    if r.create {
        return match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(0o644),
            Ok(_) => Err(changed(r.rel, "was created by someone else during the run")),
            Err(e) => Err(failed(r.rel, e, NOTHING)),
        };
    }
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| match e {
        Errno::NOENT => changed(r.rel, "no longer exists"),
        e => failed(r.rel, e, NOTHING),
    })?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => return Err(changed(r.rel, "is now a symbolic link")),
        _ => return Err(changed(r.rel, "is not a regular file")),
    }
    let mode = st.st_mode & 0o7777;
    // The mode bits, not access(2): a read-only file is a statement by its owner, and
    // root would be allowed to write it anyway.
    if mode & 0o222 == 0 {
        return Err(CoreError::FileReadOnly {
            file: r.rel.to_string(),
            mode,
        });
    }
    if read_in(dir, r.rel, name)? != r.old {
        return Err(changed(r.rel, "changed by someone else during the run"));
    }
    Ok(mode)
}

/// Step 2 for one file: a new temp file in `dir` holding `bytes` with `mode`.
fn stage(
    dir: &OwnedFd,
    key: &str,
    rel: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<Staged, CoreError> {
    let mut attempt = 0;
    let (name, fd) = loop {
        let name = temp_name(attempt);
        match rustix::fs::openat(
            dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => break (name, fd),
            Err(Errno::EXIST) if attempt < 16 => attempt += 1,
            Err(e) => return Err(failed(rel, e, NOTHING)),
        }
    };
    let unlink = |e: std::io::Error| {
        let _ = rustix::fs::unlinkat(dir, name.as_str(), AtFlags::empty());
        failed(rel, e, NOTHING)
    };
    let mut file = File::from(fd);
    file.write_all(bytes).map_err(unlink)?;
    rustix::fs::fchmod(file.as_fd(), Mode::from_raw_mode(mode)).map_err(|e| unlink(e.into()))?;
    Ok(Staged {
        dir: key.to_string(),
        name,
        file,
    })
}

/// Step 3: `fsync` every staged file; up to 32 threads share a batch whatever the number
/// of cores: each fsync waits on the device, not on a core, and the file system commits
/// the waiting ones together (a digest-pin rewrite of 200 files on the 2-core machine:
/// 296 ms with 2 threads, 192 ms with 8, a few ms less with 32). The index and error of a
/// failure.
fn sync_all(staged: &[Staged]) -> Result<(), (usize, std::io::Error)> {
    const PER_THREAD: usize = 4;
    const THREADS: usize = 32;
    let threads = THREADS.min(staged.len().div_ceil(PER_THREAD));
    if threads <= 1 {
        for (k, s) in staged.iter().enumerate() {
            s.file.sync_all().map_err(|e| (k, e))?;
        }
        return Ok(());
    }
    let chunk = staged.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = staged
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    for (i, s) in part.iter().enumerate() {
                        s.file.sync_all().map_err(|e| (c * chunk + i, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err((0, std::io::Error::other("a sync thread panicked"))));
            if first.is_ok() {
                first = r;
            }
        }
        first
    })
}

/// Put back the original bytes of the files already replaced, in reverse order; the files
/// that could not be.
fn restore(
    dirs: &BTreeMap<String, OwnedFd>,
    done: &[Replacement],
    names: &[(String, &str)],
    modes: &[u32],
) -> Vec<String> {
    let mut left = Vec::new();
    for ((r, (key, name)), mode) in done.iter().zip(names).zip(modes).rev() {
        let d = &dirs[key];
        if r.create {
            if rustix::fs::unlinkat(d, *name, AtFlags::empty()).is_err() {
                left.push(r.rel.to_string());
            }
            continue;
        }
        let back = stage(d, key, r.rel, r.old, *mode).and_then(|s| {
            s.file
                .sync_all()
                .and_then(|()| {
                    rustix::fs::renameat(d, s.name.as_str(), d, *name).map_err(Into::into)
                })
                .map_err(|e| {
                    let _ = rustix::fs::unlinkat(d, s.name.as_str(), AtFlags::empty());
                    failed(r.rel, e, NOTHING)
                })
        });
        if back.is_err() {
            left.push(r.rel.to_string());
        }
    }
    for fd in dirs.values() {
        let _ = rustix::fs::fsync(fd);
    }
    left.reverse();
    left
}

fn restore_note(done: usize, left: &[String]) -> String {
    if !left.is_empty() {
        format!(
            "could not restore {} (they hold the new content)",
            left.join(", ")
        )
    } else if done == 0 {
        NOTHING.into()
    } else {
        format!("the {done} file(s) already replaced were restored; nothing changed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let tree = Tree::open(dir.path()).unwrap();
        (dir, tree)
    }

    fn rep<'a>(rel: &'a str, old: &'a str, new: &'a str) -> Replacement<'a> {
        Replacement {
            rel,
            old: old.as_bytes(),
            new: new.as_bytes(),
            create: false,
        }
    }

    #[test]
    fn a_new_file_is_created_never_over_one_that_appeared() {
        let (dir, tree) = tree_with(&[("a", "1")]);
        let new = Replacement {
            rel: "d/.argocd-source-web.yaml",
            old: b"",
            new: b"kustomize: {}\n",
            create: true,
        };
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let batch = [rep("a", "1", "A"), new];
        // a failed rename after the create removes the new file again
        let e = tree
            .replace_all(&batch, &Fault::parse(Some("rename-fails-at:1")))
            .unwrap_err();
        assert!(e.to_string().contains("restored"), "{e}");
        tree.replace_all(
            &[new, rep("a", "1", "A")],
            &Fault::parse(Some("rename-fails-at:1")),
        )
        .unwrap_err();
        assert!(!dir.path().join("d/.argocd-source-web.yaml").exists());
        tree.replace_all(&[new], &Fault::default()).unwrap();
        let p = dir.path().join("d/.argocd-source-web.yaml");
        assert_eq!(std::fs::read(&p).unwrap(), b"kustomize: {}\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let e = tree.replace_all(&[new], &Fault::default()).unwrap_err();
        assert!(e.to_string().contains("was created by someone else"), "{e}");
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in walkdir(dir) {
            out.push(e);
        }
        out.sort();
        out
    }

    fn walkdir(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.extend(
                    walkdir(&e.path())
                        .into_iter()
                        .map(|n| format!("{name}/{n}")),
                );
            } else {
                out.push(name);
            }
        }
        out
    }

    #[test]
    fn a_batch_replaces_every_file_and_keeps_modes() {
        let (dir, tree) = tree_with(&[("a.yaml", "one"), ("d/e/b.yaml", "two")]);
        let b = dir.path().join("d/e/b.yaml");
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o640)).unwrap();
        let batch = [rep("a.yaml", "one", "ONE"), rep("d/e/b.yaml", "two", "TWO")];
        tree.replace_all(&batch, &Fault::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
            "ONE"
        );
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "TWO");
        assert_eq!(
            std::fs::metadata(&b).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(names(dir.path()), ["a.yaml", "d/e/b.yaml"]);
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_is_not_followed() {
        let (dir, tree) = tree_with(&[("d/x.yaml", "old")]);
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.yaml"), "old").unwrap();
        std::fs::remove_dir_all(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("d")).unwrap();
        let e = tree
            .replace_all(&[rep("d/x.yaml", "old", "new")], &Fault::default())
            .unwrap_err();
        assert!(matches!(e, CoreError::FileChanged { .. }), "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(
            std::fs::read_to_string(outside.path().join("x.yaml")).unwrap(),
            "old"
        );
        assert_eq!(walkdir(outside.path()), ["x.yaml"]);
    }

    #[test]
    fn a_target_swapped_for_a_symlink_is_refused_and_its_target_untouched() {
        let (dir, tree) = tree_with(&[("x.yaml", "old")]);
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "old").unwrap();
        std::fs::remove_file(dir.path().join("x.yaml")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("x.yaml")).unwrap();
        let e = tree
            .replace_all(&[rep("x.yaml", "old", "new")], &Fault::default())
            .unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "old");
        assert!(tree.read("x.yaml").is_err());
    }

    #[test]
    fn paths_out_of_the_tree_or_into_git_are_refused() {
        let (_dir, tree) = tree_with(&[("a", "x")]);
        for rel in [
            "../a",
            "/etc/passwd",
            ".git/HEAD",
            "d/.git/config",
            "a//b",
            "./a",
            "",
        ] {
            let e = tree
                .replace_all(&[rep(rel, "x", "y")], &Fault::default())
                .unwrap_err();
            assert!(matches!(e, CoreError::PathRefused { .. }), "{rel}: {e}");
        }
    }

    #[test]
    fn a_failed_check_writes_nothing_and_leaves_no_temp_file() {
        let (dir, tree) = tree_with(&[("a", "one"), ("b", "two")]);
        let e = tree
            .replace_all(
                &[rep("a", "one", "1"), rep("b", "not what is there", "2")],
                &Fault::default(),
            )
            .unwrap_err();
        assert!(matches!(e, CoreError::FileChanged { .. }), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a")).unwrap(),
            "one"
        );
        std::fs::set_permissions(dir.path().join("b"), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        let e = tree
            .replace_all(&[rep("b", "two", "2")], &Fault::default())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "b: read-only (mode 444); nothing was written"
        );
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_failed_rename_restores_the_files_already_replaced() {
        let (dir, tree) = tree_with(&[("a", "1"), ("s/b", "2"), ("c", "3")]);
        let batch = [rep("a", "1", "A"), rep("s/b", "2", "B"), rep("c", "3", "C")];
        let e = tree
            .replace_all(&batch, &Fault::parse(Some("rename-fails-at:2")))
            .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("the 2 file(s) already replaced were restored; nothing changed"),
            "{e}"
        );
        for (rel, text) in [("a", "1"), ("s/b", "2"), ("c", "3")] {
            assert_eq!(std::fs::read_to_string(dir.path().join(rel)).unwrap(), text);
        }
        assert_eq!(names(dir.path()), ["a", "c", "s/b"]);
    }

    #[test]
    fn a_large_batch_syncs_on_several_threads_and_lands_whole() {
        let files: Vec<(String, String)> = (0..100)
            .map(|i| (format!("d{}/f{i}.yaml", i % 7), format!("old {i}")))
            .collect();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let (dir, tree) = tree_with(&refs);
        let new: Vec<String> = (0..100).map(|i| format!("new {i}")).collect();
        let batch: Vec<Replacement> = files
            .iter()
            .zip(&new)
            .map(|((rel, old), new)| rep(rel, old, new))
            .collect();
        tree.replace_all(&batch, &Fault::default()).unwrap();
        for ((rel, _), new) in files.iter().zip(&new) {
            assert_eq!(&std::fs::read_to_string(dir.path().join(rel)).unwrap(), new);
        }
        assert_eq!(names(dir.path()).len(), 100);
    }
}
