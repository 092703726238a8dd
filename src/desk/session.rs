//! Sign-in sessions of the desk: a token traded once for a session cookie.
//!
//! Guarantees:
//! - the token is never kept: a session holds the user's stored token hash (to follow
//!   the tokens file: a removed user's sessions end at their next request, a changed
//!   role takes effect at once), a random session id (the cookie, `HttpOnly`,
//!   `SameSite=Strict`) and a random CSRF token that every state-changing form must
//!   carry;
//! - a session unused for [`IDLE`] (8 hours) is over; sign-out removes it on the
//!   server, so its cookie is worthless afterwards;
//! - ids and CSRF tokens are 32 bytes from the operating system's CSPRNG (a CSRF token
//!   is compared in constant time; an id is a key of the session table, unguessable
//!   rather than compared); at most [`MAX_SESSIONS`] live at once (the least recently used
//!   goes first), so memory is bounded.

use crate::server::auth::{Principal, TokenFile};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How long a session may stay unused before it ends.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;
/// The session cookie's name.
pub const COOKIE: &str = "sanbao_session";

struct Entry {
    token_sha256: String,
    csrf: String,
    last_seen: Instant,
}

/// The live sessions of one service.
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Entry>>,
}

/// A signed-in user as a page sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session id (the cookie's value).
    pub id: String,
    /// Who, with their role as the tokens file says now.
    pub who: Principal,
    /// The CSRF token state-changing forms carry.
    pub csrf: String,
}

/// 32 random bytes as 64 hex digits.
pub fn random_hex() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source");
    hex::encode(b)
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::with_idle(IDLE)
    }
}

impl Sessions {
    /// Sessions that end after `idle` unused.
    pub fn with_idle(idle: Duration) -> Sessions {
        Sessions {
            idle,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Signs in with `token` (checked against `tokens`): a new session, or `None` when
    /// the token is unknown.
    pub fn sign_in(&self, tokens: &TokenFile, token: &str, now: Instant) -> Option<Session> {
        let who = tokens.authenticate(token)?;
        let entry = Entry {
            token_sha256: crate::server::auth::hash_token(token),
            csrf: random_hex(),
            last_seen: now,
        };
        let id = random_hex();
        let session = Session {
            id: id.clone(),
            who,
            csrf: entry.csrf.clone(),
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, e| now.saturating_duration_since(e.last_seen) < self.idle);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id, entry);
        Some(session)
    }

    /// The session of cookie value `id`, touched at `now`; `None` when there is none,
    /// it was idle too long (it is then removed) or its user is no longer in `tokens`.
    /// The tokens file is consulted outside the sessions' lock.
    pub fn get(&self, tokens: &TokenFile, id: &str, now: Instant) -> Option<Session> {
        let hash = self.live_hash(id, now)?;
        let who = tokens.current().by_hash(&hash);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let Some(who) = who else {
            map.remove(id);
            return None;
        };
        let e = map.get_mut(id)?;
        e.last_seen = now;
        Some(Session {
            id: id.to_string(),
            who,
            csrf: e.csrf.clone(),
        })
    }

    /// Whether the session `id` is still live at `now` (not idle too long, its user
    /// still in `tokens`), without touching it: an open live journal asks this, so a
    /// forgotten tab does not keep a session alive.
    pub fn alive(&self, tokens: &TokenFile, id: &str, now: Instant) -> bool {
        self.live_hash(id, now)
            .is_some_and(|h| tokens.current().by_hash(&h).is_some())
    }

    /// The token hash of a session not idle too long (an idle one is removed).
    fn live_hash(&self, id: &str, now: Instant) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.get(id)?;
        if now.saturating_duration_since(e.last_seen) >= self.idle {
            map.remove(id);
            return None;
        }
        Some(e.token_sha256.clone())
    }

    /// Ends the session `id` (sign-out).
    pub fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Sessions live now (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Session {
    /// Whether `given` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::auth::{Role, Tokens};

    fn tokens() -> (tempfile::TempDir, TokenFile, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens.json");
        let mut t = Tokens::default();
        let a = t.add("li.wei", Role::Officer, "x".into()).unwrap();
        let b = t.add("zhao", Role::Auditor, "x".into()).unwrap();
        t.save(&p).unwrap();
        (dir, TokenFile::new(p, t), a, b)
    }

    #[test]
    fn a_token_becomes_a_session_that_ends_idle_or_on_sign_out() {
        let (_d, tf, a, b) = tokens();
        let s = Sessions::with_idle(Duration::from_secs(100));
        let t0 = Instant::now();
        assert!(s.sign_in(&tf, "sbt_wrong", t0).is_none());
        let one = s.sign_in(&tf, &a, t0).unwrap();
        assert_eq!(one.who.role, Role::Officer);
        assert_eq!(one.id.len(), 64);
        assert_ne!(one.id, one.csrf);
        assert!(!one.id.contains(&a[4..]) && !one.csrf.contains(&a[4..]));
        // Used within the idle time, it lives on; each use restarts the clock.
        let got = s.get(&tf, &one.id, t0 + Duration::from_secs(99)).unwrap();
        assert_eq!(got.csrf, one.csrf);
        assert!(s.get(&tf, &one.id, t0 + Duration::from_secs(198)).is_some());
        // Unused for the idle time, it is over (and removed).
        assert!(s.get(&tf, &one.id, t0 + Duration::from_secs(298)).is_none());
        assert!(s.get(&tf, &one.id, t0 + Duration::from_secs(299)).is_none());
        // Asking whether it is alive does not touch it.
        let three = s.sign_in(&tf, &a, t0).unwrap();
        assert!(s.alive(&tf, &three.id, t0 + Duration::from_secs(99)));
        assert!(!s.alive(&tf, &three.id, t0 + Duration::from_secs(100)));
        // Sign-out ends it on the server.
        let two = s.sign_in(&tf, &b, t0).unwrap();
        assert!(s.get(&tf, &two.id, t0).is_some());
        s.end(&two.id);
        assert!(s.get(&tf, &two.id, t0).is_none());
        assert!(s.get(&tf, "", t0).is_none());
        assert!(one.csrf_ok(Some(&one.csrf)));
        assert!(!one.csrf_ok(Some(&two.csrf)));
        assert!(!one.csrf_ok(None));
    }

    #[test]
    fn a_removed_user_loses_their_sessions() {
        let (dir, tf, a, _b) = tokens();
        let s = Sessions::default();
        let t0 = Instant::now();
        let one = s.sign_in(&tf, &a, t0).unwrap();
        let mut t = Tokens::load(&dir.path().join("tokens.json"))
            .unwrap()
            .unwrap();
        t.users.remove(0);
        // A different length, so that the file's stamp changes within one clock tick.
        t.save(&dir.path().join("tokens.json")).unwrap();
        assert!(s.get(&tf, &one.id, t0).is_none());
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "a=1; sanbao_session=abc".parse().unwrap());
        h.append("cookie", "sanbao_lang=en".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "sanbao_lang"), Some("en"));
        assert_eq!(cookie(&h, "nope"), None);
    }
}
