//! Hostile input through the command line's append path: seeded mutations of a valid
//! batch (bytes replaced, dropped, inserted — invalid UTF-8 included), deep nesting,
//! huge numbers and raw garbage go to `sanbao append`. Each run either appends (exit
//! 0, the head moves by exactly the acknowledged records) or is refused with exit 3
//! (4 for a conflict) and exactly one `error:` line, the head unmoved. Never a panic.

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn append(dir: &Path, input: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(dir)
        .args(["append", "-"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn head(dir: &Path) -> u64 {
    let o = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .arg("--data")
        .arg(dir)
        .args(["verify", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    serde_json::from_slice::<Value>(&o.stdout).unwrap()["records"]
        .as_u64()
        .unwrap()
}

#[test]
fn mutated_and_hostile_input_to_append_is_refused_with_one_error_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let reg = json!({"kind":"county_registered","county":"a","name":"甲县","registered_on":"2021-01-01","opening_treasury":"100"});
    assert!(append(&dir, reg.to_string().as_bytes()).status.success());
    let base = json!([
        {"kind":"revenue_collected","county":"a","amount":"1.50","collected_on":"2021-01-05","category":"tax"},
        {"kind":"allocation_notified","county":"a","fund":"pre_notified","fiscal_year":2021,"program":"专项","amount":"30","notified_on":"2021-01-05",
         "schedule":[{"month":"2021-03","amount":"10"},{"month":"2021-01","amount":"20"}]},
        {"kind":"expenditure_paid","county":"a","amount":"0.50","paid_on":"2021-01-06","category":"livelihood"}
    ])
    .to_string()
    .into_bytes();
    let alphabet = b"{}[]\",:0123456789.-eE nulltrue\\\n\x00\xff\xc0\xe4\xb8\x89";
    let mut rng: u64 = 0x0005_eed0_c11a;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..150 {
        let mut b = base.clone();
        for _ in 0..1 + next() % 4 {
            let at = next() % b.len();
            match next() % 3 {
                0 => b[at] = alphabet[next() % alphabet.len()],
                1 => {
                    b.remove(at);
                }
                _ => b.insert(at, alphabet[next() % alphabet.len()]),
            }
        }
        inputs.push(b);
    }
    inputs.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    inputs.push(format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)).into_bytes());
    for n in ["1e400", "123456789012345678901234567890", "-0"] {
        inputs.push(
            format!(
                r#"{{"kind":"event_reversed","reverses_seq":{n},"reason":"x","on":"2021-01-01"}}"#
            )
            .into_bytes(),
        );
    }
    inputs.push(b"\xff\xfe\x00{".to_vec());
    inputs.push(Vec::new());
    inputs.push(b"{\"kind\":\"revenue_collected\"}\n{\"kind\":".to_vec());

    let (mut refused, mut accepted) = (0, 0);
    for input in &inputs {
        let before = head(&dir);
        let o = append(&dir, input);
        let code = o.status.code().expect("exited, not killed by a signal");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let what = String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned();
        if code == 0 {
            accepted += 1;
            let acks = String::from_utf8_lossy(&o.stdout).lines().count() as u64;
            let fresh = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains("\"duplicate\":false"))
                .count() as u64;
            assert!(acks >= 1, "{what}");
            assert_eq!(head(&dir), before + fresh, "{what}");
        } else {
            refused += 1;
            assert!([3, 4].contains(&code), "exit {code} for {what:?}: {err}");
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "{what:?}: {err}");
            assert!(lines[0].starts_with("error:"), "{err}");
            assert_eq!(head(&dir), before, "a refused input wrote: {what:?}");
        }
    }
    println!(
        "hostile cli: {} inputs, {refused} refused, {accepted} accepted",
        inputs.len()
    );
    assert!(refused > 100);
}
