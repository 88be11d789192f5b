//! Which files a run reads, and reading them.
//!
//! Directories are walked with ripgrep's parallel walker, and every file git tracks is read whatever
//! ignore files say: a committed `.ignore` or `.gitignore` naming `deploy/` must not hide
//! `deploy/prod.yaml` from a rewrite, a drift check or the scan `prune-plan` protects
//! digests with. For untracked files `.gitignore` holds (as in git: it only ever applies to
//! untracked files); ripgrep's `.ignore` files only with `--respect-ignore`, which also lets
//! both hide tracked files (the tracked list comes from the repository's index, read with
//! libgit2, which runs nothing). Hidden directories such as `.github/` are read, `.git/` is not, nor is a directory
//! holding a `.git` of its own (another repository checked out inside this one, such as a
//! tool's source in a CI workspace: reported as skipped). Symbolic links are never
//! followed in a walk (they are reported); a path named on the command line is resolved,
//! must stay inside the root, and is always read, ignored or not. Binary files (a NUL
//! byte) and files over [`MAX_FILE_BYTES`] are skipped and reported, never edited.

use rollout_core::CoreError;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Value, json};

use crate::error::PinError;

/// Which files to read.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Files or directories to read (default: the root). Named files are always read.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Paths must stay inside this directory; reported paths are relative to it.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Only walked files whose path (relative to the root) matches a glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip walked files whose path matches a glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Also skip what .ignore and .gitignore name among the files git tracks.
    #[arg(long)]
    pub respect_ignore: bool,
}

impl SelectArgs {
    /// The selection these flags make: the root resolved, the globs compiled.
    pub fn selection(&self) -> Result<Selection, PinError> {
        let root = root(&self.root)?;
        let paths = if self.paths.is_empty() {
            vec![root.clone()]
        } else {
            self.paths.clone()
        };
        Ok(Selection {
            root,
            paths,
            include: globs("--include", &self.include)?,
            exclude: globs("--exclude", &self.exclude)?,
            respect_ignore: self.respect_ignore,
        })
    }
}

/// Largest file digest-pin reads (16 MiB); larger ones are skipped and reported.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// Relative to the root, with `/` separators.
    pub rel: String,
    /// The resolved path (the target of a named symlink).
    pub abs: PathBuf,
}

/// A file that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// Relative to the root.
    pub file: String,
    /// `binary`, `too_large`, `symlink`, `not_a_file`, `temp_file` or `nested_repository`
    /// (a directory holding its own `.git`: another repository, not walked).
    pub reason: &'static str,
}

impl Skipped {
    /// As the report prints it.
    pub fn to_value(&self) -> Value {
        json!({"file": self.file, "reason": self.reason})
    }
}

/// What to walk.
#[derive(Debug)]
pub struct Selection {
    /// The canonical root.
    pub root: PathBuf,
    /// Paths given on the command line (the root when none).
    pub paths: Vec<PathBuf>,
    /// `--include` globs (relative paths must match one, when given).
    pub include: Option<GlobSet>,
    /// `--exclude` globs.
    pub exclude: Option<GlobSet>,
    /// `--respect-ignore`: ignore files may hide tracked files too, and `.ignore` counts.
    pub respect_ignore: bool,
}

/// Compile `--include`/`--exclude` globs.
pub fn globs(flag: &'static str, patterns: &[String]) -> Result<Option<GlobSet>, PinError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| {
            PinError::from(CoreError::BadValue {
                flag,
                value: p.clone(),
                message: e.kind().to_string(),
            })
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| {
        PinError::from(CoreError::BadValue {
            flag,
            value: patterns.join(","),
            message: e.to_string(),
        })
    })
}

/// Resolve the root (it must be a directory).
pub fn root(dir: &Path) -> Result<PathBuf, PinError> {
    let canon = std::fs::canonicalize(dir).map_err(|_| PinError::PathMissing {
        path: dir.display().to_string(),
    })?;
    if !canon.is_dir() {
        return Err(PinError::from(CoreError::bad_value(
            "--root",
            dir.display().to_string(),
            "not a directory",
        )));
    }
    Ok(canon)
}

fn rel(root: &Path, p: &Path) -> String {
    // A walked or canonical path below the root is clean on Unix: its bytes after the
    // root's are the answer (one string, not one per part; no component parsing).
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let below = p
            .as_os_str()
            .as_bytes()
            .strip_prefix(root.as_os_str().as_bytes())
            .and_then(|r| r.strip_prefix(b"/"));
        if let Some(text) = below.and_then(|b| std::str::from_utf8(b).ok())
            && !text.is_empty()
            && !text.starts_with('/')
            && !text.ends_with('/')
            && !text.contains("//")
            && !text.split('/').any(|c| c == "." || c == "..")
        {
            return text.to_string();
        }
    }
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// List the files to read, sorted, without duplicates, and the entries skipped on the way.
pub fn collect(sel: &Selection) -> Result<(Vec<Candidate>, Vec<Skipped>), PinError> {
    let (files, skipped) = collect_map(sel, |_, _| Ok(()))?;
    Ok((files.into_iter().map(|(c, ())| c).collect(), skipped))
}

/// The result of `work` on one file, as the walk gathers them.
type Worked<T> = (Candidate, Result<T, PinError>);

/// Every file with what `work` made of it, and the entries skipped.
pub type Walked<T> = (Vec<(Candidate, T)>, Vec<Skipped>);

/// Walk the selection and run `work` on each file as the walk finds it, on every core, so
/// reading overlaps walking (each thread with its own read buffer): every file with its
/// result, sorted by path without duplicates, and the entries skipped, sorted. A walk error
/// is reported first; else the first error of `work` in path order.
pub fn collect_map<T: Send>(
    sel: &Selection,
    work: impl Fn(&Candidate, &mut FileBuf) -> Result<T, PinError> + Sync,
) -> Result<Walked<T>, PinError> {
    let mut worked: Vec<Worked<T>> = Vec::new();
    let mut named = Vec::new();
    let mut skipped = Vec::new();
    for p in &sel.paths {
        let canon = std::fs::canonicalize(p).map_err(|_| PinError::PathMissing {
            path: p.display().to_string(),
        })?;
        rollout_core::contain::ensure_inside(&canon, &sel.root, &p.display().to_string())?;
        let meta = std::fs::metadata(&canon).map_err(|source| PinError::Unreadable {
            file: p.display().to_string(),
            source,
        })?;
        if meta.is_file() {
            named.push(Candidate {
                rel: rel(&sel.root, &canon),
                abs: canon,
            });
        } else if meta.is_dir() {
            walk(sel, &canon, &work, &mut worked, &mut skipped)?;
        } else {
            skipped.push(Skipped {
                file: rel(&sel.root, &canon),
                reason: "not_a_file",
            });
        }
    }
    let results = par_map(&named, &work);
    worked.extend(named.into_iter().zip(results));
    skipped.sort();
    skipped.dedup();
    let mut files = Vec::with_capacity(worked.len());
    for (c, r) in in_path_order(worked) {
        if files
            .last()
            .is_some_and(|(last, _): &(Candidate, T)| *last == c)
        {
            continue;
        }
        files.push((c, r?));
    }
    Ok((files, skipped))
}

/// The results sorted by path, duplicates adjacent. The order is found on indices: a
/// result can be a few hundred bytes (a file's plan), and a sort would move each one many
/// times.
fn in_path_order<T>(worked: Vec<Worked<T>>) -> impl Iterator<Item = Worked<T>> {
    let mut order: Vec<usize> = (0..worked.len()).collect();
    order.sort_unstable_by(|&a, &b| worked[a].0.cmp(&worked[b].0));
    let mut slots: Vec<Option<Worked<T>>> = worked.into_iter().map(Some).collect();
    order.into_iter().filter_map(move |i| slots[i].take())
}

/// The directory walker: hidden files read, `.git` never, `.gitignore` for untracked
/// files, `.ignore` only with `--respect-ignore`, links not followed; a nested repository
/// is not entered and is noted in `nested`. It walks on every core (ripgrep's parallel
/// walker); the caller sorts what it finds, so the order of the visits does not matter.
fn walker(
    sel: &Selection,
    dir: &Path,
    nested: &std::sync::Arc<Mutex<Vec<PathBuf>>>,
) -> ignore::WalkParallel {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    ignore::WalkBuilder::new(dir)
        .hidden(false)
        .parents(true)
        .ignore(sel.respect_ignore)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry({
            let nested = std::sync::Arc::clone(nested);
            move |e| {
                if e.file_name() == ".git" {
                    return false;
                }
                // Another repository checked out inside this one (a tool's source, a
                // clone a step made): its files are not this tree's, and a commit of this
                // repository could not carry their changes.
                let is_nested = e.depth() > 0
                    && e.file_type().is_some_and(|t| t.is_dir())
                    && e.path().join(".git").symlink_metadata().is_ok();
                if is_nested {
                    nested
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(e.path().to_path_buf());
                }
                !is_nested
            }
        })
        .build_parallel()
}

/// What one walked entry is: a file to read, one to report as skipped, or neither (a
/// directory, a file the globs leave out).
enum Visit {
    Read(Candidate),
    Skip(Skipped),
    Pass,
}

/// Judge one entry of the walk.
fn visit(sel: &Selection, entry: &ignore::DirEntry) -> Visit {
    let Some(ft) = entry.file_type() else {
        return Visit::Pass;
    };
    if ft.is_dir() {
        return Visit::Pass;
    }
    let file = rel(&sel.root, entry.path());
    let reason = if ft.is_symlink() {
        "symlink"
    } else if !ft.is_file() {
        "not_a_file"
    } else if entry
        .file_name()
        .to_string_lossy()
        .starts_with(rollout_core::fsx::TEMP_PREFIX)
    {
        // A temp file a killed run left behind: never a pin to count or rewrite.
        "temp_file"
    } else if sel.include.as_ref().is_some_and(|g| !g.is_match(&file))
        || sel.exclude.as_ref().is_some_and(|g| g.is_match(&file))
    {
        return Visit::Pass;
    } else {
        return Visit::Read(Candidate {
            rel: file,
            abs: entry.path().to_path_buf(),
        });
    };
    Visit::Skip(Skipped { file, reason })
}

/// A walk error as the run reports it: the file it is about, and why.
fn walk_error(sel: &Selection, dir: &Path, e: &ignore::Error) -> PinError {
    let file = match e {
        ignore::Error::WithPath { path, .. } => rel(&sel.root, path),
        _ => dir.display().to_string(),
    };
    PinError::Unreadable {
        file,
        source: std::io::Error::other(
            e.io_error()
                .map(|io| io.to_string())
                .unwrap_or_else(|| e.to_string()),
        ),
    }
}

/// What the walk threads found; merged (and later sorted) by [`walk`].
struct Found<T> {
    files: Vec<Worked<T>>,
    skipped: Vec<Skipped>,
    /// Walk errors with the file each is about: the first by path is reported, so a run
    /// says the same whichever thread met which error first.
    errors: Vec<(String, PinError)>,
}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Found {
            files: Vec::new(),
            skipped: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// One walk thread's visitor: it runs the work on each file it meets, keeps its findings
/// and hands them over when dropped (its thread is done), so the threads do not contend
/// for a lock per entry.
struct Collector<'s, T, W> {
    sel: &'s Selection,
    dir: &'s Path,
    work: &'s W,
    buf: FileBuf,
    mine: Found<T>,
    all: &'s Mutex<Found<T>>,
}

impl<T, W> ignore::ParallelVisitor for Collector<'_, T, W>
where
    T: Send,
    W: Fn(&Candidate, &mut FileBuf) -> Result<T, PinError> + Sync,
{
    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
        match entry {
            Ok(e) => match visit(self.sel, &e) {
                Visit::Read(c) => {
                    let r = (self.work)(&c, &mut self.buf);
                    self.mine.files.push((c, r));
                }
                Visit::Skip(s) => self.mine.skipped.push(s),
                Visit::Pass => {}
            },
            Err(e) => {
                let err = walk_error(self.sel, self.dir, &e);
                let file = match &err {
                    PinError::Unreadable { file, .. } => file.clone(),
                    _ => String::new(),
                };
                self.mine.errors.push((file, err));
                return ignore::WalkState::Quit;
            }
        }
        ignore::WalkState::Continue
    }
}

impl<T, W> Drop for Collector<'_, T, W> {
    fn drop(&mut self) {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        all.files.append(&mut self.mine.files);
        all.skipped.append(&mut self.mine.skipped);
        all.errors.append(&mut self.mine.errors);
    }
}

/// Makes one [`Collector`] per walk thread.
struct Collectors<'s, T, W> {
    sel: &'s Selection,
    dir: &'s Path,
    work: &'s W,
    all: &'s Mutex<Found<T>>,
}

impl<'s, T, W> ignore::ParallelVisitorBuilder<'s> for Collectors<'s, T, W>
where
    T: Send,
    W: Fn(&Candidate, &mut FileBuf) -> Result<T, PinError> + Sync,
{
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Collector {
            sel: self.sel,
            dir: self.dir,
            work: self.work,
            buf: FileBuf::default(),
            mine: Found::default(),
            all: self.all,
        })
    }
}

/// Walk `dir`, running `work` on each file found, then on the files git tracks that the
/// walk's ignore rules hid.
fn walk<T, W>(
    sel: &Selection,
    dir: &Path,
    work: &W,
    files: &mut Vec<Worked<T>>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), PinError>
where
    T: Send,
    W: Fn(&Candidate, &mut FileBuf) -> Result<T, PinError> + Sync,
{
    let nested = std::sync::Arc::new(Mutex::new(Vec::<PathBuf>::new()));
    let all = Mutex::new(Found::default());
    walker(sel, dir, &nested).visit(&mut Collectors {
        sel,
        dir,
        work,
        all: &all,
    });
    let mut found = all.into_inner().unwrap_or_else(|p| p.into_inner());
    if !found.errors.is_empty() {
        found.errors.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(found.errors.swap_remove(0).1);
    }
    let nested_dirs: Vec<PathBuf> = nested.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if !sel.respect_ignore {
        let hidden = tracked_not_walked(sel, dir, &nested_dirs, &found.files);
        let results = par_map(&hidden, work);
        found.files.extend(hidden.into_iter().zip(results));
    }
    files.append(&mut found.files);
    skipped.append(&mut found.skipped);
    for p in nested_dirs {
        skipped.push(Skipped {
            file: rel(&sel.root, &p),
            reason: "nested_repository",
        });
    }
    Ok(())
}

/// The files git tracks below `dir` that the walk did not list (ignore files do not hide a
/// tracked file), outside nested repositories, filtered like the walk's.
fn tracked_not_walked<T>(
    sel: &Selection,
    dir: &Path,
    nested_dirs: &[PathBuf],
    walked: &[Worked<T>],
) -> Vec<Candidate> {
    let mut files = Vec::new();
    let tracked = tracked_files(dir);
    if tracked.is_empty() {
        return files;
    }
    let walked: std::collections::HashSet<&Path> =
        walked.iter().map(|(c, _)| c.abs.as_path()).collect();
    for abs in tracked {
        if walked.contains(abs.as_path()) || nested_dirs.iter().any(|n| abs.starts_with(n)) {
            continue;
        }
        // what git tracks as a regular file and the work tree still holds as one
        if !std::fs::symlink_metadata(&abs).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let r = rel(&sel.root, &abs);
        let name = abs.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(rollout_core::fsx::TEMP_PREFIX)
            || sel.include.as_ref().is_some_and(|g| !g.is_match(&r))
            || sel.exclude.as_ref().is_some_and(|g| g.is_match(&r))
        {
            continue;
        }
        files.push(Candidate { rel: r, abs });
    }
    files
}

/// The regular files (not links, not submodules) the index of the repository holding `dir`
/// tracks below `dir`, as absolute paths. Empty outside a repository. Only the index is
/// read: no configuration, hook or filter of the repository runs.
#[allow(unsafe_code)] // libgit2 global option (owner validation); see SAFETY
fn tracked_files(dir: &Path) -> Vec<PathBuf> {
    // A checkout made by another user (a CI container) is read all the same: reading an
    // index executes nothing, which is what the ownership check guards against.
    // SAFETY: set once, before any repository is opened; digest-pin opens no other.
    unsafe {
        let _ = git2::opts::set_verify_owner_validation(false);
    }
    let Ok(repo) = git2::Repository::discover(dir) else {
        return Vec::new();
    };
    let (Some(workdir), Ok(index)) = (repo.workdir(), repo.index()) else {
        return Vec::new();
    };
    let Ok(workdir) = std::fs::canonicalize(workdir) else {
        return Vec::new();
    };
    index
        .iter()
        .filter(|e| matches!(e.mode, 0o100644 | 0o100755))
        .filter_map(|e| std::str::from_utf8(&e.path).ok().map(|p| workdir.join(p)))
        .filter(|abs| abs.starts_with(dir))
        .collect()
}

/// A read buffer reused across files: its memory is zeroed once, when it grows, never per
/// file, and it dereferences to the last file read.
#[derive(Debug, Default)]
pub struct FileBuf {
    data: Vec<u8>,
    len: usize,
}

impl std::ops::Deref for FileBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

/// Read one candidate into `buf` (one per thread: a scan of a large tree allocates once
/// per thread). `None` when read, or why the file was skipped (binary, too large).
///
/// A file is opened and read until its end, with no `fstat` for its size: a small file is
/// two reads, and a syscall fewer per file is what a scan of a large tree spends its time
/// on. A file larger than [`MAX_FILE_BYTES`] is read only up to one chunk past the bound.
pub fn read_into(c: &Candidate, buf: &mut FileBuf) -> Result<Option<&'static str>, PinError> {
    use std::io::Read as _;
    let unreadable = |source| PinError::Unreadable {
        file: c.rel.clone(),
        source,
    };
    let mut file = std::fs::File::open(&c.abs).map_err(unreadable)?;
    buf.len = 0;
    loop {
        if buf.data.len() - buf.len < READ_CHUNK / 4 {
            let grown = buf.len + READ_CHUNK.max(buf.len);
            buf.data.resize(grown, 0);
        }
        match file.read(&mut buf.data[buf.len..]) {
            Ok(0) => break,
            Ok(n) => buf.len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(e)),
        }
        if buf.len as u64 > MAX_FILE_BYTES {
            return Ok(Some("too_large"));
        }
    }
    if memchr::memchr(0, buf).is_some() {
        return Ok(Some("binary"));
    }
    Ok(None)
}

/// The room a read buffer starts with: most manifests fit in one read.
const READ_CHUNK: usize = 256 * 1024;

/// Run `work` over every candidate on all cores, each thread with its own read buffer;
/// the results come back in candidate order.
pub fn par_map<T: Send>(
    files: &[Candidate],
    work: impl Fn(&Candidate, &mut FileBuf) -> Result<T, PinError> + Sync,
) -> Vec<Result<T, PinError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<T, PinError>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = FileBuf::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(c) = files.get(i) else { break };
                    let r = work(c, &mut buf);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        // A worker that panicked has already re-panicked out of the scope, so every slot
        // holds a result here.
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every slot is filled")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(dir: &Path, name: &str, bytes: &[u8]) -> Candidate {
        let abs = dir.join(name);
        std::fs::write(&abs, bytes).unwrap();
        Candidate {
            rel: name.to_string(),
            abs,
        }
    }

    #[test]
    fn a_reused_buffer_holds_only_the_last_file() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![b'a'; 3 * READ_CHUNK + 17];
        let mut buf = FileBuf::default();
        assert_eq!(
            read_into(&candidate(dir.path(), "big", &big), &mut buf).unwrap(),
            None
        );
        assert_eq!(&buf[..], &big[..]);
        let small = candidate(dir.path(), "small", b"image: x@sha256:1\n");
        assert_eq!(read_into(&small, &mut buf).unwrap(), None);
        assert_eq!(&buf[..], b"image: x@sha256:1\n");
        let empty = candidate(dir.path(), "empty", b"");
        assert_eq!(read_into(&empty, &mut buf).unwrap(), None);
        assert!(buf.is_empty());
        let binary = candidate(dir.path(), "bin", b"a\0b");
        assert_eq!(read_into(&binary, &mut buf).unwrap(), Some("binary"));
    }

    #[test]
    fn a_relative_path_is_the_same_by_bytes_or_by_parts() {
        let root = Path::new("/w/repo");
        for (p, want) in [
            ("/w/repo/a/b.yaml", "a/b.yaml"),
            ("/w/repo/.github/workflows/x.yml", ".github/workflows/x.yml"),
            ("/w/repo/a/./b", "a/b"),
            ("/w/repo//a", "a"),
            ("/w/repo", ""),
            ("/w/repository/a", "/w/repository/a"),
            ("/elsewhere/a", "/elsewhere/a"),
        ] {
            let by_parts = Path::new(p)
                .strip_prefix(root)
                .unwrap_or(Path::new(p))
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            assert_eq!(rel(root, Path::new(p)), by_parts, "{p}");
            if !want.starts_with('/') {
                assert_eq!(rel(root, Path::new(p)), want, "{p}");
            }
        }
    }

    #[test]
    fn files_are_worked_on_as_walked_sorted_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for (name, text) in [("b/two.yaml", "2"), ("a/one.yaml", "1"), ("c.txt", "3")] {
            let abs = root.join(name);
            std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
            std::fs::write(abs, text).unwrap();
        }
        let sel = Selection {
            root: root.clone(),
            // a file inside the walked root, named again: read once
            paths: vec![root.clone(), root.join("b/two.yaml")],
            include: None,
            exclude: None,
            respect_ignore: false,
        };
        let (files, skipped) = collect_map(&sel, |c, buf| {
            read_into(c, buf)?;
            Ok(String::from_utf8_lossy(buf).into_owned())
        })
        .unwrap();
        let got: Vec<(&str, &str)> = files
            .iter()
            .map(|(c, t)| (c.rel.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            got,
            [("a/one.yaml", "1"), ("b/two.yaml", "2"), ("c.txt", "3")]
        );
        assert!(skipped.is_empty());
        // the first error in path order is the one reported, whichever thread met it
        let e = collect_map(&sel, |c, _| {
            if c.rel == "c.txt" || c.rel == "b/two.yaml" {
                Err(PinError::PathMissing {
                    path: c.rel.clone(),
                })
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(matches!(e, PinError::PathMissing { path } if path == "b/two.yaml"));
    }
}
