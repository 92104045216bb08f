//! The image's runtime contract, without a container engine: the `fincert` binary of this test
//! run started exactly as the Kubernetes manifests start the image's — each container's args,
//! the env the manifests give it (ConfigMap via `envFrom`, Secret references resolved to this
//! test's values), plus what kubelet injects for the Service `fincert` — as the pod's numeric
//! non-root user, in a read-only working directory that is also its HOME and TMPDIR, with
//! nothing else of this process' environment. First the migration Job's and the `ca init`
//! Job's command lines (each twice: both must be re-runnable), then the Deployment's, which
//! must become ready on its probe paths and answer real requests: the CA chain and a CRL that
//! its issuing key signed inside KMS.
//!
//! The binary is what `cargo test` built (`CARGO_BIN_EXE_fincert`): the same package and
//! default features as the Dockerfile's `cargo build --release --locked --bin fincert`, in the
//! debug profile, and with dev-dependencies possibly adding features to shared dependencies
//! (cargo unifies them for test builds). It is copied to `usr/local/bin/fincert` of a scratch
//! "image" directory, as the Dockerfile copies it, so a user without access to the build tree
//! can run it.
//!
//! What differs from a cluster, on purpose, is only what belongs to the environment: the
//! database (a fresh PostgreSQL database instead of RDS), AWS (moto as the KMS endpoint, with
//! the keys and aliases the ConfigMap names created as Terraform creates them; static
//! credentials in the standard AWS variables where IRSA would provide a web identity), the
//! listen addresses (free loopback ports instead of 0.0.0.0:8080/9090) and one more trusted
//! proxy (this test's loopback address, beside the ingress controller's pod CIDR).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use fincert::config::Engine;
use serde_json::Value;

use super::{
    Manifests,
    pod::{Pod, args_of, container_env, free_port, override_env, service_links, value_of},
};
use crate::helpers::*;

/// Creates the KMS keys and aliases the ConfigMap names, as infra/terraform creates them.
async fn terraform_keys_on(moto: &PrivateMoto, config: &[(String, String)]) {
    let client = moto_client(&moto.url).await;
    let ca_spec = match value_of(config, "FINCERT_PKI_CA_ALGORITHM") {
        "rsa2048" => KeySpec::Rsa2048,
        "p256" => KeySpec::EccNistP256,
        other => panic!("no key spec for {other}"),
    };
    for (setting, spec, usage) in [
        (
            "FINCERT_KMS_AWS_KEY_ID",
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
        ),
        (
            "FINCERT_KMS_AWS_MAC_KEY_ID",
            KeySpec::Hmac256,
            KeyUsageType::GenerateVerifyMac,
        ),
        (
            "FINCERT_PKI_AWS_ROOT_KEY_ID",
            ca_spec.clone(),
            KeyUsageType::SignVerify,
        ),
        (
            "FINCERT_PKI_AWS_ISSUING_KEY_ID",
            ca_spec.clone(),
            KeyUsageType::SignVerify,
        ),
    ] {
        let alias = value_of(config, setting);
        assert!(
            alias.starts_with("alias/"),
            "{setting} names a key by alias: {alias}"
        );
        let key = client
            .create_key()
            .key_spec(spec)
            .key_usage(usage)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        client
            .create_alias()
            .alias_name(alias)
            .target_key_id(key)
            .send()
            .await
            .unwrap();
    }
}

struct Server {
    child: Child,
    logs: std::sync::mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `url` until it answers `status`, failing if the server exits or `within` passes.
async fn wait_for(server: &mut Server, url: &str, status: u16, within: Duration) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + within;
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            let logs: Vec<String> = server.logs.try_iter().collect();
            let mut err = String::new();
            if let Some(mut e) = server.child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).ok();
            }
            panic!("fincert serve exited ({exit}): {err}\n{}", logs.join("\n"));
        }
        if let Ok(r) = client.get(url).send().await
            && r.status().as_u16() == status
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer {status} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn probe_path(container: &Value, probe: &str) -> String {
    let get = &container[probe]["httpGet"];
    assert_eq!(get["port"], "http", "{probe} probes the API port");
    get["path"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_as_the_manifests_run_it() {
    let m = Manifests::load();
    let config = m.production_config("fincert-config");
    let service = m.get("Service", "fincert");
    let links = service_links(service, "10.96.0.10");

    let moto = PrivateMoto::start().await;
    terraform_keys_on(&moto, &config).await;
    let test_db = TestDb::new(Engine::Postgres).await;
    let secrets = [
        (("fincert-database", "url"), test_db.url.clone()),
        (
            ("fincert-partners", "identity-secret"),
            "identity-partner-shared-secret-0123".to_owned(),
        ),
        (
            ("fincert-partners", "message-secret"),
            "message-gateway-shared-secret-4567".to_owned(),
        ),
    ];
    let api_port = free_port();
    let metrics_port = free_port();
    // The environment-specific part (see the module doc), for one container's env.
    let environment = |mut env: Vec<(String, String)>| {
        env.extend(links.iter().cloned());
        if env
            .iter()
            .any(|(k, v)| k == "FINCERT_KMS_BACKEND" && v == "aws")
        {
            override_env(&mut env, "FINCERT_KMS_AWS_ENDPOINT_URL", &moto.url);
            override_env(&mut env, "AWS_ACCESS_KEY_ID", "test");
            override_env(&mut env, "AWS_SECRET_ACCESS_KEY", "test");
            override_env(&mut env, "AWS_EC2_METADATA_DISABLED", "true");
        }
        if env.iter().any(|(k, _)| k == "FINCERT_HTTP_LISTEN") {
            override_env(
                &mut env,
                "FINCERT_HTTP_LISTEN",
                &format!("127.0.0.1:{api_port}"),
            );
            // This test's client stands where the ingress controller stands: trusted too.
            let mut proxies: Vec<String> =
                serde_json::from_str(value_of(&env, "FINCERT_HTTP_TRUSTED_PROXIES")).unwrap();
            proxies.push("127.0.0.1".into());
            let proxies = serde_json::to_string(&proxies).unwrap();
            override_env(&mut env, "FINCERT_HTTP_TRUSTED_PROXIES", &proxies);
            override_env(
                &mut env,
                "FINCERT_HTTP_METRICS_LISTEN",
                &format!("127.0.0.1:{metrics_port}"),
            );
        }
        env
    };

    // The Jobs, in the order infra/README.md runs them, each twice.
    for (job, first, again) in [
        ("fincert-migrate", "applied ", "schema up to date"),
        (
            "fincert-ca-init",
            "CA initialised",
            "CA already initialised; nothing changed",
        ),
    ] {
        let spec = &m.get("Job", job)["spec"]["template"]["spec"];
        let pod = Pod::new(spec);
        let container = &spec["containers"][0];
        let env = environment(container_env(container, &config, &secrets));
        let args = args_of(container);
        for expected in [first, again] {
            let (code, out, err) = pod.run(&args, &env);
            assert_eq!(code, 0, "{job} {args:?}: {out}{err}");
            assert!(out.contains(expected), "{job}: {out}{err}");
        }
    }

    // The Deployment.
    let spec = &m.get("Deployment", "fincert")["spec"]["template"]["spec"];
    let pod = Pod::new(spec);
    let container = &spec["containers"][0];
    let env = environment(container_env(container, &config, &secrets));
    let mut child = pod
        .command(&args_of(container), &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fincert serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, logs) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut server = Server { child, logs };
    let base = format!("http://127.0.0.1:{api_port}");
    for probe in ["startupProbe", "livenessProbe"] {
        let path = probe_path(container, probe);
        wait_for(
            &mut server,
            &format!("{base}{path}"),
            200,
            Duration::from_secs(60),
        )
        .await;
    }
    let ready = probe_path(container, "readinessProbe");
    wait_for(
        &mut server,
        &format!("{base}{ready}"),
        200,
        Duration::from_secs(30),
    )
    .await;

    // Real requests: the chain `ca init` made on the KMS keys, and a CRL the issuing key signs
    // through KMS Sign now, both checked by openssl.
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for (file, path) in [
        ("chain.pem", "/pki/ca/chain.pem"),
        ("issuing.crl", "/pki/crl/issuing.crl"),
        ("issuing.crt", "/pki/ca/issuing.crt"),
        ("root.crt", "/pki/ca/root.crt"),
    ] {
        std::fs::write(dir.path().join(file), get(path).await).unwrap();
    }
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    };
    for der in ["root", "issuing"] {
        let (ok, said) = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            &format!("{der}.crt"),
            "-out",
            &format!("{der}.pem"),
        ]);
        assert!(ok, "{said}");
    }
    // The root signed itself and the issuing CA with the root KMS key (at ca init)…
    let (ok, said) = openssl(&[
        "verify",
        "-check_ss_sig",
        "-CAfile",
        "root.pem",
        "issuing.pem",
    ]);
    assert!(ok, "{said}");
    // …and the issuing KMS key signed the CRL the server just published.
    let (ok, said) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "issuing.crl",
        "-noout",
        "-CAfile",
        "chain.pem",
    ]);
    assert!(ok && said.contains("verify OK"), "{said}");

    // The organisation the ConfigMap names is in the certificates.
    let (_, subject) = openssl(&["x509", "-in", "issuing.pem", "-noout", "-subject"]);
    assert!(
        subject.contains(value_of(&config, "FINCERT_PKI_ORGANIZATION")),
        "{subject}"
    );

    let r = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "metrics on their own port");
    let r = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404, "no metrics on the API port");

    // JSON logs (log.format = json), every line.
    let lines: Vec<String> = server.logs.try_iter().collect();
    assert!(!lines.is_empty(), "the server logs to stdout");
    for line in &lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    }

    // SIGTERM as kubelet sends it: a clean stop within the grace period.
    let grace = spec["terminationGracePeriodSeconds"].as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(grace);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no stop within {grace} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read_dir(&pod.workdir).unwrap().count(),
        0,
        "nothing was written to the working directory"
    );
}
