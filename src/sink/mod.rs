//! `sanbao sink postgres`: one city's log flowing into a PostgreSQL database that a
//! bureau's and a province's tools (SQL, BI dashboards, Excel through ODBC) read —
//! the records themselves and, derived by sanbao's own read models, every county's
//! day-end figures, payroll and watch list per day, and every issued plan. Several
//! cities write into one database, each under its city id.
//!
//! The sink reads a city's log from a data directory ([`Source::Dir`]) or from a
//! running server's event stream ([`Source::Server`], through [`crate::follow`]'s
//! client, resuming with `Last-Event-ID`), folds it into a [`State`] as `serve` does,
//! and writes batches.
//!
//! Guarantees:
//! - **exactly once**: each batch — its records, the derived rows it changes, and the
//!   sink's position (`sink_position`: city, seq, hash) — is one PostgreSQL
//!   transaction; a sink killed at any point leaves the database at the end of a
//!   whole batch, and a restart resumes after it (the position row is locked in each
//!   transaction, so two sinks of one city cannot both write a batch);
//! - **checked**: every record's hash is recomputed from its content (or, from a
//!   server, checked by the stream reader) and its seq and `prev_hash` continue the
//!   one before; one that does not stops the sink with [`SinkError::Damaged`]
//!   (exit 5) naming its seq, before anything of its batch is written;
//! - **the same log**: on a restart the log is read from its start and the record at
//!   the stored position must have the stored hash; a log truncated (shorter than the
//!   position) or rewritten (another hash there) is refused ([`SinkError::Rewritten`],
//!   exit 5) unless `--rebuild`, which deletes the city's rows and writes them again;
//! - **sanbao's figures**: every derived row comes from `query::monitor`'s
//!   `CountyDay` and `query::plan`, never from SQL; after each batch, the rows of
//!   every day the batch can change (see [`derive::Affected`]) are replaced, so each
//!   `county_days` row equals `monitor --as-of` that day at the sink's position, and
//!   each plan equals `plan --month M --at-seq based_on_seq --json` (its
//!   `plan_sha256` checked against the record's);
//! - **overlapped, still in order**: reading and preparing a batch (fold, derived
//!   rows) goes on while PostgreSQL takes the batch before ([`Sink::submit`]); the
//!   transactions still commit one after the other in seq order, and a damaged record
//!   stops the sink after the batches before its own are committed;
//! - **bounded failure**: an unreachable database is retried a bounded number of
//!   times ([`CONNECT_ATTEMPTS`]) and a refused password is not retried: one error,
//!   never a hang; a database of another sink version is refused
//!   ([`schema::prepare`]).

pub mod derive;
pub mod schema;

use crate::event::{Event, PlanIssued};
use crate::follow::{self, Destination, FollowError, Position, Primary};
use crate::log::{Store, StoreError};
use crate::query::plan::plan;
use crate::record::Record;
use crate::state::State;
use crate::values::{CountyId, Date, Sha256Hex};
use derive::{Affected, Rows};
use futures_util::SinkExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls, Transaction};

/// Connection attempts before an unreachable database is an error.
pub const CONNECT_ATTEMPTS: u32 = 5;

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most records read from a data directory per batch (each batch one transaction),
/// unless `SANBAO_SINK_BATCH` says otherwise (the tests use small batches to kill a
/// sink between two of them). Large, because a batch's backdated events make it
/// replace and re-derive days already written: catching up 1M records, 100,000 a
/// batch is 1.7 times as fast as 20,000 (BENCHMARKS.md, session 13), for some tens
/// of MiB of rows held per batch (two batches at once: one prepared, one written).
pub const DIR_BATCH: u64 = 100_000;

fn dir_batch() -> u64 {
    std::env::var("SANBAO_SINK_BATCH")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DIR_BATCH)
}

/// How often a continuous sink of a data directory looks for new records.
pub const DIR_POLL: Duration = Duration::from_secs(1);

/// Where the city's log comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A data directory (opened, read and let go at each look).
    Dir(PathBuf),
    /// A running server's event stream.
    Server(Primary),
}

/// Why the sink stopped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A usage error (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The database cannot be reached, refused us, or failed (exit 1).
    #[error("{0}")]
    Database(String),
    /// The database belongs to another sink version or another program (exit 1).
    #[error("{0}")]
    Foreign(String),
    /// A record's hash or chain does not match (exit 5).
    #[error("record {seq} of city {city}: {reason}; the sink stopped before writing its batch")]
    Damaged {
        /// The city.
        city: String,
        /// The record's seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The city's log is not the one the database holds (exit 5 unless `--rebuild`).
    #[error("the log of city {city} is not the one the database holds: {reason}; it was truncated or rewritten. Run the sink with --rebuild to replace the city's rows")]
    Rewritten {
        /// The city.
        city: String,
        /// The seq where they part.
        seq: u64,
        /// What differs.
        reason: String,
    },
    /// Another sink moved the city's position (exit 4).
    #[error("{0}")]
    Conflict(String),
    /// The source failed (exit 1).
    #[error("{0}")]
    Source(String),
}

impl SinkError {
    /// The SPEC §5 exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            SinkError::Usage(_) => 2,
            SinkError::Damaged { .. } | SinkError::Rewritten { .. } => 5,
            SinkError::Conflict(_) => 4,
            _ => 1,
        }
    }
}

fn db(what: &str) -> impl Fn(tokio_postgres::Error) -> SinkError + '_ {
    move |e| SinkError::Database(format!("PostgreSQL: {what}: {}", describe(&e)))
}

/// A PostgreSQL error in one line: the server's message when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s.push_str(": ");
                s.push_str(&x.to_string());
                src = x.source();
            }
            s
        }
    }
}

/// Counts of what the sink wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Records written.
    pub records: u64,
    /// Rows written in all (records and derived).
    pub rows: u64,
    /// `county_days` rows written.
    pub county_days: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Time spent folding and deriving rows (sanbao's own work).
    pub derive: Duration,
    /// Time spent sending `records` by COPY.
    pub copy_records: Duration,
    /// Time spent sending the derived rows by COPY (and replacing the old ones).
    pub copy_rows: Duration,
    /// Time spent locking the position, moving it, and committing.
    pub commit: Duration,
}

/// Checks a city id: 1–64 of `A-Z a-z 0-9 _ . -`.
pub fn check_city(city: &str) -> Result<(), SinkError> {
    let ok = !city.is_empty()
        && city.len() <= 64
        && city
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SinkError::Usage(format!(
            "--city {city:?}: give 1 to 64 letters, digits, '_', '.' or '-'"
        )))
    }
}

/// Connects to PostgreSQL at `url` (a `postgresql://` URL or `key=value` words),
/// retrying an unreachable server [`CONNECT_ATTEMPTS`] times, each attempt bounded
/// by [`CONNECT_TIMEOUT`]; a refused login is not retried.
pub async fn connect(url: &str) -> Result<Client, SinkError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| SinkError::Usage(format!("--url: not a PostgreSQL address: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("sanbao sink");
    let mut wait = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        let tried = tokio::time::timeout(CONNECT_TIMEOUT * 2, config.connect(NoTls)).await;
        let (e, refused) = match tried {
            Ok(Ok((client, conn))) => {
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                return Ok(client);
            }
            Ok(Err(e)) => {
                // Authentication (28…) and a missing database (3D…) will not heal.
                let refused = e
                    .code()
                    .is_some_and(|c| c.code().starts_with("28") || c.code().starts_with("3D"));
                (describe(&e), refused)
            }
            Err(_) => (
                format!("no answer within {} s", (CONNECT_TIMEOUT * 2).as_secs()),
                false,
            ),
        };
        if refused || attempt >= CONNECT_ATTEMPTS {
            return Err(SinkError::Database(format!(
                "cannot connect to PostgreSQL{}: {e}",
                if refused {
                    String::new()
                } else {
                    format!(" after {attempt} attempts")
                }
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(4));
        attempt += 1;
    }
}

/// One city's sink: the database, the folded state, and the position.
pub struct Sink {
    /// The connection; `None` while a batch's transaction holds it.
    client: Option<Client>,
    /// The batch whose transaction is under way, handing the connection back.
    in_flight: Option<InFlight>,
    city: String,
    state: State,
    /// Hash of every record folded, by seq − 1 (records seen again after a reconnect).
    hashes: Vec<Sha256Hex>,
    /// The position committed in the database.
    committed: Position,
    /// The position found on start: records up to it are folded, not written.
    resume: Position,
    /// The latest business date whose rows are written, or being written by the
    /// batch under way (`sink_position.latest_date`).
    latest: Option<Date>,
    /// What was written.
    pub stats: Stats,
}

/// A batch's transaction, running beside the preparation of the next batch.
type InFlight = tokio::task::JoinHandle<(Client, Result<Written, SinkError>)>;

const CITY_TABLES: [&str; 7] = [
    "records",
    "county_days",
    "payroll",
    "watchlist",
    "plans",
    "plan_lines",
    "sink_position",
];

impl Sink {
    /// Connects, prepares the schema, and reads the city's position (or, with
    /// `rebuild`, deletes every row of the city in one transaction and starts from
    /// the beginning).
    pub async fn open(url: &str, city: &str, rebuild: bool) -> Result<Sink, SinkError> {
        check_city(city)?;
        let mut client = connect(url).await?;
        schema::prepare(&mut client).await.map_err(|e| match e {
            schema::SchemaError::Foreign(m) => SinkError::Foreign(m),
            schema::SchemaError::Db(e) => db("preparing the tables")(e),
        })?;
        if rebuild {
            let tx = client
                .transaction()
                .await
                .map_err(db("deleting the city's rows"))?;
            for t in CITY_TABLES {
                tx.execute(&format!("DELETE FROM {t} WHERE city = $1"), &[&city])
                    .await
                    .map_err(db("deleting the city's rows"))?;
            }
            tx.commit().await.map_err(db("deleting the city's rows"))?;
        }
        let row = client
            .query_opt(
                "SELECT seq, hash, latest_date::text FROM sink_position WHERE city = $1",
                &[&city],
            )
            .await
            .map_err(db("reading the position"))?;
        let (resume, latest) = match row {
            None => (Position::default(), None),
            Some(r) => {
                let seq: i64 = r.get(0);
                let hash: String = r.get(1);
                let latest: Option<String> = r.get(2);
                let bad = |what: &str| {
                    SinkError::Foreign(format!(
                        "sink_position of city {city} holds {what}: refusing the database"
                    ))
                };
                let hash = Sha256Hex::parse(&hash).map_err(|_| bad("a hash that is not one"))?;
                let latest = match latest {
                    Some(d) => Some(Date::parse(&d).map_err(|_| bad("a date that is not one"))?),
                    None => None,
                };
                (
                    Position {
                        seq: u64::try_from(seq).map_err(|_| bad("a negative seq"))?,
                        hash,
                    },
                    latest,
                )
            }
        };
        Ok(Sink {
            client: Some(client),
            in_flight: None,
            city: city.to_string(),
            state: State::new(),
            hashes: Vec::new(),
            committed: resume,
            resume,
            latest,
            stats: Stats::default(),
        })
    }

    /// The position committed in the database.
    pub fn position(&self) -> Position {
        self.committed
    }

    /// The last record folded (the source resumes after it).
    pub fn head(&self) -> Position {
        Position {
            seq: self.state.head_seq,
            hash: self.state.head_hash,
        }
    }

    /// The city id.
    pub fn city(&self) -> &str {
        &self.city
    }

    fn damaged(&self, seq: u64, reason: impl Into<String>) -> SinkError {
        SinkError::Damaged {
            city: self.city.clone(),
            seq,
            reason: reason.into(),
        }
    }

    /// Refuses a source whose head is behind the stored position (a truncated log).
    pub fn check_source_head(&self, head: u64) -> Result<(), SinkError> {
        if head < self.resume.seq {
            return Err(SinkError::Rewritten {
                city: self.city.clone(),
                seq: head,
                reason: format!(
                    "the log ends at seq {head}, but the database holds it up to seq {}",
                    self.resume.seq
                ),
            });
        }
        Ok(())
    }

    /// Takes the next records of the log, in seq order, continuing [`Sink::head`]
    /// (their hashes already checked against their content): records up to the
    /// stored position are folded, the rest written as one transaction, committed
    /// when this returns.
    pub async fn apply(&mut self, records: Vec<Record>) -> Result<(), SinkError> {
        self.submit(records).await?;
        self.flush().await
    }

    /// [`Sink::apply`] without waiting for the transaction: the batch is prepared
    /// (folded and derived, on a blocking thread) while the batch before it is
    /// written, then that one is committed and this one's transaction started. The
    /// caller reads the next batch while PostgreSQL takes this one; [`Sink::flush`]
    /// waits for it. An error of the batch before comes first; a damaged record
    /// stops the sink after the batches before it are committed.
    pub async fn submit(&mut self, records: Vec<Record>) -> Result<(), SinkError> {
        let pending = match self.take_new(records) {
            Ok(p) => p,
            Err(e) => return Err(self.stop_with(e).await),
        };
        if pending.is_empty() {
            return Ok(());
        }
        let hashes: Vec<Sha256Hex> = pending.iter().map(|r| r.hash).collect();
        // Nothing folded before this batch (no position to resume from, no batch
        // handed over): the city has no rows yet, and every day of every county is new.
        let before = if self.state.head_seq > 0 {
            self.latest
        } else {
            None
        };
        let mut state = std::mem::take(&mut self.state);
        let city = self.city.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let r = prepare(&mut state, &city, pending, before);
            (state, r)
        })
        .await;
        let prepared = match prepared {
            Ok((state, r)) => {
                self.state = state;
                r
            }
            Err(e) => Err(SinkError::Database(format!(
                "preparing a batch failed: {e}"
            ))),
        };
        // The batch before commits first; its error, if any, is the first.
        self.flush().await?;
        let batch = prepared?;
        self.hashes.extend(hashes);
        self.latest = batch.latest;
        let Some(client) = self.client.take() else {
            return Err(SinkError::Database(
                "the connection to PostgreSQL was lost".into(),
            ));
        };
        let (city, expected) = (self.city.clone(), self.committed);
        self.in_flight = Some(tokio::spawn(async move {
            let mut client = client;
            let r = commit(&mut client, &city, expected, batch).await;
            (client, r)
        }));
        Ok(())
    }

    /// Waits for the batch whose transaction is under way (if any) and takes its
    /// outcome: the position moves to its end.
    /// The handle stays in place until its task ends, so a flush given up half-way
    /// (a stop signal dropping the future that awaits it) can be finished by the next.
    pub async fn flush(&mut self) -> Result<(), SinkError> {
        let Some(h) = self.in_flight.as_mut() else {
            return Ok(());
        };
        let ended = h.await;
        self.in_flight = None;
        let (client, r) =
            ended.map_err(|e| SinkError::Database(format!("writing a batch failed: {e}")))?;
        self.client = Some(client);
        let w = r?;
        self.committed = w.head;
        self.stats.records += w.records;
        self.stats.rows += w.rows;
        self.stats.county_days += w.county_days;
        self.stats.batches += 1;
        self.stats.derive += w.derive;
        self.stats.copy_records += w.copy_records;
        self.stats.copy_rows += w.copy_rows;
        self.stats.commit += w.commit;
        Ok(())
    }

    /// `e`, after the batch under way is committed — or that batch's own error,
    /// which came first.
    async fn stop_with(&mut self, e: SinkError) -> SinkError {
        match self.flush().await {
            Err(first) => first,
            Ok(()) => e,
        }
    }

    /// Checks that `records` continue [`Sink::head`], folds those up to the stored
    /// position (a restart reads them again) and returns the rest.
    fn take_new(&mut self, records: Vec<Record>) -> Result<Vec<Record>, SinkError> {
        let mut pending = Vec::new();
        let mut tail = self.head();
        for r in records {
            if r.seq != tail.seq + 1 {
                return Err(self.damaged(r.seq, format!("expected seq {}", tail.seq + 1)));
            }
            if r.prev_hash != tail.hash {
                return Err(self.damaged(
                    r.seq,
                    format!(
                        "its prev_hash {} is not the hash {} of seq {}",
                        r.prev_hash, tail.hash, tail.seq
                    ),
                ));
            }
            tail = Position {
                seq: r.seq,
                hash: r.hash,
            };
            if r.seq <= self.resume.seq {
                if r.seq == self.resume.seq && r.hash != self.resume.hash {
                    return Err(SinkError::Rewritten {
                        city: self.city.clone(),
                        seq: r.seq,
                        reason: format!(
                            "its seq {} has hash {}, the database's position says {}",
                            r.seq, r.hash, self.resume.hash
                        ),
                    });
                }
                self.state.fold(&r);
                self.hashes.push(r.hash);
                continue;
            }
            pending.push(r);
        }
        Ok(pending)
    }
}

/// What one batch writes, prepared from its records by sanbao's own code before its
/// transaction starts.
struct Prepared {
    /// The records as COPY text.
    records: Vec<u8>,
    /// How many records.
    record_count: u64,
    /// The derived rows (and the plans whose basis is the record before them).
    rows: Rows,
    /// Plans issued on an older seq than the record before them: their basis is
    /// folded from the database's records, in the transaction.
    deferred: Vec<(u64, PlanIssued)>,
    /// Counties whose rows from a date on are already in the database and are
    /// replaced.
    replace: Vec<(CountyId, Date)>,
    /// The position after the batch.
    head: Position,
    /// The latest business date after the batch.
    latest: Option<Date>,
    /// Time spent preparing.
    derive: Duration,
}

/// What a committed batch wrote, and the time its parts took.
struct Written {
    head: Position,
    records: u64,
    rows: u64,
    county_days: u64,
    derive: Duration,
    copy_records: Duration,
    copy_rows: Duration,
    commit: Duration,
}

/// Folds `records` (continuing `state`) and derives what they change: the rows of
/// every county day from the earliest one the batch can change (see
/// [`derive::Affected`]) or, past the previous latest business date `before`, every
/// new day (all of them when `before` is `None`: no rows written yet), and the
/// plans it issues on the record before them (checked against their `plan_sha256`).
fn prepare(
    state: &mut State,
    city: &str,
    records: Vec<Record>,
    before: Option<Date>,
) -> Result<Prepared, SinkError> {
    let t_derive = Instant::now();
    let damaged = |seq: u64, reason: String| SinkError::Damaged {
        city: city.to_string(),
        seq,
        reason,
    };
    let mut affected = Affected::default();
    let mut rows = Rows::default();
    let mut recs: Vec<u8> = Vec::with_capacity(records.len() * 400);
    let mut scratch = Vec::with_capacity(512);
    let mut deferred = Vec::new();
    for r in &records {
        if r.seq != state.head_seq + 1 || r.prev_hash != state.head_hash {
            return Err(damaged(
                r.seq,
                "it does not continue the record before it".into(),
            ));
        }
        if let Event::PlanIssued(p) = &r.event {
            if p.based_on_seq == state.head_seq {
                let pl = plan(state, p.month);
                if pl.plan_sha256 != p.plan_sha256 {
                    return Err(damaged(
                        r.seq,
                        format!(
                            "its plan of {} does not reproduce: plan_sha256 {} recorded, {} computed",
                            p.month, p.plan_sha256, pl.plan_sha256
                        ),
                    ));
                }
                rows.plan(city, r.seq, p.issued_on, &pl);
            } else {
                deferred.push((r.seq, p.clone()));
            }
        }
        affected.note(&r.event);
        state.fold(r);
        record_row(&mut recs, city, r, &mut scratch);
    }
    let (days, latest) = derive::days_to_write(state, &affected, before);
    if let Some(to) = latest {
        for (county, from) in &days {
            rows.county(city, state, county, *from, to);
        }
    }
    // Only the days up to the previous latest business date have rows to replace;
    // the days after it are new.
    let replace = match before {
        Some(b) => days.into_iter().filter(|(_, from)| *from <= b).collect(),
        None => Vec::new(),
    };
    Ok(Prepared {
        records: recs,
        record_count: records.len() as u64,
        rows,
        deferred,
        replace,
        head: Position {
            seq: state.head_seq,
            hash: state.head_hash,
        },
        latest,
        derive: t_derive.elapsed(),
    })
}

/// Writes a prepared batch as one transaction with the new position, after checking
/// that the database's position is still `expected` (the end of the batch before).
async fn commit(
    client: &mut Client,
    city: &str,
    expected: Position,
    batch: Prepared,
) -> Result<Written, SinkError> {
    let Prepared {
        records,
        record_count,
        mut rows,
        deferred,
        replace,
        head,
        latest,
        derive,
    } = batch;
    let t_lock = Instant::now();
    let tx = client
        .transaction()
        .await
        .map_err(db("starting a transaction"))?;
    let held = tx
        .query_opt(
            "SELECT seq, hash FROM sink_position WHERE city = $1 FOR UPDATE",
            &[&city],
        )
        .await
        .map_err(db("locking the position"))?;
    let held = held.map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
    let ours = (expected.seq > 0).then(|| (expected.seq as i64, expected.hash.to_hex()));
    if held != ours {
        return Err(SinkError::Conflict(format!(
            "the position of city {city} in the database moved to {:?} while this sink held it at seq {}: another sink writes this city; stop one of them",
            held.map(|h| h.0),
            expected.seq
        )));
    }
    let locked = t_lock.elapsed();
    let t_records = Instant::now();
    copy(
        &tx,
        "COPY records (city, seq, hash, prev_hash, recorded_at, kind, event, idempotency_key, recorded_by) FROM STDIN",
        records,
    )
    .await?;
    let copy_records = t_records.elapsed();
    let t_rows = Instant::now();
    for (seq, p) in deferred {
        let past = fold_from_db(&tx, city, p.based_on_seq).await?;
        let pl = plan(&past, p.month);
        if pl.plan_sha256 != p.plan_sha256 {
            return Err(SinkError::Damaged {
                city: city.to_string(),
                seq,
                reason: format!(
                    "its plan of {} at seq {} does not reproduce: plan_sha256 {} recorded, {} computed",
                    p.month, p.based_on_seq, p.plan_sha256, pl.plan_sha256
                ),
            });
        }
        rows.plan(city, seq, p.issued_on, &pl);
    }
    // Each replaced county's days are a range of the table's key, searched county by
    // county in the key's index: the lateral subquery (kept from being flattened
    // into a join by its OFFSET) is asked once per county with the county's range,
    // compared in the key's collation ("C") so that the index serves it. The plan is
    // pinned for the transaction, whatever the table's statistics say: given the
    // arrays as parameters a plain join made the planner hash every row of the city
    // (seconds a batch), and a table last analyzed empty (a new database, or one
    // whose city was just rebuilt) made it scan the whole table once per county —
    // sequential scans are off (the key's index and the found rows' ctids serve
    // every statement here), and so is JIT compilation, which the resulting cost
    // estimates would set off (a fifth of a second a statement).
    if !replace.is_empty() {
        tx.batch_execute("SET LOCAL jit = off; SET LOCAL enable_seqscan = off")
            .await
            .map_err(db("replacing the derived rows"))?;
        let counties: Vec<String> = replace.iter().map(|(c, _)| c.to_string()).collect();
        let froms: Vec<String> = replace.iter().map(|(_, d)| d.to_string()).collect();
        for t in ["county_days", "payroll", "watchlist"] {
            tx.execute(
                &format!(
                    "DELETE FROM {t} WHERE ctid = ANY(ARRAY( \
                       SELECT r.ctid FROM unnest($2::text[], $3::text[]::date[]) AS x(county, d) \
                       CROSS JOIN LATERAL (SELECT ctid FROM {t} t WHERE t.city = $1 \
                         AND t.county = x.county COLLATE \"C\" AND t.date >= x.d OFFSET 0) r))"
                ),
                &[&city, &counties, &froms],
            )
            .await
            .map_err(db("replacing the derived rows"))?;
        }
    }
    let Rows {
        county_days,
        payroll,
        watchlist,
        plans,
        plan_lines,
        county_day_count,
        count,
    } = rows;
    for (table, cols, buf) in [
        ("county_days", derive::COUNTY_DAYS_COLUMNS, county_days),
        ("payroll", derive::PAYROLL_COLUMNS, payroll),
        ("watchlist", derive::WATCHLIST_COLUMNS, watchlist),
        ("plans", derive::PLANS_COLUMNS, plans),
        ("plan_lines", derive::PLAN_LINES_COLUMNS, plan_lines),
    ] {
        if !buf.is_empty() {
            copy(&tx, &format!("COPY {table} ({cols}) FROM STDIN"), buf).await?;
        }
    }
    let copy_rows = t_rows.elapsed();
    let t_commit = Instant::now();
    let latest_text = latest.map(|d| d.to_string());
    tx.execute(
        "INSERT INTO sink_position (city, seq, hash, latest_date, updated_at) \
         VALUES ($1, $2, $3, $4::text::date, now()) \
         ON CONFLICT (city) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, \
         latest_date = EXCLUDED.latest_date, updated_at = EXCLUDED.updated_at",
        &[&city, &(head.seq as i64), &head.hash.to_hex(), &latest_text],
    )
    .await
    .map_err(db("moving the position"))?;
    tx.commit().await.map_err(db("committing a batch"))?;
    Ok(Written {
        head,
        records: record_count,
        rows: record_count + count,
        county_days: county_day_count,
        derive,
        copy_records,
        copy_rows,
        commit: locked + t_commit.elapsed(),
    })
}

/// One `records` row in COPY text (the event as its canonical JSON, which
/// PostgreSQL's `jsonb` reads as any other JSON text).
fn record_row(out: &mut Vec<u8>, city: &str, r: &Record, scratch: &mut Vec<u8>) {
    /// A cell, then its separator; `None` is COPY's NULL (`\N`).
    fn cell(out: &mut Vec<u8>, s: Option<&[u8]>, last: bool) {
        match s {
            Some(s) => derive::push_bytes(out, s),
            None => out.extend_from_slice(b"\\N"),
        }
        out.push(if last { b'\n' } else { b'\t' });
    }
    cell(out, Some(city.as_bytes()), false);
    scratch.clear();
    crate::canonical::push_int(scratch, i128::from(r.seq));
    cell(out, Some(scratch), false);
    cell(out, Some(&r.hash.hex_digits()), false);
    cell(out, Some(&r.prev_hash.hex_digits()), false);
    scratch.clear();
    crate::record::write_recorded_at(r.recorded_at_us, scratch);
    cell(out, Some(scratch), false);
    cell(out, Some(r.event.kind().as_bytes()), false);
    scratch.clear();
    r.event.append_canonical(scratch);
    cell(out, Some(scratch), false);
    cell(out, r.idempotency_key.as_deref().map(str::as_bytes), false);
    cell(out, r.recorded_by.as_deref().map(str::as_bytes), true);
}

/// Sends one COPY's rows.
async fn copy(tx: &Transaction<'_>, sql: &str, data: Vec<u8>) -> Result<(), SinkError> {
    let what = "COPY";
    let sink = tx.copy_in(sql).await.map_err(db(what))?;
    futures_util::pin_mut!(sink);
    sink.send(hyper::body::Bytes::from(data))
        .await
        .map_err(db(what))?;
    sink.finish().await.map_err(db(what))?;
    Ok(())
}

/// The state at `upto`, folded from the city's records in the database (a plan
/// issued on an older seq than the record before it); each record's hash checked.
async fn fold_from_db(tx: &Transaction<'_>, city: &str, upto: u64) -> Result<State, SinkError> {
    let rows = tx
        .query(
            "SELECT (jsonb_build_object('seq', seq, 'hash', hash, 'prev_hash', prev_hash, \
             'recorded_at', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
             'idempotency_key', idempotency_key, 'event', event) \
             || CASE WHEN recorded_by IS NULL THEN '{}'::jsonb \
                ELSE jsonb_build_object('recorded_by', recorded_by) END)::text \
             FROM records WHERE city = $1 AND seq <= $2 ORDER BY seq",
            &[&city, &(upto as i64)],
        )
        .await
        .map_err(db("reading records back"))?;
    let mut state = State::new();
    for row in rows {
        let text: String = row.get(0);
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| SinkError::Database(format!("a record read back is not JSON: {e}")))?;
        let r = Record::from_export(v).map_err(|e| {
            SinkError::Database(format!(
                "a record read back from the database does not check: {e}"
            ))
        })?;
        state.fold(&r);
    }
    Ok(state)
}

/// The sink as a destination of [`follow::follow_into`].
struct Followed<'a> {
    sink: &'a mut Sink,
    failure: Option<SinkError>,
    report: &'a mut dyn FnMut(&Sink),
}

impl Destination for Followed<'_> {
    fn head(&self) -> Position {
        self.sink.head()
    }

    fn held_hash(&self, seq: u64) -> Option<Sha256Hex> {
        seq.checked_sub(1)
            .and_then(|i| self.sink.hashes.get(i as usize))
            .copied()
    }

    async fn store(&mut self, records: Vec<Record>) -> Result<(), FollowError> {
        match self.sink.apply(records).await {
            Ok(()) => {
                (self.report)(self.sink);
                Ok(())
            }
            Err(e) => {
                let m = e.to_string();
                self.failure = Some(e);
                Err(FollowError::Store(m))
            }
        }
    }
}

/// Runs the sink from `source` until `stop` turns true, or — with `once` — until it
/// has caught up with the log's head as it was on starting; the batch under way is
/// committed before it returns. `report` is called after each batch is handed over
/// (the position it sees is the last committed one).
pub async fn run(
    sink: &mut Sink,
    source: &Source,
    once: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
    report: &mut dyn FnMut(&Sink),
) -> Result<(), SinkError> {
    match source {
        Source::Server(primary) => {
            let head = follow::primary_head(primary).await;
            let until = match (head, once) {
                (Ok(h), _) => {
                    sink.check_source_head(h)?;
                    once.then_some(h)
                }
                (Err(e), true) => return Err(SinkError::Source(e)),
                (Err(_), false) => None,
            };
            let mut dest = Followed {
                sink,
                failure: None,
                report,
            };
            let r = follow::follow_into(primary, &mut dest, until, stop, |_, why| {
                if let Some(why) = why {
                    tracing::warn!(%why, "the server is unreachable; retrying");
                }
            })
            .await;
            if let Some(e) = dest.failure.take() {
                return Err(e);
            }
            // A stop signal may have ended the stream while a batch was being
            // committed: its outcome is taken here, so the last line is true.
            dest.sink.flush().await?;
            match r {
                Ok(_) => Ok(()),
                Err(FollowError::Diverged { seq, reason }) => Err(SinkError::Damaged {
                    city: dest.sink.city.clone(),
                    seq,
                    reason,
                }),
                Err(FollowError::Usage(m)) => Err(SinkError::Usage(m)),
                Err(e) => Err(SinkError::Source(e.to_string())),
            }
        }
        Source::Dir(dir) => loop {
            if crate::log::store::is_held(dir) {
                if crate::log::store::holder(dir).is_some_and(|h| h["url"].is_string()) {
                    return Err(SinkError::Usage(format!(
                        "{} is held by a running server: sink it with --from-server URL --token T",
                        dir.display()
                    )));
                }
                // Another command (an import, a truncate) holds it for now: a
                // continuous sink looks again at the next poll instead of waiting.
                if once {
                    read_dir_once(sink, dir, &stop, report).await?;
                    return Ok(());
                }
            } else {
                read_dir_once(sink, dir, &stop, report).await?;
                if once {
                    return Ok(());
                }
            }
            if *stop.borrow() {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(DIR_POLL) => {}
                _ = stop.changed() => return Ok(()),
            }
            if *stop.borrow() {
                return Ok(());
            }
        },
    }
}

/// Opens the directory, writes every record past the sink's head in batches of
/// [`DIR_BATCH`] (stopping between two when `stop` turns true), and lets the
/// directory go. Reading and checking a batch (on a blocking thread) and preparing
/// it go on while PostgreSQL takes the batch before ([`Sink::submit`]).
async fn read_dir_once(
    sink: &mut Sink,
    dir: &std::path::Path,
    stop: &tokio::sync::watch::Receiver<bool>,
    report: &mut dyn FnMut(&Sink),
) -> Result<(), SinkError> {
    if !Store::exists(dir) {
        return Err(SinkError::Usage(format!(
            "{}: no sanbao log there",
            dir.display()
        )));
    }
    let store = std::sync::Arc::new(Store::open(dir).map_err(|e| store_error(sink, e))?);
    let head = store.head().map_err(|e| store_error(sink, e))?;
    sink.check_source_head(head.seq)?;
    let mut from = sink.head().seq + 1;
    let batch_records = dir_batch();
    while from <= head.seq {
        let to = (from + batch_records - 1).min(head.seq);
        let reader = store.clone();
        let read = tokio::task::spawn_blocking(move || read_batch(&reader, from, to)).await;
        let batch = match read {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => {
                let e = match e {
                    Unread::Store(e) => store_error(sink, e),
                    Unread::Damaged(seq, why) => sink.damaged(seq, why),
                };
                return Err(sink.stop_with(e).await);
            }
            Err(e) => {
                let e = SinkError::Source(format!("reading the log failed: {e}"));
                return Err(sink.stop_with(e).await);
            }
        };
        sink.submit(batch).await?;
        report(sink);
        from = to + 1;
        // SIGINT/SIGTERM: stop between two batches (each one whole transaction).
        if *stop.borrow() {
            break;
        }
    }
    sink.flush().await?;
    report(sink);
    Ok(())
}

/// Why a batch could not be read from a data directory.
enum Unread {
    Store(StoreError),
    /// A record is missing or does not match its hash: its seq and why.
    Damaged(u64, &'static str),
}

/// Records `from..=to` of the store, each hash recomputed from its content.
fn read_batch(store: &Store, from: u64, to: u64) -> Result<Vec<Record>, Unread> {
    let mut batch = Vec::with_capacity((to - from + 1) as usize);
    for r in store.records(from, to) {
        let r = r.map_err(Unread::Store)?;
        if r.compute_hash() != r.hash {
            return Err(Unread::Damaged(
                r.seq,
                "its hash does not match its content",
            ));
        }
        batch.push(r);
    }
    if batch.len() as u64 != to - from + 1 {
        return Err(Unread::Damaged(
            from + batch.len() as u64,
            "the log has no record there",
        ));
    }
    Ok(batch)
}

fn store_error(sink: &Sink, e: StoreError) -> SinkError {
    match e {
        StoreError::Damaged { seq, reason } => sink.damaged(seq, reason),
        e => SinkError::Source(e.to_string()),
    }
}
