//! The CLI's error type and the one table that maps every failure to an exit code
//! (SPEC §5) — and, for the service, to an HTTP status (SPEC §7).
//!
//! Guarantee: every failure a command can meet has exactly one exit code here. A
//! failure may also carry its message in Chinese (`zh`), which the CLI prints under
//! `--lang zh`; the exit code and the `error:` prefix are the same in both.

use crate::event::EventError;
use crate::log::{AppendError, StoreError};
use std::fmt;

/// A failed command: its exit code and the one line printed after `error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Exit code: 1 internal/I/O, 2 usage, 3 invalid event, 4 conflict, 5 verification failed.
    pub code: u8,
    /// The message (one line).
    pub message: String,
    /// The message in Chinese, where one was written (printed under `--lang zh`).
    pub zh: Option<String>,
}

impl CliError {
    /// Internal or I/O error (exit 1).
    pub fn io(m: impl Into<String>) -> CliError {
        CliError {
            code: 1,
            message: m.into(),
            zh: None,
        }
    }
    /// Usage error (exit 2).
    pub fn usage(m: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: m.into(),
            zh: None,
        }
    }
    /// Invalid event (exit 3).
    pub fn invalid(m: impl Into<String>) -> CliError {
        CliError {
            code: 3,
            message: m.into(),
            zh: None,
        }
    }
    /// Conflict (exit 4).
    pub fn conflict(m: impl Into<String>) -> CliError {
        CliError {
            code: 4,
            message: m.into(),
            zh: None,
        }
    }
    /// Verification failed (exit 5).
    pub fn verification(m: impl Into<String>) -> CliError {
        CliError {
            code: 5,
            message: m.into(),
            zh: None,
        }
    }

    /// An invalid input at `index` of a batch.
    pub fn event(index: Option<usize>, e: &EventError) -> CliError {
        match index {
            Some(i) => CliError::invalid(format!("event {i}: {e}"))
                .zh(format!("事件 {i}：{}", e.zh_line())),
            None => CliError::invalid(e.to_string()).zh(e.zh_line()),
        }
    }

    /// The same error with its message in Chinese.
    pub fn zh(mut self, m: impl Into<String>) -> CliError {
        self.zh = Some(m.into());
        self
    }

    /// The message as one line (newlines folded).
    pub fn line(&self) -> String {
        self.message.replace(['\n', '\r'], " ")
    }

    /// The message as one line in `lang` (English where no Chinese was written).
    pub fn line_in(&self, lang: crate::lang::Lang) -> String {
        match (lang, &self.zh) {
            (crate::lang::Lang::Zh, Some(zh)) => zh.replace(['\n', '\r'], " "),
            _ => self.line(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        let zh = match &e {
            StoreError::Io { dir, msg } => match held_zh(msg) {
                Some(zh) => zh,
                None => format!("存储出错（{dir}）：{msg}"),
            },
            StoreError::Damaged { seq, reason } => format!(
                "日志在第{seq}号记录处损坏：{reason}。可用 `sanbao export --salvage` 与 `sanbao restore` 恢复可校验的记录，或从备机的导出恢复，或截断至最后一条完好记录"
            ),
            StoreError::Unopenable { dir, msg } => format!(
                "{dir} 中的日志无法打开：文件已损坏（{msg}）。`sanbao verify` 指出第一条无法恢复的记录；`sanbao export --salvage --out FILE` 写出其前的全部记录，`sanbao restore --from FILE` 据此新建数据目录"
            ),
        };
        match e {
            StoreError::Io { .. } => CliError::io(e.to_string()).zh(zh),
            StoreError::Damaged { .. } | StoreError::Unopenable { .. } => {
                CliError::verification(e.to_string()).zh(zh)
            }
        }
    }
}

/// The lock message of `log::store` (“the directory is held by WHO; gave up after S s
/// (…)[; while it serves, use its HTTP API at URL]”) in Chinese, the holder and the
/// URL kept as they are.
fn held_zh(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("the directory is held by ")?;
    let (who, rest) = rest.split_once("; gave up after ")?;
    let (secs, rest) = rest.split_once(" s (")?;
    let url = rest
        .split_once("; while it serves, use its HTTP API at ")
        .map(|(_, u)| format!("；服务运行期间请用其 HTTP 接口 {u}"))
        .unwrap_or_default();
    Some(format!(
        "数据目录被 {who} 占用；等待 {secs} 秒后放弃（--wait SECONDS 可等更久；`sanbao status` 可查占用者）{url}"
    ))
}

impl From<AppendError> for CliError {
    fn from(e: AppendError) -> CliError {
        match &e {
            AppendError::Invalid { index, error } => CliError::event(*index, error),
            AppendError::Conflict(m, zh) => CliError::conflict(m.clone()).zh(zh.clone()),
            AppendError::Storage(m) => CliError::io(m.clone()),
            AppendError::Closed => CliError::io(e.to_string()),
        }
    }
}
