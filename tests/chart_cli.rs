//! `sanbao chart cash|levels|forecast` on the sample city (issue 16's charts): each
//! chart is written whole to its `--out FILE.svg` with exit 0 and nothing on stdout;
//! the labels follow `--lang` (and `SANBAO_LANG`); every bad input is one `error:`
//! line with the exit code of the other read commands and leaves no file (an
//! existing one as it was, no temporary file behind); through a server holding the
//! directory, the same bytes and the same refusals.

use crate::wire;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use wire::{add_token, Serve};

/// Runs `sanbao --data data ARGS…` in `cwd` with `env`, no colour, no log filter.
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(wire::bin());
    c.current_dir(cwd)
        .args(["--data", "data"])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SANBAO_DATA")
        .env_remove("SANBAO_LANG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run sanbao")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory holding the sample city (`demo`), in `data` under a new temp dir.
fn sample() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let o = run_in(tmp.path(), &["demo"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    tmp
}

/// The names in `dir` other than `data` (and a server's log files), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "data" && !n.contains("serve-"))
        .collect();
    v.sort();
    v
}

/// Parses an SVG file; answers its text.
fn svg(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    s
}

const CHARTS: &[&[&str]] = &[
    &[
        "chart",
        "cash",
        "--county",
        "jianchang",
        "--out",
        "cash.svg",
    ],
    &[
        "chart",
        "cash",
        "--county",
        "lvhai",
        "--from",
        "2021-01-01",
        "--to",
        "2021-06-30",
        "--at-seq",
        "1500",
        "--out",
        "cash-lvhai.svg",
    ],
    &["chart", "levels", "--out", "levels.svg"],
    &[
        "chart",
        "levels",
        "--as-of",
        "2021-12-31",
        "--out",
        "levels-2021.svg",
    ],
    &[
        "chart",
        "forecast",
        "--from",
        "2022-03",
        "--out",
        "forecast.svg",
    ],
    &[
        "chart",
        "forecast",
        "--from",
        "2022-01",
        "--months",
        "6",
        "--out",
        "forecast-6.svg",
    ],
];

/// Bad input, with the exit code each must give.
const BAD: &[(&[&str], i32)] = &[
    (
        &["chart", "cash", "--county", "nowhere", "--out", "bad.svg"],
        2,
    ),
    (
        &[
            "chart",
            "cash",
            "--county",
            "jianchang",
            "--from",
            "2022-01-10",
            "--to",
            "2021-12-20",
            "--out",
            "bad.svg",
        ],
        2,
    ),
    (
        &[
            "chart",
            "cash",
            "--county",
            "lvhai",
            "--to",
            "2021-03-01",
            "--out",
            "bad.svg",
        ],
        2,
    ),
    (
        &["chart", "cash", "--county", "jianchang", "--out", "bad.png"],
        2,
    ),
    (
        &["chart", "levels", "--at-seq", "999999", "--out", "bad.svg"],
        2,
    ),
    (
        &[
            "chart",
            "levels",
            "--as-of",
            "2019-01-01",
            "--out",
            "bad.svg",
        ],
        2,
    ),
    (
        &["chart", "forecast", "--from", "2019-01", "--out", "bad.svg"],
        2,
    ),
    (
        &[
            "chart", "forecast", "--from", "2022-01", "--months", "30", "--out", "bad.svg",
        ],
        2,
    ),
    (&["chart", "levels", "--lang", "fr", "--out", "bad.svg"], 2),
    (&["chart", "levels", "--out", "no-such-dir/bad.svg"], 1),
    // An existing file: left as it was.
    (
        &["chart", "cash", "--county", "nowhere", "--out", "keep.svg"],
        2,
    ),
];

#[test]
fn charts_of_the_sample_city_in_chinese_and_english_and_bad_input_writes_nothing() {
    let tmp = sample();
    let dir = tmp.path();
    for args in CHARTS {
        let mut a = args.to_vec();
        a.extend(["--lang", "zh"]);
        let o = run_in(dir, &a, &[]);
        assert_eq!(o.status.code(), Some(0), "{a:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout), "", "{a:?}: nothing on stdout");
        assert_eq!(text(&o.stderr), "", "{a:?}");
        let s = svg(&dir.join(args.last().unwrap()));
        assert!(s.contains("font-family=\"'Noto Sans CJK SC'"), "{a:?}");
    }
    let cash = svg(&dir.join("cash.svg"));
    assert!(cash.contains("<title>建昌县（jianchang）库款日终余额与保障线</title>"));
    assert!(cash.contains("单位：万元") && cash.contains(">2021-03</text>"));
    assert!(cash.contains("预警线") && cash.contains("闲置区"));
    let levels = svg(&dir.join("levels.svg"));
    assert!(levels.contains("各县区库款保障水平（2022-02-20）"));
    for name in [
        "北港工业区（beigang）",
        "绿海经济区（lvhai）",
        "兴城市（xingcheng）",
    ] {
        assert!(levels.contains(name), "{name}");
    }
    assert!(levels.contains(">预警</text>") && levels.contains(">闲置</text>"));
    let forecast = svg(&dir.join("forecast-6.svg"));
    assert!(forecast.contains("未来6个月工资保障倍数（2022-01 起）"));
    assert!(forecast.contains("风险"));
    // The cash chart draws the series monitor --daily gives: one point a day.
    let o = run_in(
        dir,
        &[
            "monitor",
            "--daily",
            "--county",
            "lvhai",
            "--from",
            "2021-01-01",
            "--to",
            "2021-06-30",
            "--at-seq",
            "1500",
            "--json",
        ],
        &[],
    );
    let daily: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let days = daily["counties"][0]["days"].as_array().unwrap().len();
    let lvhai = svg(&dir.join("cash-lvhai.svg"));
    let doc = roxmltree::Document::parse(&lvhai).unwrap();
    let line = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("cash"))
        .unwrap();
    assert_eq!(
        line.attribute("points").unwrap().split(' ').count(),
        days,
        "from the registration (2021-04-01) on"
    );

    // English, by flag and by SANBAO_LANG; SANBAO_LANG=zh without a flag: Chinese.
    let o = run_in(
        dir,
        &["chart", "levels", "--lang", "en", "--out", "en.svg"],
        &[("SANBAO_LANG", "zh")],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let en = svg(&dir.join("en.svg"));
    assert!(en.contains("Guarantee level by county") && en.contains(">warning</text>"));
    let o = run_in(
        dir,
        &["chart", "levels", "--out", "env.svg"],
        &[("SANBAO_LANG", "zh")],
    );
    assert!(o.status.success());
    assert!(svg(&dir.join("env.svg")).contains("各县区库款保障水平"));
    // The same state and arguments: the same bytes.
    let o = run_in(
        dir,
        &[
            "chart",
            "cash",
            "--county",
            "jianchang",
            "--lang",
            "zh",
            "--out",
            "again.svg",
        ],
        &[],
    );
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(dir.join("again.svg")).unwrap(),
        std::fs::read(dir.join("cash.svg")).unwrap()
    );

    std::fs::write(dir.join("keep.svg"), "old").unwrap();
    let before = files(dir);
    for (args, want) in BAD {
        let o = run_in(dir, args, &[]);
        assert_eq!(
            o.status.code(),
            Some(*want),
            "{args:?}: {}",
            text(&o.stderr)
        );
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(text(&o.stdout), "");
        assert_eq!(files(dir), before, "{args:?}: no file written, none left");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.svg")).unwrap(),
        "old"
    );
}

#[test]
fn charts_through_a_server_holding_the_directory_are_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    let alone = tmp.path().join("alone");
    std::fs::create_dir_all(&served).unwrap();
    let o = run_in(&served, &["demo"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    add_token(&served.join("data"), "li.wei", "officer");
    wire::copy_dir(&served, &alone);
    let mut serve = Serve::start(&served.join("data"), &[]);
    assert!(served.join("data").join("sanbao.sock").exists());
    for args in CHARTS {
        let mut a = args.to_vec();
        a.extend(["--lang", "zh"]);
        let x = run_in(&served, &a, &[]);
        let y = run_in(&alone, &a, &[]);
        assert_eq!(x.status.code(), Some(0), "{a:?}: {}", text(&x.stderr));
        assert_eq!((x.stdout, x.stderr), (y.stdout, y.stderr), "{a:?}");
        let name = args.last().unwrap();
        assert_eq!(
            std::fs::read(served.join(name)).unwrap(),
            std::fs::read(alone.join(name)).unwrap(),
            "{a:?}"
        );
    }
    // The client's SANBAO_LANG, not the server's.
    let o = run_in(
        &served,
        &["chart", "levels", "--out", "env.svg"],
        &[("SANBAO_LANG", "zh")],
    );
    assert!(o.status.success());
    assert!(svg(&served.join("env.svg")).contains("各县区库款保障水平"));
    std::fs::write(served.join("keep.svg"), "old").unwrap();
    std::fs::write(alone.join("keep.svg"), "old").unwrap();
    let before = files(&served);
    for (args, want) in BAD {
        let x = run_in(&served, args, &[]);
        let y = run_in(&alone, args, &[]);
        assert_eq!(
            x.status.code(),
            Some(*want),
            "{args:?}: {}",
            text(&x.stderr)
        );
        assert_eq!(text(&x.stderr), text(&y.stderr), "{args:?}");
        assert_eq!(
            files(&served),
            before,
            "{args:?}: no file written, none left"
        );
    }
    assert_eq!(
        std::fs::read_to_string(served.join("keep.svg")).unwrap(),
        "old"
    );
    assert!(serve.terminate().success());
}
