//! `sanbao notices` (issue 16, seed item 8: 按月发送库款保障水平偏低情况的提示函): the
//! month's 提示函 — one letter for every county whose status was `warning` or `low`
//! on any day of the month — as `.docx` and printable `.html` in `--out DIR`, and with
//! `--issue` one `notice_issued` event per new letter, in one atomic batch.
//!
//! Guarantees: the letters' figures are [`crate::letter::gather`]'s (monitor's own);
//! a county that already has a notice for the month (not reversed) gets its letter
//! again under the number and date recorded, and is never issued twice; new numbers
//! follow the greatest number already used under the same prefix and year
//! (`PREFIX〔YYYY〕N号`), in county order; bad input (a month the log has no day of, an
//! unwritable DIR) is one `error:` line and writes nothing; with `--issue` the events
//! are appended before the files are written, so a file never claims a notice the log
//! does not hold (and a rerun without `--issue` prints the same letters again).

use super::output::{emit, note, to_json_line, write_papers};
use super::{NoticesArgs, Target};
use crate::error::CliError;
use crate::event::Event;
use crate::letter::{self, Letter, NoticeFacts};
use crate::values::{CountyId, Date, NoticeStatus};
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;

/// One letter as the command reports it (`--json`: `letters[]`).
#[derive(Serialize)]
struct Drafted {
    county: CountyId,
    name: String,
    doc_number: String,
    status: NoticeStatus,
    guarantee_level: crate::money::Ratio,
    issued_on: Date,
    /// The record holding the notice (`null` for a draft not issued).
    seq: Option<u64>,
    files: Vec<String>,
}

/// The status and level a notice warns of: the month's worst status and lowest level.
fn warned(f: &NoticeFacts) -> (NoticeStatus, crate::money::Ratio) {
    let status = if f.days_warning > 0 {
        NoticeStatus::Warning
    } else {
        NoticeStatus::Low
    };
    let level = f
        .lowest_level
        .map(|(_, l)| l)
        .or(f.guarantee_level)
        .unwrap_or_default();
    (status, level)
}

/// The greatest N of the numbers `PREFIX〔YEAR〕N号` among `used`.
fn last_number<'a>(used: impl Iterator<Item = &'a str>, prefix: &str, year: i32) -> u32 {
    let head = format!("{prefix}〔{year}〕");
    used.filter_map(|d| d.strip_prefix(head.as_str()))
        .filter_map(|rest| rest.strip_suffix('号'))
        .filter_map(|n| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

/// `sanbao notices`.
pub fn notices(t: &Target, a: NoticesArgs) -> Result<(), CliError> {
    let issued_on = a.issued_on.unwrap_or_else(Date::today_utc);
    if a.doc_prefix.trim().is_empty() || a.doc_prefix.contains(['〔', '〕']) {
        return Err(CliError::usage(format!(
            "--doc-prefix {:?}: give the prefix of the document number (e.g. 示财库), without 〔〕",
            a.doc_prefix
        ))
        .zh(format!(
            "--doc-prefix {:?}：请给出文号的机关代字（如 示财库），不含〔〕",
            a.doc_prefix
        )));
    }
    if a.issue && a.at_seq.is_some() {
        return Err(CliError::usage(
            "--issue records the notices at the head: draft with --at-seq, issue without it"
                .to_string(),
        )
        .zh("--issue 在日志最新处登记提示函：草拟可用 --at-seq，登记时不要加"));
    }
    if a.out.as_os_str().is_empty() {
        return Err(
            CliError::usage("--out DIR: give a directory".to_string()).zh("--out：请给出目录")
        );
    }
    // Made under the state, written after it is let go.
    let (letters, events, files, at_seq) = {
        let state = t.state(a.at_seq)?;
        let latest = state.max_effective_date.ok_or_else(|| {
            CliError::usage("notices: the log holds no events: there is no month to write about")
                .zh("日志中尚无事件，无可提示的月份")
        })?;
        if a.month.first_day() > latest {
            return Err(CliError::usage(format!(
                "notices --month {}: the log has no day of that month yet (its latest date is {latest})",
                a.month
            ))
            .zh(format!(
                "--month {}：日志尚无该月数据（最新日期为 {latest}）",
                a.month
            )));
        }
        if a.issue && issued_on < a.month.first_day() {
            return Err(CliError::usage(format!(
                "--issued-on {issued_on} is before {} begins",
                a.month
            ))
            .zh(format!("--issued-on {issued_on} 早于 {} 月初", a.month)));
        }
        let year = issued_on.year();
        let mut next = last_number(
            state.notices.iter().map(|n| n.doc_number.as_str()),
            &a.doc_prefix,
            year,
        );
        let mut letters = Vec::new();
        let mut events = Vec::new();
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for county in letter::notice_counties(&state, a.month) {
            let Some(facts) = letter::gather(&state, &county, a.month) else {
                continue;
            };
            let (status, level) = warned(&facts);
            let recorded = state
                .notices
                .iter()
                .find(|n| n.county == county && n.month == a.month && n.reversed_on.is_none());
            let (doc_number, on, seq) = match recorded {
                Some(n) => (n.doc_number.as_str().to_string(), n.issued_on, Some(n.seq)),
                None => {
                    next += 1;
                    (
                        format!("{}〔{year}〕{next}号", a.doc_prefix),
                        issued_on,
                        None,
                    )
                }
            };
            if recorded.is_none() && a.issue {
                events.push(json!({
                    "kind": "notice_issued",
                    "county": county,
                    "month": a.month,
                    "doc_number": doc_number,
                    "status": status,
                    "guarantee_level": level,
                    "issued_on": on,
                }));
            }
            let l = Letter {
                facts: &facts,
                issuer: a.issuer.clone(),
                doc_number: doc_number.clone(),
                issued_on: on,
                reply_by: None,
            };
            let stem = format!("{}-{}", a.month, county);
            let docx = a.out.join(format!("{stem}.docx"));
            let html = a.out.join(format!("{stem}.html"));
            files.push((docx.clone(), letter::docx(&l)));
            files.push((html.clone(), letter::html(&l).into_bytes()));
            letters.push(Drafted {
                county: county.clone(),
                name: facts.county_name.as_str().to_string(),
                doc_number,
                status,
                guarantee_level: level,
                issued_on: on,
                seq,
                files: vec![docx.display().to_string(), html.display().to_string()],
            });
        }
        (letters, events, files, state.head_seq)
    };
    // The directory must take files before anything is appended.
    std::fs::create_dir_all(&a.out).map_err(|e| {
        CliError::io(format!("cannot write {}: {e}", a.out.display()))
            .zh(format!("无法写入 {}：{e}（cannot write）", a.out.display()))
    })?;
    super::output::temp_beside(&a.out.join("probe"))?;
    let mut letters = letters;
    if !events.is_empty() {
        let inputs = events
            .into_iter()
            .map(|v| Event::parse_object(v).map_err(|e| CliError::event(None, &e)))
            .collect::<Result<Vec<_>, _>>()?;
        let acks = t.with_writer(|w, rt| {
            Ok(rt.block_on(w.append_as(crate::record::LOCAL, inputs, None))?)
        })?;
        let mut acks = acks.into_iter();
        for l in letters.iter_mut().filter(|l| l.seq.is_none()) {
            l.seq = acks.next().map(|a| a.seq);
        }
    }
    write_papers(&files).map_err(|e| {
        let seqs: Vec<String> = letters.iter().filter_map(|l| l.seq).map(|s| s.to_string()).collect();
        if a.issue && !seqs.is_empty() {
            CliError {
                code: e.code,
                message: format!(
                    "{} — the notices are recorded (records {}): run notices again without --issue to write their letters",
                    e.message,
                    seqs.join(", ")
                ),
                zh: Some(format!(
                    "{}——提示函已登记（第{}号记录），不加 --issue 再运行一次即可写出函件",
                    e.zh.as_deref().unwrap_or(&e.message),
                    seqs.join("、")
                )),
            }
        } else {
            e
        }
    })?;
    if a.json {
        return emit(&to_json_line(&json!({
            "month": a.month,
            "at_seq": at_seq,
            "issued": a.issue,
            "letters": letters,
        }))?);
    }
    let mut out = String::new();
    if letters.is_empty() {
        out.push_str(&format!(
            "{}：无县区库款保障水平低于关注线，无需发送提示函。\n",
            a.month
        ));
    }
    for l in &letters {
        let state_word = match (l.seq, a.issue) {
            (Some(seq), _) => format!("已登记 第{seq}号记录"),
            (None, _) => "草稿（未登记，加 --issue 登记）".to_string(),
        };
        out.push_str(&format!(
            "{}（{}）  {}  {}  {}  {}\n",
            l.name,
            l.county,
            l.doc_number,
            match l.status {
                NoticeStatus::Warning => "预警",
                NoticeStatus::Low => "偏低",
            },
            l.guarantee_level,
            state_word
        ));
    }
    emit(&out)?;
    note(&format!(
        "已写入 {} 封提示函（.docx 与 .html）至 {}（数据截至第{at_seq}号记录）",
        letters.len(),
        a.out.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::last_number;

    #[test]
    fn numbers_follow_the_last_of_the_prefix_and_year() {
        let used = [
            "示财库〔2021〕3号",
            "示财库〔2021〕12号",
            "示财库〔2020〕40号",
            "他〔2021〕99号",
        ];
        assert_eq!(last_number(used.iter().copied(), "示财库", 2021), 12);
        assert_eq!(last_number(used.iter().copied(), "示财库", 2022), 0);
        assert_eq!(last_number(used.iter().copied(), "他", 2021), 99);
    }
}
