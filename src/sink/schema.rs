//! The sink's tables in PostgreSQL: versioned migrations, the check that a database
//! was made by this version of the sink, and the province's views (`sql/sink-views.sql`).
//!
//! Guarantees: the schema is created or migrated in one transaction under an advisory
//! lock, so several cities' sinks starting at once against one database neither race
//! nor half-create it; a database whose schema version is newer than this sanbao's, or
//! that was made by something else (a `sink_meta` without our marker), is refused
//! before anything is written; the views are replaced on every start, so they are
//! always the ones shipped with the running binary.

use tokio_postgres::Client;

/// The schema version this sanbao writes. Each entry of [`MIGRATIONS`] brings a
/// database from the version before it to its own.
pub const SCHEMA_VERSION: i32 = 1;

/// What identifies a database made by the sink, in `sink_meta`.
const MARKER: &str = "sanbao sink postgres";

/// The advisory lock key the sink's migrations are made under ("sanbao" in ASCII).
const MIGRATION_LOCK: i64 = 0x73_61_6e_62_61_6f;

/// Migrations in order: `MIGRATIONS[i]` brings version `i` to `i + 1`.
///
/// Ids in keys are `COLLATE "C"`: byte order, which is sanbao's own order of county
/// ids (so `ORDER BY county` lists them as `monitor` does), and index comparisons
/// that do not go through the locale's collation.
///
/// Amounts are `numeric(15,2)` (SPEC amounts have at most 13 integer digits);
/// risk lines `numeric(7,4)`; the guarantee level `numeric(12,4)`, because a county
/// with little outflow can hold more than 999.9999 months of it, and a level that
/// does not fit would stop the sink.
pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE records (
    city text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    hash text NOT NULL,
    prev_hash text NOT NULL,
    recorded_at timestamptz NOT NULL,
    kind text NOT NULL,
    event jsonb NOT NULL,
    idempotency_key text,
    recorded_by text,
    PRIMARY KEY (city, seq)
);
CREATE TABLE county_days (
    city text COLLATE "C" NOT NULL,
    county text COLLATE "C" NOT NULL,
    date date NOT NULL,
    treasury numeric(15,2) NOT NULL,
    wage_reserve numeric(15,2) NOT NULL,
    cash numeric(15,2) NOT NULL,
    avg_monthly_outflow numeric(15,2),
    guarantee_level numeric(12,4),
    status text NOT NULL,
    warning_line numeric(7,4) NOT NULL,
    alert_line numeric(7,4) NOT NULL,
    idle_line numeric(7,4) NOT NULL,
    PRIMARY KEY (city, county, date)
);
CREATE TABLE payroll (
    city text COLLATE "C" NOT NULL,
    county text COLLATE "C" NOT NULL,
    date date NOT NULL,
    payroll_month text COLLATE "C" NOT NULL,
    wage_bill numeric(15,2) NOT NULL,
    payday date NOT NULL,
    deposit_deadline date NOT NULL,
    deposited numeric(15,2) NOT NULL,
    paid numeric(15,2) NOT NULL,
    shortfall numeric(15,2) NOT NULL,
    status text NOT NULL,
    deposited_on date,
    days_late integer NOT NULL,
    PRIMARY KEY (city, county, date, payroll_month)
);
CREATE TABLE watchlist (
    city text COLLATE "C" NOT NULL,
    county text COLLATE "C" NOT NULL,
    date date NOT NULL,
    reasons text[] NOT NULL,
    PRIMARY KEY (city, date, county)
);
CREATE TABLE plans (
    city text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    month text NOT NULL,
    based_on_seq bigint NOT NULL,
    issued_on date NOT NULL,
    plan_sha256 text NOT NULL,
    policy text NOT NULL,
    basis_date date NOT NULL,
    city_available numeric(15,2) NOT NULL,
    total_planned numeric(15,2) NOT NULL,
    total_funded numeric(15,2) NOT NULL,
    plan jsonb NOT NULL,
    PRIMARY KEY (city, seq)
);
CREATE TABLE plan_lines (
    city text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    county text COLLATE "C" NOT NULL,
    fund text COLLATE "C" NOT NULL,
    fiscal_year integer NOT NULL,
    planned numeric(15,2) NOT NULL,
    funded numeric(15,2) NOT NULL,
    shortfall numeric(15,2) NOT NULL,
    PRIMARY KEY (city, seq, county, fund, fiscal_year)
);
CREATE TABLE sink_position (
    city text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL,
    latest_date date,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"#];

/// The province's views, shipped with the sink and installed on every start.
pub const VIEWS: &str = include_str!("../../sql/sink-views.sql");

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Made by another version of the sink, or by something else.
    #[error("{0}")]
    Foreign(String),
    /// PostgreSQL refused a statement.
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
}

/// Creates or migrates the schema to [`SCHEMA_VERSION`] and installs the views; refuses
/// a database of a newer version or of another program. Returns the version found
/// (0 for a fresh database).
pub async fn prepare(client: &mut Client) -> Result<i32, SchemaError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sink_meta (key text PRIMARY KEY, value text NOT NULL)",
    )
    .await?;
    let rows = tx.query("SELECT key, value FROM sink_meta", &[]).await?;
    let get = |k: &str| {
        rows.iter()
            .find(|r| r.get::<_, &str>(0) == k)
            .map(|r| r.get::<_, String>(1))
    };
    let found = match (get("made_by"), get("schema_version")) {
        (None, None) => {
            // A fresh database, unless tables of ours exist without the marker.
            let clash: i64 = tx
                .query_one(
                    "SELECT count(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name::text = ANY($1::text[])",
                    &[&vec![
                        "records",
                        "county_days",
                        "payroll",
                        "watchlist",
                        "plans",
                        "plan_lines",
                        "sink_position",
                    ]],
                )
                .await?
                .get(0);
            if clash > 0 {
                return Err(SchemaError::Foreign(
                    "the database already has tables named like the sink's (records, county_days, …) but no sink_meta marker: it was not made by sanbao sink postgres; give the sink a database (or schema) of its own".into(),
                ));
            }
            tx.execute(
                "INSERT INTO sink_meta (key, value) VALUES ('made_by', $1), ('schema_version', '0')",
                &[&MARKER],
            )
            .await?;
            0
        }
        (Some(m), Some(v)) if m == MARKER => v.parse::<i32>().map_err(|_| {
            SchemaError::Foreign(format!(
                "sink_meta says schema_version {v:?}, which is not a number: refusing the database"
            ))
        })?,
        _ => {
            return Err(SchemaError::Foreign(
                "the database's sink_meta was not written by sanbao sink postgres: refusing it"
                    .into(),
            ))
        }
    };
    if found > SCHEMA_VERSION {
        return Err(SchemaError::Foreign(format!(
            "the database was made by a newer sink (schema version {found}; this sanbao writes version {SCHEMA_VERSION}): upgrade sanbao, or give it another database"
        )));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.batch_execute(m).await?;
        tx.execute(
            "UPDATE sink_meta SET value = $1 WHERE key = 'schema_version'",
            &[&(i as i32 + 1).to_string()],
        )
        .await?;
    }
    tx.batch_execute(VIEWS).await?;
    tx.commit().await?;
    Ok(found)
}
