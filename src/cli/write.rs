//! The commands that append to the log: `append` (one event or one atomic batch),
//! `import` (a bulk load of bare events and/or exported records, also the loading step
//! of `restore`) and `demo` (the sample city, [`SAMPLE_EVENTS`], into an empty DIR).
//!
//! Guarantees: every event goes through the one writer (`Target::with_writer`), so the
//! rules, the chain and atomic batches hold as for the service; an import's batches go
//! in one [`Chain`], so nothing after a refused batch is written, and its error names
//! the failing line and how many events before it were imported.

use super::output::{self, emit};
use super::plan;
use super::target::Target;
use crate::error::CliError;
use crate::event::{self, Event, InputEvent, InputShape};
use crate::log::writer::{Chain, Pending, Prepared, IMPORT_IN_FLIGHT};
use crate::log::{Ack, Writer};
use crate::record::Record;
use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Reads a whole input (a file, or stdin for `-`/none).
pub(crate) fn read_input(file: Option<&Path>) -> Result<String, CliError> {
    let mut buf = Vec::new();
    match file {
        None => output::stdin().read_to_end(&mut buf).map(|_| ()),
        Some(p) if p == Path::new("-") => output::stdin().read_to_end(&mut buf).map(|_| ()),
        Some(p) => std::fs::File::open(p)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map(|_| ()),
    }
    .map_err(|e| {
        CliError::io(format!("cannot read the input: {e}")).zh(format!("无法读取输入：{e}"))
    })?;
    String::from_utf8(buf).map_err(|_| {
        CliError::invalid("the input is not valid UTF-8").zh("输入不是有效的 UTF-8 文本")
    })
}

/// Prints one acknowledgement line per event: `{"duplicate","hash","seq"}`.
pub(super) fn print_acks(acks: &[Ack]) -> Result<(), CliError> {
    let mut out = BufWriter::new(output::stdout());
    for a in acks {
        serde_json::to_writer(&mut out, a).map_err(|e| CliError::io(e.to_string()))?;
        out.write_all(b"\n")
            .map_err(|e| CliError::io(e.to_string()))?;
    }
    out.flush().map_err(|e| CliError::io(e.to_string()))
}

/// `sanbao append [FILE]`: one event or one atomic batch, with `--idempotency-key`
/// for a single event and `--expect-seq`; prints one acknowledgement line per event.
pub(super) fn append(
    t: &Target,
    file: Option<PathBuf>,
    key: Option<String>,
    expect_seq: Option<u64>,
    dry_run: bool,
) -> Result<(), CliError> {
    let text = read_input(file.as_deref())?;
    let (shape, mut batch) = event::parse_input(&text).map_err(|(i, e)| CliError::event(i, &e))?;
    if let Some(k) = key {
        event::check_idempotency_key(&k).map_err(|r| {
            CliError::usage(format!("--idempotency-key {r}")).zh(format!(
                "--idempotency-key 须为 1 至 128 个可打印 ASCII 字符（{r}）"
            ))
        })?;
        if shape != InputShape::Single {
            return Err(
                CliError::usage("--idempotency-key needs a single event, not a batch")
                    .zh("--idempotency-key 只用于单个事件，不能用于一批事件"),
            );
        }
        if batch[0].idempotency_key.is_some() {
            return Err(CliError::usage(
                "--idempotency-key needs an event that carries no idempotency_key of its own",
            )
            .zh("--idempotency-key 只用于自身不带 idempotency_key 的事件"));
        }
        batch[0].idempotency_key = Some(k);
    }
    let by = crate::record::LOCAL;
    if dry_run {
        let d = t.with_writer(|w, rt| Ok(rt.block_on(w.dry_run_as(by, batch, expect_seq))?))?;
        let mut text = String::new();
        for a in crate::server::answers::DryRunAck::of(&d) {
            text.push_str(&super::output::to_json_line(&a)?);
        }
        super::output::emit(&text)?;
        return print_warnings(&d.acks);
    }
    let acks = t.with_writer(|w, rt| Ok(rt.block_on(w.append_as(by, batch, expect_seq))?))?;
    print_acks(&acks)?;
    print_warnings(&acks)
}

/// Writes one `warning:` line on stderr per warning of the acknowledgements (issue
/// 19: `other` spending of a watched county), in the language of the environment.
pub(super) fn print_warnings(acks: &[Ack]) -> Result<(), CliError> {
    // The client's language, also when the command runs in a server it was
    // forwarded to.
    let lang = output::env_lang();
    let mut err = output::stderr();
    for (i, a) in acks.iter().enumerate() {
        for w in &a.warnings {
            let line = match lang {
                crate::lang::Lang::Zh => {
                    format!("warning: 事件 {i}（第{}号记录）：{}", a.seq, w.message_zh)
                }
                crate::lang::Lang::En => {
                    format!("warning: event {i} (seq {}): {}", a.seq, w.message)
                }
            };
            writeln!(err, "{line}").map_err(|e| CliError::io(e.to_string()))?;
        }
    }
    Ok(())
}

/// One parsed line of an import file.
enum ImportLine {
    Event(InputEvent),
    Record(Record),
}

fn parse_import_line(line: &str) -> Result<ImportLine, event::EventError> {
    // The common line, an event, straight into its typed form; anything else (an
    // exported record, an error to name) through the full path.
    if let Some(e) = Event::parse_text(line) {
        return Ok(ImportLine::Event(e));
    }
    let (_, mut values) = event::read_values(line)?;
    if values.len() != 1 {
        return Err(event::EventError::whole(
            "a line must hold exactly one JSON object",
        ));
    }
    let v = values.pop().expect("one value");
    let is_record = v.get("seq").is_some() && v.get("hash").is_some() && v.get("event").is_some();
    if is_record {
        Record::from_export(v).map(ImportLine::Record)
    } else {
        Event::parse_object(v).map(ImportLine::Event)
    }
}

/// `sanbao import`'s batches on their way to the writer: the pending lines of one kind
/// (events or exported records) with their line numbers, and up to
/// [`IMPORT_IN_FLIGHT`] batches of events with the writer (one written while the next
/// is checked) while the next one is read, parsed and prepared. The batches go in one
/// [`Chain`], so nothing after a refused batch is written; the first error is the one
/// reported.
struct Importer<'a> {
    writer: &'a Writer,
    rt: &'a tokio::runtime::Runtime,
    chain: Chain,
    events: Vec<InputEvent>,
    records: Vec<Record>,
    line_numbers: Vec<usize>,
    in_flight: VecDeque<(Pending, Vec<usize>)>,
    /// Events acknowledged so far.
    imported: u64,
}

impl Importer<'_> {
    /// Adds a parsed line, first handing over what is pending if the line is of the
    /// other kind or the batch is full.
    fn push(&mut self, line: ImportLine, n: usize) -> Result<(), CliError> {
        const BATCH: usize = crate::log::writer::MAX_BATCH_EVENTS;
        let full = self.events.len() + self.records.len() == BATCH;
        match line {
            ImportLine::Event(e) => {
                if !self.records.is_empty() || full {
                    self.flush()?;
                }
                self.events.push(e);
            }
            ImportLine::Record(r) => {
                if !self.events.is_empty() || full {
                    self.flush()?;
                }
                self.records.push(r);
            }
        }
        self.line_numbers.push(n);
        Ok(())
    }

    /// Hands the pending lines to the writer: events stay in flight, records (rare:
    /// a continued export) are written at once.
    fn flush(&mut self) -> Result<(), CliError> {
        if !self.events.is_empty() {
            let batch = Prepared::new(std::mem::take(&mut self.events)).by(crate::record::LOCAL);
            if self.in_flight.len() == IMPORT_IN_FLIGHT {
                self.settle_oldest()?;
            }
            let pending = self
                .rt
                .block_on(self.writer.submit_in(&self.chain, batch))?;
            let numbers = std::mem::take(&mut self.line_numbers);
            self.in_flight.push_back((pending, numbers));
        } else if !self.records.is_empty() {
            self.settle()?;
            let records = std::mem::take(&mut self.records);
            let result = self.rt.block_on(self.writer.import_records(records));
            let numbers = std::mem::take(&mut self.line_numbers);
            self.answered(result, numbers)?;
        }
        Ok(())
    }

    /// Waits for the oldest batch in flight. If it failed, also waits for the others
    /// (refused unwritten, as their chain is broken) and answers its error.
    fn settle_oldest(&mut self) -> Result<(), CliError> {
        let Some((pending, numbers)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let result = self.rt.block_on(pending.wait());
        let answered = self.answered(result, numbers);
        if answered.is_err() {
            for (pending, _) in std::mem::take(&mut self.in_flight) {
                let later = self.rt.block_on(pending.wait());
                debug_assert!(later.is_err(), "nothing is written after a failed batch");
            }
        }
        answered
    }

    /// Waits for every batch in flight, oldest first.
    fn settle(&mut self) -> Result<(), CliError> {
        while !self.in_flight.is_empty() {
            self.settle_oldest()?;
        }
        Ok(())
    }

    /// Counts an answered batch, or names its failing line (`numbers`: the batch's
    /// line numbers).
    fn answered(
        &mut self,
        result: Result<Vec<Ack>, crate::log::AppendError>,
        numbers: Vec<usize>,
    ) -> Result<(), CliError> {
        let imported = self.imported;
        match result {
            Ok(acks) => {
                self.imported += acks.len() as u64;
                Ok(())
            }
            Err(crate::log::AppendError::Invalid { index, error }) => {
                let line = numbers[index.unwrap_or(0).min(numbers.len() - 1)];
                Err(CliError::invalid(format!(
                    "line {line}: {error} ({imported} events before its batch were imported)"
                ))
                .zh(format!(
                    "第{line}行：{}（此前已导入 {imported} 个事件）",
                    error.zh_line()
                )))
            }
            Err(e) => {
                let e = CliError::from(e);
                Err(CliError {
                    code: e.code,
                    message: format!(
                        "lines {}..{}: {} ({imported} events before them were imported)",
                        numbers[0],
                        numbers[numbers.len() - 1],
                        e.message
                    ),
                    zh: e.zh.map(|zh| {
                        format!(
                            "第{}至{}行：{zh}（此前已导入 {imported} 个事件）",
                            numbers[0],
                            numbers[numbers.len() - 1]
                        )
                    }),
                })
            }
        }
    }
}

/// `sanbao import FILE` (and, with `records_only`, the loading step of `restore`,
/// which takes exported records only). Answers how many were imported and the head.
pub(super) fn import(
    t: &Target,
    file: &Path,
    records_only: bool,
) -> Result<(u64, (u64, crate::values::Sha256Hex)), CliError> {
    // `-` is standard input (a pipe: no size, so the bar counts bytes without a total).
    let (input, size): (Box<dyn Read>, u64) = if file == Path::new("-") {
        (output::stdin(), 0)
    } else {
        let f = std::fs::File::open(file).map_err(|e| {
            CliError::io(format!("cannot open {}: {e}", file.display()))
                .zh(format!("无法打开 {}：{e}", file.display()))
        })?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let bar = output::progress_bytes(size, "importing");
    let mut reader = std::io::BufReader::with_capacity(1 << 20, input);
    let (imported, head) = t.with_writer(|w, rt| {
        let mut im = Importer {
            writer: w,
            rt,
            events: Vec::new(),
            records: Vec::new(),
            chain: Chain::new(),
            line_numbers: Vec::new(),
            in_flight: VecDeque::new(),
            imported: 0,
        };
        let mut read = 0u64;
        // One line buffer for the whole file; the bar moves every 64 KiB.
        let mut line = String::new();
        let mut n = 0;
        loop {
            n += 1;
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(len) => {
                    if (read + len as u64) >> 16 != read >> 16 {
                        bar.set_position(read + len as u64);
                    }
                    read += len as u64;
                }
                Err(e) => {
                    im.settle()?;
                    return Err(CliError::io(format!(
                        "line {n}: cannot read: {e} ({} events before it were imported)",
                        im.imported
                    ))
                    .zh(format!(
                        "第{n}行：无法读取：{e}（此前已导入 {} 个事件）",
                        im.imported
                    )));
                }
            }
            // As `BufRead::lines`: without its "\n" or "\r\n".
            let line = match line.strip_suffix('\n') {
                Some(l) => l.strip_suffix('\r').unwrap_or(l),
                None => &line,
            };
            if line.trim().is_empty() {
                continue;
            }
            match parse_import_line(line) {
                Ok(ImportLine::Event(_)) if records_only => {
                    im.flush()?;
                    im.settle()?;
                    return Err(CliError::invalid(format!(
                        "line {n}: a bare event, not an exported record: restore takes exports only (use `sanbao import` to append events) ({} records before it were read)",
                        im.imported
                    ))
                    .zh(format!(
                        "第{n}行：是单个事件而非导出的记录：restore 只接受导出文件（追加事件请用 `sanbao import`）（此前已读入 {} 条记录）",
                        im.imported
                    )));
                }
                Ok(parsed) => im.push(parsed, n)?,
                Err(e) => {
                    im.flush()?;
                    im.settle()?;
                    return Err(CliError::invalid(format!(
                        "line {n}: {e} ({} events before it were imported)",
                        im.imported
                    ))
                    .zh(format!(
                        "第{n}行：{}（此前已导入 {} 个事件）",
                        e.zh_line(),
                        im.imported
                    )));
                }
            }
        }
        im.flush()?;
        im.settle()?;
        let head = w
            .state()
            .read()
            .map(|s| (s.head_seq, s.head_hash))
            .unwrap_or_default();
        Ok((im.imported, head))
    })?;
    bar.finish_and_clear();
    if !records_only {
        emit(&format!(
            "imported {imported} events; the log's head is seq {} ({})\n",
            head.0, head.1
        ))?;
    }
    Ok((imported, head))
}

/// The sample city's events, shipped in `replay/sample-city/` and built into the binary.
pub const SAMPLE_EVENTS: &str = include_str!("../../replay/sample-city/events.jsonl");

/// `sanbao demo`: loads the sample city into an empty DIR (or keeps the log already
/// there) and prints next month's dispatch plan.
pub(super) fn demo(t: &Target, lang: crate::lang::Lang) -> Result<(), CliError> {
    let dir = t.dir();
    let (store, head) = t.store()?;
    drop(store);
    if head.seq == 0 {
        let (_, events) = event::parse_input(SAMPLE_EVENTS).map_err(|(i, e)| {
            CliError::io(format!("the shipped sample is broken at event {i:?}: {e}"))
        })?;
        let n = events.len();
        t.with_writer(|w, rt| {
            for chunk in events.chunks(crate::log::writer::MAX_BATCH_EVENTS) {
                rt.block_on(w.append_as(crate::record::LOCAL, chunk.to_vec(), None))?;
            }
            Ok(())
        })?;
        emit(&format!(
            "Loaded the sample city (synthetic figures, replay/sample-city): {n} events into {}\n",
            dir.display()
        ))?;
    } else {
        emit(&format!(
            "Using the existing log in {} (demo loads the sample only into an empty directory)\n",
            dir.display()
        ))?;
    }
    // The report is made under the state, and printed after it is let go.
    let report = {
        let state = t.state(None)?;
        let Some(latest) = state.max_effective_date else {
            return emit("The log is empty: nothing to plan.\n");
        };
        let Some(next) = latest.month().add(1) else {
            return emit("The log ends in 2099-12: there is no next month to plan.\n");
        };
        // The last whole month: the one whose 提示函 are due.
        let latest_month = latest.month().add(-1).unwrap_or(latest.month());
        format!(
            "Latest business date {latest}; next month's dispatch plan:\n\n{}\nMore: sanbao --data {} monitor · position · forecast --from {next} · replay · verify\n中文: monitor --lang zh · monitor --out 监测.xlsx · notices --month {latest_month} --out 提示函/ · chart levels --out levels.svg\n",
            plan::plan_text(&state, next, lang),
            dir.display()
        )
    };
    emit(&report)
}
