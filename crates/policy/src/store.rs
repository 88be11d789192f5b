//! The apply protocol: one lock, a pending journal, and exactly one mutation per request.
//!
//! Files, all next to each other and all guarded by the registry's lock (`REGISTRY.lock`):
//!
//! * the registry, replaced atomically;
//! * the audit log (`--audit-log`, default `REGISTRY.audit.jsonl`), hash-chained;
//! * the idempotency index `AUDIT.keys/<sha256 of key>.json`, one small file per key, so a
//!   lookup costs the same whatever the size of the log;
//! * the pending journal `REGISTRY.pending.json`, which exists only while an apply is under
//!   way.
//!
//! An apply, under the lock: (1) finish or discard an interrupted apply; (2) check the
//! audit log's tail; (3) look the key up: a retry is answered from the index before any
//! decision or time check; (4) decide and compute; (5) write the journal (the sealed record
//! and both registry revisions); (6) replace the registry; (7) append the record; (8) write
//! the key; (9) remove the journal. A crash after (5) leaves the journal; the next run
//! compares the registry's revision with it: equal to the revision after, and the
//! remaining steps are completed; equal to the revision before, and the journal is
//! discarded (the registry was never touched). Either way a retry with the same key then
//! finds its record, so there is exactly one mutation and one audit record.

use std::path::{Path, PathBuf};

use rollout_core::audit::{self, Tail};
use rollout_core::fsx::{Lock, atomic_write};
use rollout_core::hash::sha256_bytes;
use serde_json::{Map, Value, json};

use crate::error::PolicyError;

/// Where an injected fault aborts the process (`POLICY_APPLY_FAULT`), for crash tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// After the journal is written.
    AfterPending,
    /// After the registry is replaced.
    AfterRegistry,
    /// After the audit record is appended.
    AfterAudit,
    /// After the key is written, before the journal is removed.
    AfterKey,
}

impl Fault {
    /// Every step, by the name the environment variable uses.
    pub const ALL: [(&'static str, Fault); 4] = [
        ("after-pending", Fault::AfterPending),
        ("after-registry", Fault::AfterRegistry),
        ("after-audit", Fault::AfterAudit),
        ("after-key", Fault::AfterKey),
    ];

    /// Parse a step name.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

fn crash_at(fault: Option<Fault>, here: Fault) {
    if fault == Some(here) {
        // An abrupt end with nothing cleaned up, like kill -9 or a power cut.
        std::process::abort();
    }
}

/// The files of one registry.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The registry.
    pub registry: PathBuf,
    /// The audit log.
    pub audit: PathBuf,
    /// The idempotency index directory.
    pub keys: PathBuf,
    /// The pending journal.
    pub pending: PathBuf,
    /// The audit log is the registry's own (`REGISTRY.audit.jsonl`, no `--audit-log`).
    pub default_audit: bool,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    p.with_file_name(name)
}

impl Paths {
    /// The files for `registry`, with the audit log at `audit` or beside the registry.
    pub fn new(registry: &Path, audit: Option<&Path>) -> Paths {
        let default_audit = audit.is_none();
        let audit = audit.map_or_else(|| with_suffix(registry, ".audit.jsonl"), Path::to_path_buf);
        Paths {
            default_audit,
            registry: registry.to_path_buf(),
            keys: with_suffix(&audit, ".keys"),
            audit,
            pending: with_suffix(registry, ".pending.json"),
        }
    }

    /// The index file of an idempotency key.
    pub fn key_file(&self, key: &str) -> PathBuf {
        let digest = sha256_bytes(key.as_bytes());
        self.keys
            .join(format!("{}.json", digest.trim_start_matches("sha256:")))
    }
}

/// The registry as the request fingerprint names it: its path relative to the directory of
/// the audit log that holds the idempotency index, symlinks and spellings resolved.
///
/// Not the absolute path: a CI runner checks the repository out somewhere new on every run
/// (act, self-hosted runners, another OS), and a re-run there is still the same request.
/// Not the path as given: `./r.json`, `r.json` and an absolute path are one registry. Two
/// registries sharing one audit log still differ.
pub fn registry_identity(paths: &Paths) -> String {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let registry = canonical(&paths.registry);
    let log_dir = match paths.audit.parent() {
        Some(d) if !d.as_os_str().is_empty() => canonical(d),
        _ => canonical(Path::new(".")),
    };
    let common = registry
        .components()
        .zip(log_dir.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in log_dir.components().skip(common) {
        rel.push("..");
    }
    for c in registry.components().skip(common) {
        rel.push(c);
    }
    rel.display().to_string()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PolicyError + '_ {
    move |source| {
        PolicyError::Core(rollout_core::CoreError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The registry's bytes and revision, read under the lock.
pub fn read_registry(path: &Path) -> Result<(Vec<u8>, String), PolicyError> {
    let bytes = rollout_core::input::read_bytes(
        &rollout_core::input::Source::File(path.to_path_buf()),
        "a registry JSON document",
        rollout_core::input::MAX_DOCUMENT_BYTES,
    )?;
    let revision = sha256_bytes(&bytes);
    Ok((bytes, revision))
}

/// The record of an apply interrupted after it replaced the registry (now at `revision`)
/// and before it appended the record: its journal `REGISTRY.pending.json` holds it, and the
/// next apply completes it. None when there is no such journal.
pub fn journaled_record(registry: &Path, revision: &str) -> Option<Map<String, Value>> {
    let journal = Paths::new(registry, None).pending;
    let text = std::fs::read_to_string(journal).ok()?;
    let journal: Value = serde_json::from_str(&text).ok()?;
    if journal.get("revisionAfter").and_then(Value::as_str) != Some(revision) {
        return None;
    }
    journal.get("record")?.as_object().cloned()
}

/// The registry as the file it really is: symlinks resolved, so that every spelling of its
/// path (a symlink, `./a/../r.json`, the real path) takes the same lock, and a write
/// replaces the file itself rather than a symlink to it. A registry with several hard links
/// is refused: an atomic write (a rename) would give one name the new content and leave
/// the others with the old, and each name would take its own lock. A missing registry is
/// returned as given (reading it reports it).
pub fn real_registry(path: &Path) -> Result<PathBuf, PolicyError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(real) = std::fs::canonicalize(path) else {
        return Ok(path.to_path_buf());
    };
    if let Ok(meta) = std::fs::metadata(&real)
        && meta.is_file()
        && meta.nlink() > 1
    {
        return Err(PolicyError::RegistryInvalid {
            origin: path.display().to_string(),
            message: format!(
                "the registry has {} hard links; each name would take its own lock and a write would leave the others with the old content (keep one name; a symlink is fine)",
                meta.nlink()
            ),
            code: "registry_hard_linked",
        });
    }
    Ok(shown_as_given(path, real))
}

/// `real`, relative to the working directory when `given` was relative and `real` lies
/// below it (messages keep naming `reg.json`, not `/home/…/reg.json`).
fn shown_as_given(given: &Path, real: PathBuf) -> PathBuf {
    if given.is_absolute() {
        return real;
    }
    std::env::current_dir()
        .ok()
        .and_then(|cwd| std::fs::canonicalize(cwd).ok())
        .and_then(|cwd| real.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|r| !r.as_os_str().is_empty())
        .unwrap_or(real)
}

/// An audit log path as the file it really is (symlinks resolved), or, when it does not
/// exist yet, in its directory as that really is.
pub fn real_file(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return shown_as_given(path, real);
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => std::fs::canonicalize(dir)
            .map(|d| shown_as_given(path, d.join(name)))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

/// What the index holds for a key.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The request fingerprint the key was first used with.
    pub fingerprint: String,
    /// The record written then.
    pub record: Value,
}

/// Look a key up (constant cost).
pub fn lookup(paths: &Paths, key: &str) -> Result<Option<KeyEntry>, PolicyError> {
    let file = paths.key_file(key);
    match std::fs::read(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&file)(e)),
        Ok(bytes) => {
            let v: Value =
                serde_json::from_slice(&bytes).map_err(|e| PolicyError::AuditBroken {
                    message: format!("idempotency index {} is unreadable: {e}", file.display()),
                })?;
            Ok(Some(KeyEntry {
                fingerprint: v["fingerprint"].as_str().unwrap_or_default().to_string(),
                record: v["record"].clone(),
            }))
        }
    }
}

fn write_key(
    paths: &Paths,
    key: &str,
    fingerprint: &str,
    record: &Value,
) -> Result<(), PolicyError> {
    std::fs::create_dir_all(&paths.keys).map_err(io(&paths.keys))?;
    let entry = json!({"key": key, "fingerprint": fingerprint, "record": record});
    let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
    bytes.push(b'\n');
    atomic_write(&paths.key_file(key), &bytes)?;
    Ok(())
}

/// The audit log's tail, or the refusal to extend a damaged log (with a key: one whose
/// last mac is not the key's).
pub fn tail(
    paths: &Paths,
    key: Option<&rollout_core::sign::SigningKey>,
) -> Result<Tail, PolicyError> {
    audit::tail(&paths.audit, key).map_err(|e| PolicyError::AuditBroken {
        message: e.to_string(),
    })
}

/// Whether an audit record is about this registry: its `registry.path` names the same
/// file (symlinks resolved, relative to the working directory as when it was written), or
/// the log is this registry's own default one.
pub fn describes(record: &serde_json::Map<String, serde_json::Value>, paths: &Paths) -> bool {
    if paths.default_audit {
        return true;
    }
    let Some(path) = record
        .get("registry")
        .and_then(|r| r.get("path"))
        .and_then(serde_json::Value::as_str)
    else {
        return false;
    };
    match (
        std::fs::canonicalize(path),
        std::fs::canonicalize(&paths.registry),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A mutation ready to be made durable.
pub struct Commit<'a> {
    /// The sealed audit record.
    pub record: &'a Map<String, Value>,
    /// New registry text, when the registry changes (None for a noop).
    pub registry_text: Option<&'a [u8]>,
    /// Revision before.
    pub revision_before: &'a str,
    /// Revision after.
    pub revision_after: &'a str,
    /// Idempotency key and fingerprint.
    pub key: Option<(&'a str, &'a str)>,
}

/// Make a mutation durable, in the journal's order (see the module docs).
pub fn commit(paths: &Paths, c: &Commit<'_>, fault: Option<Fault>) -> Result<(), PolicyError> {
    // an audit log named in a directory that does not exist yet is started there
    rollout_core::fsx::create_parent(&paths.audit)?;
    let journal = json!({
        "record": c.record,
        "revisionBefore": c.revision_before,
        "revisionAfter": c.revision_after,
        "key": c.key.map(|k| k.0),
        "fingerprint": c.key.map(|k| k.1),
    });
    atomic_write(
        &paths.pending,
        &serde_json::to_vec(&journal).unwrap_or_default(),
    )?;
    crash_at(fault, Fault::AfterPending);
    if let Some(text) = c.registry_text {
        atomic_write(&paths.registry, text)?;
    }
    crash_at(fault, Fault::AfterRegistry);
    audit::append(&paths.audit, c.record)?;
    crash_at(fault, Fault::AfterAudit);
    if let Some((key, fingerprint)) = c.key {
        write_key(paths, key, fingerprint, &Value::Object(c.record.clone()))?;
    }
    crash_at(fault, Fault::AfterKey);
    remove_pending(paths)
}

fn remove_pending(paths: &Paths) -> Result<(), PolicyError> {
    std::fs::remove_file(&paths.pending).map_err(io(&paths.pending))?;
    let dir = paths
        .pending
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// Finish or discard an apply that was interrupted (the journal exists). Returns a line
/// for stderr saying what was done, if anything.
pub fn recover(paths: &Paths) -> Result<Option<String>, PolicyError> {
    let bytes = match std::fs::read(&paths.pending) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&paths.pending)(e)),
        Ok(b) => b,
    };
    let journal: Value =
        serde_json::from_slice(&bytes).map_err(|e| PolicyError::RecoveryConflict {
            pending: format!("{} ({e})", paths.pending.display()),
        })?;
    let record = journal["record"].as_object().cloned().unwrap_or_default();
    let before = journal["revisionBefore"].as_str().unwrap_or_default();
    let after = journal["revisionAfter"].as_str().unwrap_or_default();
    let (_, current) = read_registry(&paths.registry)?;
    if current == after {
        repair_torn_append(paths, &record)?;
        let t = tail(paths, None)?;
        let seq = record.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if t.seq + 1 == seq
            && Some(t.hash.as_str()) == record.get("prevHash").and_then(Value::as_str)
        {
            audit::append(&paths.audit, &record)?;
        } else if !(t.seq == seq
            && Some(t.hash.as_str()) == record.get("hash").and_then(Value::as_str))
        {
            return Err(PolicyError::RecoveryConflict {
                pending: paths.pending.display().to_string(),
            });
        }
        if let (Some(key), Some(fp)) = (journal["key"].as_str(), journal["fingerprint"].as_str()) {
            write_key(paths, key, fp, &Value::Object(record.clone()))?;
        }
        remove_pending(paths)?;
        return Ok(Some(format!(
            "completed an interrupted apply (audit record {seq})"
        )));
    }
    if current == before {
        remove_pending(paths)?;
        return Ok(Some(
            "discarded an interrupted apply that had not changed the registry".into(),
        ));
    }
    Err(PolicyError::RecoveryConflict {
        pending: paths.pending.display().to_string(),
    })
}

/// A crash in the middle of the append's single write can leave a prefix of the record's
/// line; cut it so the record can be appended whole.
fn repair_torn_append(paths: &Paths, record: &Map<String, Value>) -> Result<(), PolicyError> {
    let Ok(bytes) = std::fs::read(&paths.audit) else {
        return Ok(());
    };
    if bytes.is_empty() || bytes.last() == Some(&b'\n') {
        return Ok(());
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = serde_json::to_vec(&Value::Object(record.clone())).unwrap_or_default();
    if line.starts_with(&bytes[start..]) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&paths.audit)
            .map_err(io(&paths.audit))?;
        f.set_len(start as u64).map_err(io(&paths.audit))?;
        f.sync_all().map_err(io(&paths.audit))?;
    }
    Ok(())
}

/// The lock of an apply, and the recovery of an interrupted one; a dry run takes no lock
/// and recovers nothing (it only says that an apply is pending). `warn` hears every note.
pub fn lock_for_apply(
    paths: &Paths,
    timeout: rollout_core::time::Duration,
    dry_run: bool,
    warn: &mut dyn FnMut(&str),
) -> Result<Option<Lock>, PolicyError> {
    if dry_run {
        if paths.pending.exists() {
            warn("an interrupted apply is pending; the next apply will finish or discard it");
        }
        return Ok(None);
    }
    let lock = lock(paths, timeout)?;
    if let Some(note) = recover(paths)? {
        warn(&note);
    }
    Ok(Some(lock))
}

/// Take the registry's lock.
pub fn lock(paths: &Paths, timeout: rollout_core::time::Duration) -> Result<Lock, PolicyError> {
    Ok(Lock::acquire(&paths.registry, timeout)?)
}
