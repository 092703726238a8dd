//! Query strings and form bodies (`application/x-www-form-urlencoded`) as the desk
//! reads them, and the checks of their values with messages in both languages.
//!
//! Unlike the API's strict [`crate::server::params::Params`], a page ignores names it
//! does not know (a bookmark from an older page still opens); a malformed value is a
//! [`Msg`] the page shows beside its field, never a 5xx.

use crate::values::{CountyId, Date, Month};
use percent_encoding::percent_decode_str;

/// A message in both languages; a page shows the one of its reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    /// In Chinese.
    pub zh: String,
    /// In English.
    pub en: String,
}

impl Msg {
    /// A message from its two texts.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Msg {
        Msg {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: crate::lang::Lang) -> &str {
        match lang {
            crate::lang::Lang::Zh => &self.zh,
            crate::lang::Lang::En => &self.en,
        }
    }
}

/// Decoded `name=value` pairs, in order (`+` is a space).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl Form {
    /// Parses a query string or a form body (invalid UTF-8 is replaced, not refused:
    /// the value then fails its own check with a message).
    pub fn parse(raw: &str) -> Form {
        Form(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The query of a URI.
    pub fn query(uri: &axum::http::Uri) -> Form {
        Form::parse(uri.query().unwrap_or(""))
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A date `YYYY-MM-DD`.
    pub fn date(&self, name: &str) -> Result<Option<Date>, Msg> {
        self.get(name)
            .map(|v| {
                Date::parse(v).map_err(|_| {
                    Msg::new(
                        format!("日期“{v}”格式不对，应为 年-月-日，如 2021-03-31"),
                        format!("{v:?} is not a date; write YYYY-MM-DD, e.g. 2021-03-31"),
                    )
                })
            })
            .transpose()
    }

    /// A month `YYYY-MM`.
    pub fn month(&self, name: &str) -> Result<Option<Month>, Msg> {
        self.get(name)
            .map(|v| {
                Month::parse(v).map_err(|_| {
                    Msg::new(
                        format!("月份“{v}”格式不对，应为 年-月，如 2021-04"),
                        format!("{v:?} is not a month; write YYYY-MM, e.g. 2021-04"),
                    )
                })
            })
            .transpose()
    }

    /// A non-negative integer (a seq, a count).
    pub fn u64(&self, name: &str) -> Result<Option<u64>, Msg> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    Msg::new(
                        format!("“{v}”不是非负整数"),
                        format!("{v:?} is not a whole number"),
                    )
                })
            })
            .transpose()
    }

    /// A county id (its form only; whether it is registered is the page's check).
    pub fn county(&self, name: &str) -> Result<Option<CountyId>, Msg> {
        self.get(name)
            .map(|v| {
                CountyId::parse(v).map_err(|_| {
                    Msg::new(
                        format!("县区代码“{v}”格式不对"),
                        format!("{v:?} is not a county id"),
                    )
                })
            })
            .transpose()
    }
}

/// `s` escaped for a query string value.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_check_their_values() {
        let f = Form::parse("as_of=2021-03-31&at_seq=12&n=a+b%E5%8E%BF&blank=+&x");
        assert_eq!(f.get("n"), Some("a b县"));
        assert_eq!(f.get("blank"), None);
        assert_eq!(f.get("x"), None);
        assert_eq!(f.date("as_of").unwrap().unwrap().to_string(), "2021-03-31");
        assert_eq!(f.u64("at_seq").unwrap(), Some(12));
        assert_eq!(f.date("missing").unwrap(), None);
        let bad = Form::parse("as_of=2021-02-30&at_seq=-1&m=2021-13");
        assert!(bad.date("as_of").unwrap_err().zh.contains("年-月-日"));
        assert!(bad.u64("at_seq").is_err());
        assert!(bad.month("m").unwrap_err().en.contains("YYYY-MM"));
        assert_eq!(enc("/a?b=c"), "%2Fa%3Fb%3Dc");
    }
}
