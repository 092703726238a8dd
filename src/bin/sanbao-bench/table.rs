//! The readable table printed after the JSON line when standard output is a
//! terminal: the report's `params`, `results` and `machine`, flattened with dots.
//!
//! Guarantees: for people only; the JSON line before it is the report.

use serde_json::Value;

/// A readable two-column table of a report (nested objects flattened with dots).
pub(crate) fn table(report: &Value) -> String {
    fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, x, out);
                }
            }
            Value::Array(a) if a.iter().any(|x| x.is_object()) => {
                out.push((prefix.to_string(), format!("[{} runs]", a.len())))
            }
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut rows = Vec::new();
    for part in ["params", "results", "machine"] {
        flatten(part, &report[part], &mut rows);
    }
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut s = format!("\n{}\n", report["bench"].as_str().unwrap_or(""));
    for (k, v) in rows {
        s.push_str(&format!("  {k:<w$}  {v}\n"));
    }
    s
}
