//! `/metrics` and `/readyz` (issue 14): scraped while appends from HTTP and the CLI
//! run, every scrape parses as OpenMetrics text (with the `prometheus-parse` crate,
//! and the format's rules checked line by line); once the load is done the counters
//! agree with the log: events appended = head seq = records the log holds, requests
//! by route and status as sent, forwarded CLI commands by exit code. The log is
//! JSON lines with `--log-format json`.

use crate::wire;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;
use wire::*;

/// One scrape, checked against the rules of the text format: every sample belongs
/// to a family announced by `# TYPE` and `# HELP` before it, counters' samples end
/// in `_total`, histogram buckets are cumulative and end at `+Inf` = `_count`, and
/// `# EOF` is the last line. Answers the samples, by name and labels.
fn scrape(addr: &str, token: &str) -> HashMap<String, f64> {
    let r = get(addr, "/metrics", token);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{:?}",
        r.header("content-type")
    );
    let text = r.text();
    // The crate parses it (into samples, histograms grouped).
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(parsed.samples.len() >= 10, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "{text}");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped: Vec<String> = Vec::new();
    let mut samples = HashMap::new();
    let mut last_bucket: Option<(String, f64)> = None;
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            assert!(
                helped.contains(&name.to_string()),
                "TYPE before HELP: {line}"
            );
            types.insert(name.to_string(), ty.to_string());
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        let family = types
            .keys()
            .filter(|f| name.starts_with(f.as_str()))
            .max_by_key(|f| f.len())
            .unwrap_or_else(|| panic!("a sample of no announced family: {line}"))
            .clone();
        match types[&family].as_str() {
            "counter" => assert_eq!(name, format!("{family}_total"), "{line}"),
            "gauge" => assert_eq!(name, family, "{line}"),
            "histogram" => {
                let suffix = &name[family.len()..];
                assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{line}");
                if suffix == "_bucket" {
                    if let Some((f, before)) = &last_bucket {
                        if f == &family {
                            assert!(value >= *before, "buckets are cumulative: {line}");
                        }
                    }
                    last_bucket = Some((family.clone(), value));
                    if series.contains("le=\"+Inf\"") {
                        let count = samples[&format!("{family}_count")];
                        assert_eq!(value, count, "+Inf bucket = count");
                    }
                }
            }
            other => panic!("unexpected type {other}"),
        }
        assert!(value >= 0.0, "{line}");
        samples.insert(series.to_string(), value);
    }
    samples
}

#[test]
fn metrics_scraped_under_load_parse_and_agree_with_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert!(run(&dir, &["init"]).status.success());
    let officer = add_token(&dir, "li.wei", "officer");
    let auditor = add_token(&dir, "wang.audit", "auditor");
    // Logs as JSON lines, for a collector.
    let serve = Serve::try_start_with(
        &dir,
        &[("SANBAO_LOG_FORMAT", "json")],
        &["--metrics-listen", "127.0.0.1:0"],
    )
    .unwrap();
    let line = serve
        .stdout
        .recv_timeout(Duration::from_secs(60))
        .expect("the metrics address");
    let metrics_addr = line
        .strip_prefix("metrics on http://")
        .and_then(|l| l.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();

    // Ready, and the API's /metrics is for auditors only.
    let r = get(&serve.addr, "/readyz", "");
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("ready"))
    );
    assert_eq!(get(&serve.addr, "/metrics", "").status, 401);
    assert_eq!(get(&serve.addr, "/metrics", &officer).status, 403);
    scrape(&serve.addr, &auditor);
    let (status, _, _stream) = open_stream(&serve.addr, &auditor);
    assert_eq!(status, 200);

    const HTTP_POSTS: usize = 40;
    const CLI_APPENDS: usize = 8;
    let load = {
        let (addr, token) = (serve.addr.clone(), officer.clone());
        std::thread::spawn(move || {
            for i in 0..HTTP_POSTS {
                // Every fifth a batch of three.
                let body = if i % 5 == 0 {
                    Value::Array(
                        (0..3)
                            .map(|k| json!({"kind":"county_registered","county":format!("h{i}k{k}"),"name":"县","registered_on":"2021-01-01"}))
                            .collect(),
                    )
                } else {
                    json!({"kind":"county_registered","county":format!("h{i}"),"name":"县","registered_on":"2021-01-01"})
                };
                let r = post(&addr, "/v1/events", &token, &body.to_string(), &[]);
                assert_eq!(r.status, 201, "{}", r.text());
            }
            // One refused (a county registered twice): 422, nothing written.
            let again = json!({"kind":"county_registered","county":"h1","name":"县","registered_on":"2021-01-01"});
            let r = post(&addr, "/v1/events", &token, &again.to_string(), &[]);
            assert_eq!(r.status, 422, "{}", r.text());
        })
    };
    let cli = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            for i in 0..CLI_APPENDS {
                let e = json!({"kind":"county_registered","county":format!("c{i}"),"name":"县","registered_on":"2021-01-01"});
                let o = std::process::Command::new(bin())
                    .arg("--data")
                    .arg(&dir)
                    .arg("append")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .and_then(|mut c| {
                        c.stdin
                            .take()
                            .unwrap()
                            .write_all(e.to_string().as_bytes())?;
                        c.wait_with_output()
                    })
                    .unwrap();
                assert!(o.status.success());
            }
        })
    };
    // Scrapes while the load runs: each parses, and counters never go down.
    let mut before: HashMap<String, f64> = HashMap::new();
    let mut during = 0;
    while !(load.is_finished() && cli.is_finished()) || during < 3 {
        during += 1;
        let now = scrape(&metrics_addr, "");
        for (k, v) in &before {
            if k.contains("_total") || k.contains("_bucket") || k.ends_with("_count") {
                assert!(now.get(k).copied().unwrap_or(0.0) >= *v, "{k} went down");
            }
        }
        before = now;
        std::thread::sleep(Duration::from_millis(20));
    }
    load.join().unwrap();
    cli.join().unwrap();

    let m = scrape(&metrics_addr, "");
    let events = (HTTP_POSTS / 5 * 3 + (HTTP_POSTS - HTTP_POSTS / 5) + CLI_APPENDS) as f64;
    let head = serve.head() as f64;
    assert_eq!(head, events);
    assert_eq!(m["sanbao_head_seq"], head);
    assert_eq!(m["sanbao_events_appended_total"], head);
    assert_eq!(all_records(&serve.addr, &auditor).len() as f64, head);
    // Jobs: every append answered, the refused one too.
    assert_eq!(
        m["sanbao_append_jobs_total"],
        (HTTP_POSTS + 1 + CLI_APPENDS) as f64
    );
    let groups = m["sanbao_group_commits_total"];
    assert!(groups >= 1.0 && groups <= head, "{groups}");
    assert_eq!(m["sanbao_group_commit_seconds_count"], groups);
    assert!(m["sanbao_fsyncs_total"] >= 1.0 && m["sanbao_fsyncs_total"] <= groups);
    assert!(m["sanbao_fsync_seconds_total"] > 0.0);
    assert_eq!(m["sanbao_sse_subscribers"], 1.0);
    assert_eq!(m["sanbao_ready"], 1.0);
    assert_eq!(m["sanbao_writer_stopped"], 0.0);
    let req = |route: &str, method: &str, status: u16| {
        m.get(&format!(
            "sanbao_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        ))
        .copied()
        .unwrap_or(0.0)
    };
    assert_eq!(req("/v1/events", "POST", 201), HTTP_POSTS as f64);
    assert_eq!(req("/v1/events", "POST", 422), 1.0);
    assert_eq!(req("/metrics", "GET", 401), 1.0);
    assert_eq!(req("/metrics", "GET", 403), 1.0);
    assert_eq!(req("/readyz", "GET", 200), 1.0);
    assert_eq!(
        m["sanbao_forwarded_commands_total{command=\"append\",code=\"0\"}"],
        CLI_APPENDS as f64
    );

    // Every log line is one JSON object; requests carry their route and status.
    let mut serve = serve;
    assert!(serve.terminate().success());
    let log = serve.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(lines.iter().any(|v| v["span"]["route"] == "/v1/events"
        && v["span"]["status"] == 201
        && v["span"]["user"] == "li.wei"));
    assert!(lines.iter().any(
        |v| v["fields"]["command"] == "append" && v["fields"]["message"] == "forwarded command"
    ));
}
