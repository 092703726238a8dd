//! Query strings, parsed by hand so that every mistake is a 400 in the SPEC §7 shape
//! naming the parameter.
//!
//! Guarantees: each route accepts only the parameters it documents (an unknown or
//! repeated parameter is a 400, so a typo such as `asof=` is never silently ignored);
//! values are percent-decoded (`+` is a space) and must be UTF-8.

use super::error::ApiError;
use crate::values::{CountyId, Date, Month};
use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;

/// The parameters of one request, by name.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `raw` (the part after `?`), allowing only the names in `allowed`.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k, "query")?;
            let v = decode(v, &k)?;
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(
                    k.clone(),
                    if allowed.is_empty() {
                        format!("unknown query parameter {k:?}: this route takes none")
                    } else {
                        format!(
                            "unknown query parameter {k:?}; this route takes {}",
                            allowed.join(", ")
                        )
                    },
                ));
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(
                    k.clone(),
                    format!("query parameter {k:?} is given twice"),
                ));
            }
        }
        Ok(Params(map))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A text parameter as given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// A non-negative integer parameter.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ApiError::bad_request(
                        name,
                        format!("{name} must be a non-negative integer, not {v:?}"),
                    ));
                }
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(name, format!("{name} is too large: {v:?}")))
            })
            .transpose()
    }

    /// A flag: `true` or `false` (absent is false).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(ApiError::bad_request(
                name,
                format!("{name} must be true or false, not {v:?}"),
            )),
        }
    }

    /// A date parameter (`YYYY-MM-DD`).
    pub fn date(&self, name: &str) -> Result<Option<Date>, ApiError> {
        self.get(name)
            .map(|v| {
                Date::parse(v).map_err(|e| ApiError::bad_request(name, format!("{name}: {e}")))
            })
            .transpose()
    }

    /// A month parameter (`YYYY-MM`).
    pub fn month(&self, name: &str) -> Result<Option<Month>, ApiError> {
        self.get(name)
            .map(|v| {
                Month::parse(v).map_err(|e| ApiError::bad_request(name, format!("{name}: {e}")))
            })
            .transpose()
    }

    /// A county id parameter.
    pub fn county(&self, name: &str) -> Result<Option<CountyId>, ApiError> {
        self.get(name)
            .map(|v| {
                CountyId::parse(v).map_err(|e| ApiError::bad_request(name, format!("{name}: {e}")))
            })
            .transpose()
    }
}

fn decode(s: &str, name: &str) -> Result<String, ApiError> {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::bad_request(name, "the query string is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_names_the_parameter() {
        let p = Params::parse(
            Some("at_seq=12&as_of=2021-06-30&county=sui%7Ahong"),
            &["at_seq", "as_of", "county"],
        )
        .unwrap();
        assert_eq!(p.u64("at_seq").unwrap(), Some(12));
        assert_eq!(p.date("as_of").unwrap().unwrap().to_string(), "2021-06-30");
        assert_eq!(p.county("county").unwrap().unwrap().as_str(), "suizhong");
        assert_eq!(p.u64("limit").unwrap(), None);
        let e = Params::parse(Some("asof=1"), &["as_of"]).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (400, Some("asof")));
        assert!(Params::parse(Some("a=1&a=2"), &["a"]).is_err());
        let p = Params::parse(Some("at_seq=-1&as_of=2021-13-01"), &["at_seq", "as_of"]).unwrap();
        assert_eq!(
            p.u64("at_seq").unwrap_err().field.as_deref(),
            Some("at_seq")
        );
        assert!(p.date("as_of").is_err());
        assert!(Params::parse(Some("x=%FF"), &["x"]).is_err());
        assert!(Params::parse(None, &[]).is_ok());
    }
}
