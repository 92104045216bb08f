//! The Dockerfile and its build context, without a container engine: the builder's toolchain
//! is this project's, the build line is the one the runtime-contract test stands for, the
//! runtime user and ports are the manifests', and the allow-listed build context holds what
//! cargo needs (checked by `cargo metadata --locked --offline` on a copy of exactly that
//! context) and nothing else.

use std::path::{Path, PathBuf};

use super::{Manifests, repo, run};

fn dockerfile() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    // Join continuation lines, drop comments.
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    lines
}

fn instructions<'a>(lines: &'a [String], op: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(op).and_then(|r| r.strip_prefix(' ')))
        .collect()
}

#[test]
fn dockerfile_builds_with_the_projects_toolchain_what_the_contract_test_runs() {
    let lines = dockerfile();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .unwrap();
    let rustc = String::from_utf8_lossy(&rustc.stdout).into_owned();
    let version = rustc.split_whitespace().nth(1).unwrap().to_owned();
    let arg = instructions(&lines, "ARG")
        .into_iter()
        .find_map(|a| a.strip_prefix("RUST_VERSION="))
        .expect("ARG RUST_VERSION=…");
    assert_eq!(
        arg, version,
        "the builder's Rust is the project's toolchain ({rustc})"
    );
    let min = env!("CARGO_PKG_RUST_VERSION");
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(parse(arg) >= parse(min), "rust-version {min}");

    let froms = instructions(&lines, "FROM");
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(
        froms[0].starts_with("docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS builder"),
        "{}",
        froms[0]
    );
    assert!(
        froms[1].starts_with("gcr.io/distroless/cc-debian12:nonroot"),
        "distroless cc, glibc as in the bookworm builder: {}",
        froms[1]
    );
    let env = instructions(&lines, "ENV").join(" ");
    assert!(
        env.contains("RUSTUP_TOOLCHAIN=${RUST_VERSION}"),
        "rust-toolchain.toml's `stable` must not make rustup download another toolchain"
    );
    let build = instructions(&lines, "RUN").join(" ");
    assert!(
        build.contains("cargo build --release --locked --bin fincert &&")
            || build.contains("cargo build --release --locked --bin fincert "),
        "{build}"
    );
    assert!(
        !build.contains("--features") && !build.contains("--no-default-features"),
        "the default features, as the test build of the binary"
    );
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("\n[features]"),
        "fincert declares no features: the test binary and the image's differ in profile only"
    );
}

#[test]
fn dockerfile_user_entrypoint_and_ports_are_the_manifests() {
    let lines = dockerfile();
    let user = instructions(&lines, "USER");
    assert_eq!(user.len(), 1);
    let (uid, gid) = user[0].split_once(':').expect("USER uid:gid");
    let (uid, gid): (u64, u64) = (uid.parse().unwrap(), gid.parse().unwrap());
    assert!(
        uid > 0 && gid > 0,
        "numeric and not root, so runAsNonRoot can check it"
    );
    let m = Manifests::load();
    for (what, spec) in m.pod_specs() {
        let sc = &spec["securityContext"];
        assert_eq!(
            (sc["runAsUser"].as_u64(), sc["runAsGroup"].as_u64()),
            (Some(uid), Some(gid)),
            "{what} runs as the image's user"
        );
    }
    let copy = instructions(&lines, "COPY")
        .into_iter()
        .find(|c| c.starts_with("--from=builder"))
        .unwrap();
    let target = copy.split_whitespace().last().unwrap();
    assert_eq!(
        instructions(&lines, "ENTRYPOINT"),
        [format!("[\"{target}\"]").as_str()],
        "the binary is the entrypoint; containers give args only"
    );
    let mut exposed: Vec<u64> = instructions(&lines, "EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace().map(|p| p.parse().unwrap()))
        .collect();
    exposed.sort();
    let deploy = m.get("Deployment", "fincert");
    let mut ports: Vec<u64> = deploy["spec"]["template"]["spec"]["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_u64().unwrap())
        .collect();
    ports.sort();
    assert_eq!(exposed, ports);
}

/// The build context `.dockerignore` leaves, as Docker computes it for this file's form (`*`,
/// then `!name` exceptions for top-level names; any other form fails the test).
fn build_context() -> Vec<String> {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        rules.first(),
        Some(&"*"),
        "an allow-list: first exclude everything"
    );
    let allowed: Vec<&str> = rules[1..]
        .iter()
        .map(|r| {
            let name = r
                .strip_prefix('!')
                .expect("only `!name` exceptions after `*`");
            assert!(
                !name.contains(['*', '?', '[', '/']) && !name.is_empty(),
                "only top-level names: {r}"
            );
            name
        })
        .collect();
    let (ok, files) = run(Path::new("git"), &["ls-files"], &repo());
    assert!(ok, "{files}");
    files
        .lines()
        .filter(|f| {
            allowed
                .iter()
                .any(|a| f == a || f.starts_with(&format!("{a}/")))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn build_context_holds_what_cargo_needs_and_nothing_else() {
    let context = build_context();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        "src/main.rs",
        "migrations/Cargo.toml",
        "client/Cargo.toml",
    ] {
        assert!(
            context.iter().any(|f| f == needed),
            "{needed} is not in the build context"
        );
    }
    for kept_out in [
        "infra/",
        "scripts/",
        ".ci/",
        "docs/",
        "README.md",
        "Dockerfile",
    ] {
        assert!(
            !context.iter().any(|f| f.starts_with(kept_out)),
            "{kept_out} reaches the builder"
        );
    }
    // Files the compiler reads beside our sources (include_str!/include_bytes!) are there too.
    // vendor/ is a dependency's published source, whose doc examples name files it never ships.
    for file in context
        .iter()
        .filter(|f| f.ends_with(".rs") && !f.starts_with("vendor/"))
    {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        for macro_name in ["include_str!(\"", "include_bytes!(\""] {
            for (i, _) in text.match_indices(macro_name) {
                let rest = &text[i + macro_name.len()..];
                let rel = &rest[..rest.find('"').unwrap()];
                let target = normalize(&Path::new(file).parent().unwrap().join(rel));
                assert!(
                    context.contains(&target),
                    "{file} includes {rel} ({target}), which is not in the build context"
                );
            }
        }
    }
    // Cargo loads the workspace (every declared target must exist) and resolves the build's
    // dependencies for this platform from exactly this context, with the lock file as it is.
    let dir = tempfile::tempdir().unwrap();
    for f in &context {
        let to = dir.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(f), to).unwrap();
    }
    let cargo = std::env::var("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|_| "cargo".into());
    let (_, vv) = run(Path::new("rustc"), &["-vV"], dir.path());
    let host = vv
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned();
    let (ok, out) = run(
        &cargo,
        &["fetch", "--locked", "--offline", "--target", &host],
        dir.path(),
    );
    assert!(ok, "cargo fetch in the build context:\n{out}");
}

fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}
