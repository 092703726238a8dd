//! Papers (issue 16) through the real binary on the sample city: every `.xlsx` is
//! read back (calamine) and every `.csv` parsed, and each amount, ratio and count is
//! compared with the `--json` output of the same query, to the cent; the Chinese
//! tables fit 120 columns; bad `--out` writes nothing; and over HTTP `?format=`
//! answers the same files with their headers.

use crate::common;
use crate::wire;

use calamine::{open_workbook, Data, Reader, Xlsx};
use common::{code, run, stderr, stdout};
use serde_json::Value;
use std::path::Path;

/// A column of a section and the member of the JSON row it shows.
#[derive(Clone, Copy)]
enum Col {
    /// An amount (string of yuan in JSON).
    Money(usize, &'static str),
    /// An amount or null.
    OptMoney(usize, &'static str),
    /// A ratio (string) or null.
    Ratio(usize, &'static str),
    /// An integer.
    Int(usize, &'static str),
    /// Text equal to the JSON string.
    Text(usize, &'static str),
}

fn cents_of_text(s: &str, scale: u32) -> i128 {
    // "123.45" in units of 10^-scale (exact, no float).
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    assert!(
        f.len() as u32 <= scale,
        "{s} has more than {scale} decimals"
    );
    let mut f = f.to_string();
    while (f.len() as u32) < scale {
        f.push('0');
    }
    let v: i128 = format!("{i}{f}").parse().unwrap_or_else(|_| panic!("{s}"));
    if neg {
        -v
    } else {
        v
    }
}

/// One cell as text, whatever it holds.
trait CellText {
    /// A number, scaled to integer units of 10^-scale (None: empty).
    fn units(&self, scale: u32) -> Option<i128>;
    /// Text.
    fn text(&self) -> String;
}

impl CellText for Data {
    fn units(&self, scale: u32) -> Option<i128> {
        match self {
            Data::Empty => None,
            Data::Float(f) => Some((f * 10f64.powi(scale as i32)).round() as i128),
            Data::Int(i) => Some(i128::from(*i) * 10i128.pow(scale)),
            other => panic!("expected a number, found {other:?}"),
        }
    }
    fn text(&self) -> String {
        match self {
            Data::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl CellText for String {
    fn units(&self, scale: u32) -> Option<i128> {
        (!self.is_empty()).then(|| cents_of_text(self, scale))
    }
    fn text(&self) -> String {
        self.clone()
    }
}

/// Compares `rows` (data rows of a sheet or a CSV) with the JSON rows. `money_scale`
/// is 2 for yuan, 6 for 万元.
fn compare<C: CellText>(
    what: &str,
    rows: &[Vec<C>],
    json: &[Value],
    cols: &[Col],
    money_scale: u32,
) {
    assert_eq!(rows.len(), json.len(), "{what}: rows");
    for (i, (row, j)) in rows.iter().zip(json).enumerate() {
        for c in cols {
            match *c {
                Col::Money(k, m) | Col::OptMoney(k, m) => {
                    // One cent is one unit of 0.01 元 and of 0.000001 万元 alike.
                    let want = j[m].as_str().map(|s| cents_of_text(s, 2));
                    if matches!(c, Col::Money(..)) {
                        assert!(want.is_some(), "{what}[{i}].{m} is not an amount: {}", j[m]);
                    }
                    assert_eq!(row[k].units(money_scale), want, "{what}[{i}].{m}");
                }
                Col::Ratio(k, m) => {
                    let want = j[m].as_str().map(|s| cents_of_text(s, 4));
                    assert_eq!(row[k].units(4), want, "{what}[{i}].{m}");
                }
                Col::Int(k, m) => {
                    assert_eq!(
                        row[k].units(0),
                        Some(i128::from(
                            j[m].as_i64().unwrap_or_else(|| panic!("{what}[{i}].{m}"))
                        )),
                        "{what}[{i}].{m}"
                    );
                }
                Col::Text(k, m) => {
                    assert_eq!(row[k].text(), j[m].as_str().unwrap(), "{what}[{i}].{m}");
                }
            }
        }
    }
}

/// A section: its key, the JSON rows it shows, and its columns.
struct Spec {
    key: &'static str,
    rows: Vec<Value>,
    cols: Vec<Col>,
}

fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Every `parent[member]` child of every row of `parents`, each marked with its
/// parent's county (the rows of a section that lists nested JSON flat).
fn nested(parents: &Value, member: &str) -> Vec<Value> {
    arr(parents)
        .iter()
        .flat_map(|p| {
            arr(&p[member]).into_iter().map(move |mut c| {
                c["county"] = p["county"].clone();
                c
            })
        })
        .collect()
}

/// The rows of a CSV file's bytes (after its BOM), header excluded.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "BOM");
    csv::Reader::from_reader(&bytes[3..])
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn position_specs(p: &Value) -> Vec<Spec> {
    use Col::*;
    let funds = nested(&p["counties"], "funds");
    vec![
        Spec {
            key: "city",
            rows: vec![p["city"].clone()],
            cols: vec![Money(0, "treasury")],
        },
        Spec {
            key: "counties",
            rows: arr(&p["counties"]),
            cols: vec![
                Text(0, "county"),
                Text(1, "name"),
                Money(2, "treasury"),
                Money(3, "wage_reserve"),
                Money(4, "cash"),
                Money(5, "outstanding_advances"),
            ],
        },
        Spec {
            key: "funds",
            rows: funds,
            cols: vec![
                Text(0, "county"),
                Int(2, "fiscal_year"),
                Money(4, "entitled"),
                Money(5, "dispatched"),
                Money(6, "remaining"),
            ],
        },
    ]
}

fn monitor_specs(m: &Value) -> Vec<Spec> {
    use Col::*;
    let spells = nested(&m["watch_history"], "spells");
    let late: Vec<Value> = arr(&m["payroll_history"])
        .into_iter()
        .filter(|p| p["days_late"].as_u64().unwrap() > 0)
        .collect();
    vec![
        Spec {
            key: "levels",
            rows: arr(&m["counties"]),
            cols: vec![
                Text(0, "county"),
                Money(2, "cash"),
                OptMoney(3, "avg_monthly_outflow"),
                Ratio(4, "guarantee_level"),
                Ratio(6, "warning_line"),
                Ratio(7, "alert_line"),
                Ratio(8, "idle_line"),
            ],
        },
        Spec {
            key: "payroll",
            rows: arr(&m["payroll"]),
            cols: vec![
                Text(0, "county"),
                Text(2, "payroll_month"),
                Money(3, "wage_bill"),
                Text(4, "payday"),
                Money(6, "deposited"),
                Money(7, "paid"),
                Money(8, "shortfall"),
            ],
        },
        Spec {
            key: "arrears",
            rows: arr(&m["arrears"]),
            cols: vec![
                Text(0, "county"),
                Money(3, "wage_bill"),
                Money(5, "paid"),
                Money(6, "unpaid"),
                Int(7, "days_overdue"),
            ],
        },
        Spec {
            key: "direct_overdue",
            rows: arr(&m["direct_overdue"]),
            cols: vec![
                Text(0, "county"),
                Int(2, "fiscal_year"),
                Money(3, "undispatched"),
            ],
        },
        Spec {
            key: "discrepancies",
            rows: arr(&m["discrepancies"]),
            cols: vec![
                Text(0, "county"),
                Money(4, "reported"),
                Money(5, "computed"),
            ],
        },
        Spec {
            key: "watchlist",
            rows: arr(&m["watchlist"]),
            cols: vec![Text(0, "county")],
        },
        Spec {
            key: "attention",
            rows: arr(&m["attention"]),
            cols: vec![
                Text(0, "county"),
                Ratio(2, "guarantee_level"),
                Int(3, "tight_months"),
            ],
        },
        Spec {
            key: "tight_months",
            rows: arr(&m["tight_months"]),
            cols: vec![Text(0, "county"), Int(2, "months"), Text(3, "since")],
        },
        Spec {
            key: "watch_history",
            rows: spells,
            cols: vec![Text(0, "county"), Text(2, "from")],
        },
        Spec {
            key: "late_deposits",
            rows: late,
            cols: vec![
                Text(0, "county"),
                Money(3, "wage_bill"),
                Int(6, "days_late"),
            ],
        },
        Spec {
            key: "notices",
            rows: arr(&m["notices"]),
            cols: vec![
                Text(0, "county"),
                Text(2, "doc_number"),
                Text(3, "month"),
                Ratio(5, "guarantee_level"),
                Int(7, "seq"),
            ],
        },
    ]
}

fn plan_specs(p: &Value) -> Vec<Spec> {
    use Col::*;
    vec![
        Spec {
            key: "summary",
            rows: vec![p.clone()],
            cols: vec![
                Money(0, "city_available"),
                Money(1, "total_planned"),
                Money(2, "total_funded"),
            ],
        },
        Spec {
            key: "tiers",
            rows: arr(&p["tiers"]),
            cols: vec![Money(1, "planned"), Money(2, "funded")],
        },
        Spec {
            key: "lines",
            rows: arr(&p["lines"]),
            cols: vec![
                Text(0, "county"),
                Int(3, "fiscal_year"),
                Money(4, "planned"),
                Money(5, "funded"),
                Money(6, "shortfall"),
            ],
        },
        Spec {
            key: "counties",
            rows: arr(&p["counties"]),
            cols: vec![
                Text(0, "county"),
                Money(2, "opening_cash"),
                Money(3, "funded_in"),
                Money(4, "expected_revenue"),
                Money(5, "needs"),
                Money(6, "projected_end"),
                Ratio(7, "projected_level"),
                Money(9, "emergency_recommended"),
            ],
        },
    ]
}

fn forecast_specs(f: &Value) -> Vec<Spec> {
    use Col::*;
    let months = nested(&f["counties"], "months");
    vec![Spec {
        key: "months",
        rows: months,
        cols: vec![
            Text(0, "county"),
            Text(2, "month"),
            Money(3, "opening_cash"),
            Money(4, "funded_in"),
            Money(5, "expected_revenue"),
            Money(6, "needs"),
            Money(7, "wage_need"),
            Money(8, "projected_end"),
            Ratio(9, "wage_cover"),
        ],
    }]
}

fn replay_specs(r: &Value) -> Vec<Spec> {
    use Col::*;
    let mut s = position_specs(&r["position"]);
    s.extend(monitor_specs(&r["monitor"]));
    s.push(Spec {
        key: "plans",
        rows: arr(&r["plans"]),
        cols: vec![
            Text(0, "month"),
            Int(1, "based_on_seq"),
            Text(2, "plan_sha256"),
        ],
    });
    s
}

fn sample() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(tmp.path(), &["demo"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    tmp
}

/// The data rows of a sheet (below the head row, which is the first row whose first
/// cell is the county / first head; we find it as the row after the first blank one).
fn sheet_rows(
    wb: &mut Xlsx<std::io::BufReader<std::fs::File>>,
    name: &str,
) -> (Vec<Vec<Data>>, Vec<Vec<Data>>) {
    let range = wb
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    // The title block ends with a blank row; the heads follow it.
    let blank = rows
        .iter()
        .position(|r| r.iter().all(|c| matches!(c, Data::Empty)))
        .expect("a blank row after the title block");
    let block = rows[..blank].to_vec();
    let mut data = rows[blank + 2..].to_vec();
    // An empty section writes one line saying so.
    if data.len() == 1
        && matches!(data[0].get(1), None | Some(Data::Empty))
        && matches!(data[0][0], Data::String(_))
    {
        data.clear();
    }
    (block, data)
}

/// Runs a query as JSON and as a workbook and CSV files, and compares them.
fn check_query(
    dir: &Path,
    out: &Path,
    name: &str,
    args: &[&str],
    specs: fn(&Value) -> Vec<Spec>,
    head_hash: &str,
) {
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let o = run(dir, &json_args, "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let specs = specs(&json);
    // A plan's paper traces to its plan_sha256, the others to the head hash.
    let trace = json["plan_sha256"]
        .as_str()
        .unwrap_or(head_hash)
        .to_string();

    // The workbook, in Chinese (the default for files).
    let xlsx = out.join(format!("{name}.xlsx"));
    let mut a = args.to_vec();
    let xs = xlsx.to_str().unwrap().to_string();
    a.extend(["--out", &xs]);
    let o = run(dir, &a, "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "nothing on stdout with --out");
    assert!(stderr(&o).contains("已写入"), "{}", stderr(&o));
    let mut wb: Xlsx<_> = open_workbook(&xlsx).expect("a workbook");
    let sheets = wb.sheet_names().to_vec();
    assert_eq!(
        sheets.len(),
        specs.len(),
        "{name}: one sheet per section: {sheets:?}"
    );
    for (sheet, spec) in sheets.iter().zip(&specs) {
        let (block, rows) = sheet_rows(&mut wb, sheet);
        let block_text: String = block
            .iter()
            .flatten()
            .map(|c| c.text())
            .collect::<Vec<_>>()
            .join("|");
        assert!(
            block_text.contains(&trace),
            "{name}/{sheet}: the title block names the hash: {block_text}"
        );
        assert!(block_text.contains("单位"), "{block_text}");
        compare(
            &format!("{name}.xlsx/{}", spec.key),
            &rows,
            &spec.rows,
            &spec.cols,
            2,
        );
    }

    // CSV, in English and 万元: one file per section (or NAME.csv for one).
    let csv = out.join(format!("{name}.csv"));
    let cs = csv.to_str().unwrap().to_string();
    let mut a = args.to_vec();
    a.extend(["--out", &cs, "--lang", "en", "--unit", "wan"]);
    let o = run(dir, &a, "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for spec in &specs {
        let file = if specs.len() == 1 {
            csv.clone()
        } else {
            out.join(format!("{name}-{}.csv", spec.key))
        };
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rows = csv_rows(&bytes);
        compare(
            &format!("{}", file.display()),
            &rows,
            &spec.rows,
            &spec.cols,
            6,
        );
    }
}

fn head_hash(dir: &Path) -> String {
    let o = run(dir, &["verify", "--json"], "");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["head_hash"].as_str().unwrap().to_string()
}

#[test]
fn every_paper_reads_back_to_the_cent() {
    let city = sample();
    let out = tempfile::tempdir().unwrap();
    let hash = head_hash(city.path());
    let d = city.path();
    check_query(
        d,
        out.path(),
        "position",
        &["position", "--as-of", "2021-12-31"],
        position_specs,
        &hash,
    );
    check_query(
        d,
        out.path(),
        "monitor",
        &["monitor", "--as-of", "2021-12-31"],
        monitor_specs,
        &hash,
    );
    check_query(
        d,
        out.path(),
        "monitor-june",
        &["monitor", "--as-of", "2021-06-18"],
        monitor_specs,
        &hash,
    );
    check_query(
        d,
        out.path(),
        "plan",
        &["plan", "--month", "2022-02"],
        plan_specs,
        &hash,
    );
    check_query(
        d,
        out.path(),
        "forecast",
        &["forecast", "--from", "2022-01", "--months", "3"],
        forecast_specs,
        &hash,
    );
    check_query(
        d,
        out.path(),
        "replay",
        &["replay", "--as-of", "2021-10-15"],
        replay_specs,
        &hash,
    );
}

#[test]
fn chinese_tables_fit_120_columns_and_wide_keeps_rows_whole() {
    let city = sample();
    let d = city.path();
    for args in [
        vec!["monitor", "--as-of", "2021-12-31"],
        vec!["position"],
        vec!["plan", "--month", "2022-02"],
        vec!["forecast", "--from", "2022-01"],
    ] {
        let mut a = args.clone();
        a.extend(["--lang", "zh"]);
        let o = run(d, &a, "");
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let t = stdout(&o);
        for l in t.lines() {
            assert!(
                unicode_width::UnicodeWidthStr::width(l) <= 120,
                "{args:?}: {l}"
            );
        }
        assert!(t.contains("县区名称"), "{t}");
        let mut w = a.clone();
        w.push("--wide");
        let wide = stdout(&run(d, &w, ""));
        assert!(wide.lines().count() <= t.lines().count());
    }
    // Statuses and reasons in the bureau's words, and the JSON unchanged by --lang.
    let t = stdout(&run(
        d,
        &["monitor", "--as-of", "2021-12-31", "--lang", "zh"],
        "",
    ));
    assert!(
        t.contains("预警") && t.contains("闲置") && t.contains("重点关注地区"),
        "{t}"
    );
    let en = stdout(&run(
        d,
        &["monitor", "--as-of", "2021-12-31", "--json", "--lang", "en"],
        "",
    ));
    let zh = stdout(&run(
        d,
        &[
            "monitor",
            "--as-of",
            "2021-12-31",
            "--json",
            "--lang",
            "zh",
            "--unit",
            "wan",
        ],
        "",
    ));
    assert_eq!(en, zh);
    // SANBAO_LANG picks the language when --lang is not given.
    let o = std::process::Command::new(common::bin())
        .args(["--data", d.to_str().unwrap(), "position"])
        .env("SANBAO_LANG", "zh")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("市本级库款"));
    let o = std::process::Command::new(common::bin())
        .args(["--data", d.to_str().unwrap(), "position"])
        .env_remove("SANBAO_LANG")
        .env("LC_ALL", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("市本级库款"));
    let o = std::process::Command::new(common::bin())
        .args(["--data", d.to_str().unwrap(), "position"])
        .env_remove("SANBAO_LANG")
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("City treasury"));
    // Even a mistake the argument parser finds is said in the language asked.
    let o = run(d, &["monitor", "--lang", "zh", "--bogus"], "");
    assert_eq!(code(&o), 2);
    assert!(
        common::one_error_line(&o).starts_with("error: 未知参数："),
        "{}",
        stderr(&o)
    );
    let o = run(
        d,
        &[
            "monitor",
            "--lang",
            "zh",
            "--as-of",
            "2021-12-31",
            "--at-seq",
            "99999",
        ],
        "",
    );
    assert_eq!(code(&o), 2);
    assert!(
        common::one_error_line(&o).contains("超出日志最新记录号"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_out_says_one_error_and_writes_nothing() {
    let city = sample();
    let d = city.path();
    let out = tempfile::tempdir().unwrap();
    let before = std::fs::read_dir(out.path()).unwrap().count();
    let txt = out.path().join("m.txt");
    let o = run(d, &["monitor", "--out", txt.to_str().unwrap()], "");
    assert_eq!(code(&o), 2);
    assert!(common::one_error_line(&o).contains(".xlsx, .csv or .json"));
    let missing = out.path().join("no/such/dir/m.xlsx");
    let o = run(d, &["monitor", "--out", missing.to_str().unwrap()], "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // A file is Chinese by default, and so is its error.
    assert!(
        common::one_error_line(&o).contains("无法写入"),
        "{}",
        stderr(&o)
    );
    let o = run(
        d,
        &[
            "monitor",
            "--out",
            missing.to_str().unwrap(),
            "--lang",
            "en",
        ],
        "",
    );
    assert!(
        common::one_error_line(&o).contains("cannot write"),
        "{}",
        stderr(&o)
    );
    // Bad input: an unknown county writes no file.
    let x = out.path().join("p.xlsx");
    let o = run(
        d,
        &[
            "position",
            "--county",
            "nowhere",
            "--out",
            x.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 2);
    assert!(!x.exists());
    let o = run(d, &["monitor", "--json", "--out", x.to_str().unwrap()], "");
    assert_eq!(code(&o), 2, "--json and --out conflict");
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        before,
        "nothing written"
    );
}

#[test]
fn the_read_routes_answer_the_same_papers_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert_eq!(code(&run(&dir, &["demo"], "")), 0);
    let tokens = wire::RoleTokens::add(&dir);
    let server = wire::Serve::start(&dir, &[]);
    let addr = server.addr.clone();
    let t = tokens.auditor.as_str();
    let json = wire::get(&addr, "/v1/monitor?as_of=2021-12-31", t);
    assert_eq!(json.status, 200);
    let m = json.json();
    let specs = monitor_specs(&m);

    let x = wire::get(&addr, "/v1/monitor?as_of=2021-12-31&format=xlsx", t);
    assert_eq!(x.status, 200, "{}", x.text());
    assert_eq!(
        x.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert_eq!(
        x.header("content-disposition"),
        Some("attachment; filename=\"monitor-2021-12-31.xlsx\"")
    );
    let file = tmp.path().join("m.xlsx");
    std::fs::write(&file, &x.body).unwrap();
    let mut wb: Xlsx<_> = open_workbook(&file).unwrap();
    let sheets = wb.sheet_names().to_vec();
    assert_eq!(sheets.len(), specs.len());
    assert_eq!(sheets[0], "库款保障水平", "Chinese by default");
    for (sheet, spec) in sheets.iter().zip(&specs) {
        let (_, rows) = sheet_rows(&mut wb, sheet);
        compare(
            &format!("http xlsx/{}", spec.key),
            &rows,
            &spec.rows,
            &spec.cols,
            2,
        );
    }

    // CSV: one section per request.
    let r = wire::get(&addr, "/v1/monitor?as_of=2021-12-31&format=csv", t);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "section", "{}", r.text());
    for spec in &specs {
        let r = wire::get(
            &addr,
            &format!(
                "/v1/monitor?as_of=2021-12-31&format=csv&section={}&unit=wan&lang=en",
                spec.key
            ),
            t,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));

        let rows = csv_rows(&r.body);
        compare(
            &format!("http csv/{}", spec.key),
            &rows,
            &spec.rows,
            &spec.cols,
            6,
        );
    }
    // A single-section answer needs no section; forecast's CSV.
    let f = wire::get(&addr, "/v1/forecast?from=2022-01&format=csv", t);
    assert_eq!(f.status, 200, "{}", f.text());
    assert_eq!(
        f.header("content-disposition"),
        Some("attachment; filename=\"forecast-2022-01.csv\"")
    );
    // Mistakes are 400s naming the parameter; JSON stays the default.
    for (q, field) in [
        ("format=pdf", "format"),
        ("format=xlsx&section=levels", "section"),
        ("format=csv&section=nowhere", "section"),
        ("format=xlsx&lang=fr", "lang"),
        ("format=xlsx&unit=jin", "unit"),
    ] {
        let r = wire::get(&addr, &format!("/v1/monitor?{q}"), t);
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], field, "{q}");
    }
    let plain = wire::get(&addr, "/v1/monitor?as_of=2021-12-31&format=json", t);
    assert_eq!(plain.body, json.body);
}
