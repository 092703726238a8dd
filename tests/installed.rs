//! Installed like a tool (issue 14): the man pages in `docs/man/` are what
//! `clap_mangen` makes of the command line now (this test fails when they drift, and
//! `SANBAO_BLESS=1 cargo test --release --test suite installed::` writes them anew), and
//! `sanbao completions SHELL` prints scripts the shells accept.

use clap::CommandFactory;
use std::path::Path;
use std::process::Command;

#[test]
fn the_man_pages_in_docs_man_are_the_command_line_of_now() {
    let tmp = tempfile::tempdir().unwrap();
    clap_mangen::generate_to(sanbao::cli::Cli::command(), tmp.path()).unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    let mut made: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    assert!(made.contains(&"sanbao.1".to_string()));
    assert!(made.contains(&"sanbao-verify.1".to_string()));
    if std::env::var_os("SANBAO_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&docs);
        std::fs::create_dir_all(&docs).unwrap();
        for name in &made {
            std::fs::copy(tmp.path().join(name), docs.join(name)).unwrap();
        }
    }
    let mut kept: Vec<String> = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(
        kept, made,
        "docs/man/ lists other pages than the command line has: run SANBAO_BLESS=1 cargo test --release --test suite installed::"
    );
    for name in &made {
        let now = std::fs::read(tmp.path().join(name)).unwrap();
        let kept = std::fs::read(docs.join(name)).unwrap();
        assert!(
            now == kept,
            "docs/man/{name} drifted from the command line: run SANBAO_BLESS=1 cargo test --release --test suite installed::"
        );
    }
    // The page says what the command does.
    let main = String::from_utf8(std::fs::read(docs.join("sanbao.1")).unwrap()).unwrap();
    assert!(main.contains("treasury cash\\-flow scheduler"), "{main}");
}

#[test]
fn completion_scripts_name_every_command_and_bash_accepts_its_own() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = Command::new(env!("CARGO_BIN_EXE_sanbao"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success(), "{shell}");
        let script = String::from_utf8(o.stdout).unwrap();
        for sub in [
            "append",
            "import",
            "verify",
            "serve",
            "status",
            "completions",
        ] {
            assert!(script.contains(sub), "{shell} lacks {sub}");
        }
        if shell == "bash" {
            let tmp = tempfile::tempdir().unwrap();
            let f = tmp.path().join("sanbao.bash");
            std::fs::write(&f, &script).unwrap();
            // Syntax, then loading it defines the completion function.
            let ok = Command::new("bash").arg("-n").arg(&f).status().unwrap();
            assert!(ok.success());
            let o = Command::new("bash")
                .arg("-c")
                .arg(format!(". {} && complete -p sanbao", f.display()))
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(String::from_utf8_lossy(&o.stdout).contains("_sanbao"));
        }
    }
    let o = Command::new(env!("CARGO_BIN_EXE_sanbao"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// The words of a command line as a unit file or a Dockerfile writes it.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn the_deploy_files_start_sanbao_with_arguments_it_takes_and_hardened() {
    use clap::Parser;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let unit = std::fs::read_to_string(root.join("sanbao.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let argv = words(exec);
    assert_eq!(argv[0], "/usr/local/bin/sanbao");
    let cli = sanbao::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{exec}: {e}"));
    assert!(matches!(cli.command, sanbao::cli::Command::Serve { .. }));
    assert_eq!(cli.data.as_deref(), Some(Path::new("/var/lib/sanbao")));
    for directive in [
        "User=sanbao",
        "ProtectSystem=strict",
        "StateDirectory=sanbao",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "RestartPreventExitStatus=2 5",
    ] {
        assert!(unit.lines().any(|l| l == directive), "{directive}");
    }
    // Nothing else is writable: no ReadWritePaths beside the state directory.
    assert!(!unit.contains("ReadWritePaths="));

    let docker = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let json_words = |prefix: &str| -> Vec<String> {
        let line = docker
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix}"));
        serde_json::from_str(line.trim()).unwrap()
    };
    let mut argv = json_words("ENTRYPOINT ");
    argv.extend(json_words("CMD "));
    let cli = sanbao::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(matches!(cli.command, sanbao::cli::Command::Serve { .. }));
    assert!(docker.contains("\nUSER sanbao\n"));
    assert!(docker.contains("cargo build --release --locked"));
}
