//! The notice letter on paper: a letter of the sample city (replay/sample-city),
//! written as HTML by `sanbao::letter::html`, printed to PDF by headless Chromium and
//! rasterized by poppler's `pdftoppm`. It must fit one A4 page, draw text (dark
//! pixels), and its PDF text must hold the title and the addressee — so the page is
//! the letter, not an error page, and the CJK text was set as text.
//!
//! Needs `chromium`, `poppler-utils` and a CJK font (`fonts-wqy-microhei`): missing
//! tools fail the test, they never skip it. `SANBAO_LETTER_OUT=DIR` also copies the
//! HTML, PDF and PNG there (to look at them).

use sanbao::event::Event;
use sanbao::letter::{self, Letter, NoticeFacts};
use sanbao::record::{Record, GENESIS};
use sanbao::state::State;
use sanbao::values::{CountyId, Date, Month};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The sample city's log folded into a state, as the writer would have it.
fn sample_city() -> State {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/sample-city/events.jsonl");
    let text = std::fs::read_to_string(&path).expect("the sample city's events");
    let mut state = State::new();
    let mut prev = GENESIS;
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let e = Event::parse_object(v)
            .unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
            .event;
        let r = Record::new(state.head_seq + 1, 0, None, prev, e);
        prev = r.hash;
        state.fold(&r);
    }
    state
}

/// The richest letter of the sample city: 建昌县 in December 2021 — at warning on the
/// month's last day, 17 days under the warning line, wages in arrears (so the letter
/// has every paragraph the sample city can give, and its longest tables).
fn december_jianchang(state: &State) -> NoticeFacts {
    let month = Month::parse("2021-12").unwrap();
    let county = CountyId::parse("jianchang").unwrap();
    assert!(
        letter::notice_counties(state, month).contains(&county),
        "jianchang is noticed for 2021-12"
    );
    let f = letter::gather(state, &county, month).expect("a noticed county has facts");
    assert_eq!(f.status, sanbao::query::Status::Warning);
    assert!(!f.arrears.is_empty() && !f.payroll.is_empty());
    f
}

/// Runs a tool to completion within `limit`, or fails the test; a missing tool fails
/// it too.
fn run(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let name = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} cannot run ({e}): install chromium and poppler-utils"));
    let start = Instant::now();
    loop {
        if child.try_wait().expect("waiting").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{name} did not finish in {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{name} failed ({}); stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_sample_city_letter_prints_on_one_a4_page_with_its_text() {
    let state = sample_city();
    let facts = december_jianchang(&state);
    let issued_on: Date = facts.month_end.add_days(2);
    let l = Letter {
        facts: &facts,
        issuer: "示范市财政局".into(),
        doc_number: format!("示财库〔{}〕1号", issued_on.year()),
        issued_on,
        reply_by: Some(issued_on.add_days(10)),
    };
    let html = letter::html(&l);
    let addressee = format!("{}财政局：", facts.county_name.as_str());

    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("letter.html");
    let pdf_path = dir.path().join("letter.pdf");
    std::fs::write(&html_path, &html).unwrap();
    let profile = dir.path().join("chromium-profile");
    run(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-pdf-header-footer",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--print-to-pdf={}", pdf_path.display()))
            .arg(format!("file://{}", html_path.display())),
        Duration::from_secs(180),
    );
    assert!(pdf_path.exists(), "chromium wrote no PDF");
    // Kept before the checks, to look at a failing letter too.
    if let Some(out) = std::env::var_os("SANBAO_LETTER_OUT") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(&html_path, out.join("letter.html")).unwrap();
        std::fs::copy(&pdf_path, out.join("letter.pdf")).unwrap();
        std::fs::write(out.join("letter.docx"), letter::docx(&l)).unwrap();
    }

    // One page.
    let info = run(
        Command::new("pdfinfo").arg(&pdf_path),
        Duration::from_secs(60),
    );
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse::<u32>().unwrap())
        .expect("pdfinfo names the pages");
    assert_eq!(pages, 1, "the letter must fit one page:\n{info}");
    assert!(info.contains("(A4)"), "A4:\n{info}");

    // Rasterized: one PNG, with text drawn on it.
    let prefix = dir.path().join("page");
    run(
        Command::new("pdftoppm")
            .args(["-png", "-r", "60"])
            .arg(&pdf_path)
            .arg(&prefix),
        Duration::from_secs(60),
    );
    let pngs: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    assert_eq!(pngs.len(), 1, "pdftoppm pages: {pngs:?}");
    let share = dark_share(&pngs[0]);
    assert!(
        (0.01..0.30).contains(&share),
        "dark pixels are {:.2}% of the page: no text, or a black page",
        share * 100.0
    );

    // The PDF's text is the letter's.
    let text = run(
        Command::new("pdftotext").arg(&pdf_path).arg("-"),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    for want in [
        letter::TITLE,
        addressee.as_str(),
        l.doc_number.as_str(),
        "特此函告。",
    ] {
        assert!(
            text.contains(want),
            "{want:?} not in the PDF's text:\n{text}"
        );
    }
}

/// The share of a PNG's pixels that are dark (luma < 128).
fn dark_share(path: &Path) -> f64 {
    let file = std::fs::File::open(path).unwrap();
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let (mut dark, mut all) = (0u64, 0u64);
    for px in bytes.chunks_exact(channels) {
        let luma = match channels {
            1 | 2 => u32::from(px[0]),
            _ => (299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2])) / 1000,
        };
        all += 1;
        if luma < 128 {
            dark += 1;
        }
    }
    dark as f64 / all as f64
}
