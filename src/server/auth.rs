//! Users, roles and bearer tokens (SPEC §7).
//!
//! The tokens file holds, per user, a name, a role and the **SHA-256 of the token**
//! (lowercase hex) — never the token itself:
//!
//! ```json
//! {"users":[{"added_at":"2026-11-27T08:00:00Z","name":"li.wei","role":"officer","token_sha256":"…"}]}
//! ```
//!
//! Guarantees:
//! - a new token is 32 bytes from the operating system's CSPRNG (`getrandom`),
//!   written as `sbt_` + 64 hex digits, shown once by `token add` and never stored;
//! - [`Tokens::authenticate`] hashes the presented token and compares the hash with
//!   every stored hash in constant time (no early exit, no data-dependent branch), so
//!   the answer's timing does not tell how close a guess was;
//! - the file is replaced atomically (temporary file, fsync, rename) and created
//!   readable by its owner only;
//! - a running service follows the file ([`TokenFile`]): a user added or removed takes
//!   effect at the next request, without a restart; a file that becomes unreadable or
//!   malformed leaves the last good set in force (and says so in the log).

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The event kinds only a scheduler appends: issued plans and the decisions of
/// affordability assessments.
pub const SCHEDULER_KINDS: &[&str] = &["plan_issued", "assessment_decided"];

/// What a user may do (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Appends events (except `plan_issued`) and reads.
    Officer,
    /// Requests and issues plans, and reads.
    Scheduler,
    /// Reads only: events, positions, monitor, plans, forecast, verify, replay.
    Auditor,
    /// Approves emergency requests and sets the limit on direct emergency dispatches
    /// (contract v2, issue 18: two-person approval), and reads.
    Approver,
}

impl Role {
    /// Every role, in the order of SPEC §7.
    pub const ALL: [Role; 4] = [
        Role::Officer,
        Role::Scheduler,
        Role::Auditor,
        Role::Approver,
    ];

    /// The kinds only an approver appends.
    pub const APPROVER_KINDS: [&'static str; 2] = ["emergency_approved", "approval_limit_set"];

    /// The role's name as written in the tokens file and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Scheduler => "scheduler",
            Role::Auditor => "auditor",
            Role::Approver => "approver",
        }
    }

    /// Parses `officer`, `scheduler`, `auditor` or `approver`.
    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}; expected officer, scheduler, auditor or approver")
            })
    }

    /// May this role append an event of `kind`? Officers append every kind but the
    /// scheduler's and the approver's; schedulers append only `plan_issued` and
    /// `assessment_decided` (issue 19: the city decides an affordability assessment);
    /// approvers only `emergency_approved` and `approval_limit_set` (issue 18);
    /// auditors nothing.
    pub fn may_append(self, kind: &str) -> bool {
        match self {
            Role::Officer => {
                !SCHEDULER_KINDS.contains(&kind) && !Role::APPROVER_KINDS.contains(&kind)
            }
            Role::Scheduler => SCHEDULER_KINDS.contains(&kind),
            Role::Approver => Role::APPROVER_KINDS.contains(&kind),
            Role::Auditor => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One user of the tokens file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// When `token add` created the user (UTC, RFC 3339).
    pub added_at: String,
    /// Who the token belongs to (shown in logs).
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Lowercase hex SHA-256 of the token.
    pub token_sha256: String,
}

/// The tokens file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// The users, in the order they were added.
    pub users: Vec<User>,
}

/// Who a request comes from, once its token is recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's name.
    pub name: String,
    /// The user's role.
    pub role: Role,
}

/// The default tokens file of a data directory: `<DIR>/tokens.json`.
pub fn default_tokens_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tokens.json")
}

/// Lowercase hex SHA-256 of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `sbt_` + 64 hex digits (32 bytes from the OS CSPRNG).
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("the operating system's random source failed: {e}"))?;
    Ok(format!("sbt_{}", hex::encode(bytes)))
}

/// Compares two hashes in constant time (`subtle`: no early exit, no data-dependent
/// branch the optimiser may introduce).
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

fn decode_hash(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Checks a user name: 1 to 64 characters, none of them control characters or
/// spaces, and not `local` (the command line's name in `recorded_by`).
pub fn check_name(name: &str) -> Result<(), String> {
    if name == crate::record::LOCAL {
        return Err(
            "\"local\" is the command line's name in the log (recorded_by); choose another name"
                .into(),
        );
    }
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("a name has 1 to 64 characters, without spaces or control characters".into());
    }
    Ok(())
}

impl Tokens {
    /// Reads a tokens file; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Tokens>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot read the tokens file {}: {e}",
                    path.display()
                ))
            }
        };
        let tokens: Tokens = serde_json::from_str(&text)
            .map_err(|e| format!("the tokens file {} is malformed: {e}", path.display()))?;
        for u in &tokens.users {
            if decode_hash(&u.token_sha256).is_none()
                || u.token_sha256 != u.token_sha256.to_lowercase()
            {
                return Err(format!(
                    "the tokens file {} is malformed: user {:?} has no valid token_sha256",
                    path.display(),
                    u.name
                ));
            }
        }
        Ok(Some(tokens))
    }

    /// Writes the file atomically (temporary file in the same directory, fsync,
    /// rename, fsync of the directory), readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("tokens"),
            std::process::id()
        ));
        let mut text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        text.push('\n');
        let write = || -> std::io::Result<()> {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write the tokens file {}: {e}", path.display())
        })
    }

    /// Adds a user with a new random token; returns the token (the only time it is
    /// ever seen). A name already present is refused.
    pub fn add(&mut self, name: &str, role: Role, added_at: String) -> Result<String, String> {
        check_name(name)?;
        if self.users.iter().any(|u| u.name == name) {
            return Err(format!(
                "a user named {name:?} already exists; choose another name (or remove it from the tokens file first)"
            ));
        }
        let token = new_token()?;
        self.users.push(User {
            added_at,
            name: name.to_string(),
            role,
            token_sha256: hash_token(&token),
        });
        Ok(token)
    }

    /// The user whose token this is, comparing the token's hash with every stored
    /// hash in constant time.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found: Option<&User> = None;
        for u in &self.users {
            let stored = decode_hash(&u.token_sha256).unwrap_or([0u8; 32]);
            if ct_eq(&presented, &stored) {
                found = Some(u);
            }
        }
        found.map(|u| Principal {
            name: u.name.clone(),
            role: u.role,
        })
    }
}

impl Tokens {
    /// The user whose stored token hash is `token_sha256` (a desk session keeps the
    /// hash, never the token, and asks again at each request).
    pub fn by_hash(&self, token_sha256: &str) -> Option<Principal> {
        self.users
            .iter()
            .find(|u| u.token_sha256 == token_sha256)
            .map(|u| Principal {
                name: u.name.clone(),
                role: u.role,
            })
    }
}

/// The tokens file as a running service sees it: reloaded when it changes on disk.
pub struct TokenFile {
    path: PathBuf,
    current: std::sync::RwLock<(Option<FileStamp>, std::sync::Arc<Tokens>)>,
}

/// What tells that the file changed: modification time, length and (on Unix) inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

impl TokenFile {
    /// Follows `path`, starting from `tokens` (already loaded from it).
    pub fn new(path: PathBuf, tokens: Tokens) -> TokenFile {
        let st = stamp(&path);
        TokenFile {
            path,
            current: std::sync::RwLock::new((st, std::sync::Arc::new(tokens))),
        }
    }

    /// The users in force: the file is read again when its stamp changed.
    pub fn current(&self) -> std::sync::Arc<Tokens> {
        let now = stamp(&self.path);
        {
            let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
            if cur.0 == now {
                return cur.1.clone();
            }
        }
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        if cur.0 != now {
            match Tokens::load(&self.path) {
                Ok(Some(t)) => {
                    tracing::info!(users = t.users.len(), path = %self.path.display(), "tokens file reloaded");
                    cur.1 = std::sync::Arc::new(t);
                }
                Ok(None) => {
                    tracing::warn!(path = %self.path.display(), "the tokens file is gone; keeping the users loaded before")
                }
                Err(e) => tracing::warn!(error = %e, "keeping the users loaded before"),
            }
            cur.0 = now;
        }
        cur.1.clone()
    }

    /// Recognises a token against the users in force.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        self.current().authenticate(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hashed_and_recognised() {
        let mut t = Tokens::default();
        let a = t.add("li.wei", Role::Officer, "x".into()).unwrap();
        let b = t.add("auditor1", Role::Auditor, "x".into()).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("sbt_") && a.len() == 68);
        assert!(!serde_json::to_string(&t).unwrap().contains(&a[4..]));
        assert_eq!(t.authenticate(&a).unwrap().role, Role::Officer);
        assert_eq!(t.authenticate(&b).unwrap().name, "auditor1");
        assert!(t.authenticate("sbt_nope").is_none());
        assert!(t.authenticate("").is_none());
        assert!(t.add("li.wei", Role::Auditor, "x".into()).is_err());
        assert!(t.add("has space", Role::Auditor, "x".into()).is_err());
    }

    #[test]
    fn roles_append_what_the_spec_allows() {
        assert!(Role::Officer.may_append("transfer_allocated"));
        assert!(!Role::Officer.may_append("plan_issued"));
        assert!(Role::Scheduler.may_append("plan_issued"));
        assert!(!Role::Scheduler.may_append("transfer_allocated"));
        assert!(Role::Scheduler.may_append("assessment_decided"));
        assert!(!Role::Officer.may_append("assessment_decided"));
        assert!(Role::Officer.may_append("policy_proposed"));
        assert!(Role::Officer.may_append("response_plan_filed"));
        assert!(!Role::Scheduler.may_append("response_plan_filed"));
        assert!(!Role::Auditor.may_append("revenue_collected"));
        assert_eq!(Role::parse("auditor"), Ok(Role::Auditor));
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn the_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("tokens.json");
        assert_eq!(Tokens::load(&p).unwrap(), None);
        let mut t = Tokens::default();
        let tok = t
            .add("a", Role::Scheduler, "2026-01-01T00:00:00Z".into())
            .unwrap();
        t.save(&p).unwrap();
        let back = Tokens::load(&p).unwrap().unwrap();
        assert_eq!(back, t);
        assert_eq!(back.authenticate(&tok).unwrap().role, Role::Scheduler);
        // A running service follows the file.
        let live = TokenFile::new(p.clone(), back);
        assert!(live.authenticate(&tok).is_some());
        let mut more = t.clone();
        let tok2 = more.add("b", Role::Officer, "x".into()).unwrap();
        assert!(live.authenticate(&tok2).is_none());
        more.save(&p).unwrap();
        assert_eq!(live.authenticate(&tok2).unwrap().name, "b");
        more.users.remove(0);
        more.save(&p).unwrap();
        assert!(
            live.authenticate(&tok).is_none(),
            "a removed user is refused"
        );
        std::fs::write(&p, "{\"users\":[{\"added_at\":\"\",\"name\":\"a\",\"role\":\"officer\",\"token_sha256\":\"zz\"}]}").unwrap();
        assert!(Tokens::load(&p).is_err());
        assert!(
            live.authenticate(&tok2).is_some(),
            "a malformed file keeps the last good set"
        );
    }
}
