//! Shared helpers for the desk's tests: the sample city loaded into a temporary data
//! dir with one user per role, `sanbao serve` on it (an OS-chosen port), and a
//! browser-like client over [`crate::wire`]: sign in (a session cookie), GET pages,
//! POST forms (`application/x-www-form-urlencoded`), read hidden fields and
//! `data-*` values back from the HTML.
#![allow(dead_code)]

use crate::wire::{self, request, Resp, RoleTokens, Serve};
use std::path::PathBuf;

/// The sample city under `sanbao serve`, with its three users.
pub struct Desk {
    /// Keeps the directory alive.
    pub tmp: tempfile::TempDir,
    /// The data directory.
    pub dir: PathBuf,
    /// The three users' tokens.
    pub tokens: RoleTokens,
    /// The server.
    pub server: Serve,
}

/// A percent-encoded form body or query from pairs.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Desk {
    /// The sample city (`sanbao demo`) served, with one user per role.
    pub fn sample() -> Desk {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let o = wire::run(&dir, &["demo"]);
        assert!(
            o.status.success(),
            "demo: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Desk::on(tmp, dir)
    }

    /// An empty log served, with one user per role.
    pub fn empty() -> Desk {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let o = wire::run(&dir, &["init"]);
        assert!(
            o.status.success(),
            "init: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Desk::on(tmp, dir)
    }

    fn on(tmp: tempfile::TempDir, dir: PathBuf) -> Desk {
        let tokens = RoleTokens::add(&dir);
        let server = Serve::start(&dir, &[]);
        Desk {
            tmp,
            dir,
            tokens,
            server,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.server.addr
    }

    /// Signs in with `token`; the session cookie (`sanbao_session=…`). Asserts the
    /// cookie's attributes.
    pub fn sign_in(&self, token: &str) -> String {
        let r = self.post_form("/desk/sign-in", "", &[("token", token), ("next", "/")]);
        assert_eq!(r.status, 303, "sign-in: {}", r.text());
        let set = r
            .header("set-cookie")
            .expect("a session cookie")
            .to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        set.split(';').next().unwrap().to_string()
    }

    /// GET `path` with `cookie` (a `Cookie` header value, or "" for none).
    pub fn get(&self, path: &str, cookie: &str) -> Resp {
        // As a browser asks: `/` is the desk only for a client that accepts HTML.
        let mut h = vec![("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
        if !cookie.is_empty() {
            h.push(("Cookie", cookie));
        }
        request(self.addr(), "GET", path, &h, None)
    }

    /// POST a form to `path` with `cookie`.
    pub fn post_form(&self, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Resp {
        let body = encode(pairs);
        let mut h = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ];
        if !cookie.is_empty() {
            h.push(("Cookie", cookie));
        }
        request(self.addr(), "POST", path, &h, Some(body.as_bytes()))
    }

    /// GET with a bearer token (the API).
    pub fn api(&self, path: &str, token: &str) -> Resp {
        wire::get(self.addr(), path, token)
    }
}

/// The `value` of the `<input name=NAME>` in `html` (the first one).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let v = tag.find("value=\"")? + 7;
    let rest = &tag[v..];
    Some(unescape(&rest[..rest.find('"')?]))
}

/// Every value of attribute `attr` in `html`, in order.
pub fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let pat = format!("{attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&pat) {
        rest = &rest[i + pat.len()..];
        if let Some(j) = rest.find('"') {
            out.push(unescape(&rest[..j]));
            rest = &rest[j..];
        }
    }
    out
}

/// HTML's five escapes undone.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of `html` without tags (entities undone), whitespace collapsed.
pub fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rows of the table `<table … data-section="KEY">` in `html` (a report section
/// rendered by the desk), each as its cells' texts; `None` when the page has no such
/// table.
pub fn section_rows(html: &str, key: &str) -> Option<Vec<Vec<String>>> {
    let at = html.find(&format!("data-section=\"{key}\""))?;
    let rest = &html[at..];
    let table = &rest[..rest.find("</table>")?];
    let body = &table[table.find("<tbody>")?..];
    Some(
        body.split("<tr")
            .skip(1)
            .map(|tr| {
                tr.split("<td")
                    .skip(1)
                    .map(|td| {
                        let inner = &td[td.find('>').map_or(0, |i| i + 1)..];
                        text_of(&inner[..inner.find("</td>").unwrap_or(inner.len())])
                    })
                    .collect()
            })
            .collect(),
    )
}

/// An amount as the desk shows it ("1,234.56") back to the API's text ("1234.56").
pub fn ungroup(s: &str) -> String {
    s.replace(',', "")
}

/// The log's head seq (`GET /healthz`).
pub fn head(d: &Desk) -> u64 {
    d.get("/healthz", "").json()["head_seq"].as_u64().unwrap()
}
