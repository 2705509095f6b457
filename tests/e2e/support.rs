//! Real `phr` node processes on loopback, for end-to-end tests.

use phr_ledger::{KeyFile, Keypair};
use phr_node::client::Client;
use phr_node::config::NodeConfig;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PHR: &str = env!("CARGO_BIN_EXE_phr");

/// Tests that start nodes run one at a time: two of them at once on two cores
/// starve each other's heartbeats and cause elections no test asked for.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Hold this while a test runs nodes.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// Wait until the node behind `c` can commit (it knows a leader with a quorum).
pub async fn ready(c: &Client) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = c.status().await {
            if s["commit_obstacle"].is_null() && s["raft"]["leader"].is_string() {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "node {} never became ready", c.base());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Compiled contract code shared by every node the tests start.
pub fn compile_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("phr-compile-cache")
}

/// Run `phr` with `args` to completion.
pub fn phr(args: &[&str]) -> std::process::Output {
    phr_env(args, &[])
}

/// Run `phr` with `args` and the environment variables `envs` to completion.
pub fn phr_env(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(PHR);
    c.args(args).env("PHR_COMPILE_CACHE", compile_cache()).env_remove("PHR_CA").env_remove("PHR_KEY");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run phr")
}

/// A network directory made by `phr network init`.
pub struct Network {
    pub dir: tempfile::TempDir,
}

impl Network {
    /// `phr network init` with free ports and `extra` arguments, with the
    /// per-identity limits raised so that a test's one signer can drive a
    /// load (the limits themselves are tested with their defaults, see
    /// [`Network::init_with_default_limits`]).
    pub fn init(extra: &[&str]) -> Network {
        let net = Self::init_with_default_limits(extra);
        for cfg in net.node_configs() {
            let mut c = NodeConfig::load(&cfg).unwrap();
            c.limits.requests_per_identity_per_s = 100_000;
            c.limits.txs_per_identity_per_s = 100_000;
            c.limits.enrolments_per_ip_per_s = 100_000;
            c.limits.heavy_per_caller_per_s = 100_000;
            c.limits.heavy_concurrent_per_caller = 64;
            c.limits.heavy_concurrent = 64;
            save_config(&cfg, &c);
        }
        net
    }

    /// The node configs of the network, in order.
    pub fn node_configs(&self) -> Vec<PathBuf> {
        (0..).map(|i| self.node_config(i)).take_while(|p| p.exists()).collect()
    }

    /// The network's CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.path().join("ca.pem")
    }

    /// `phr network init` with the node defaults untouched.
    pub fn init_with_default_limits(extra: &[&str]) -> Network {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let mut args = vec!["network", "init", "--out", out.to_str().unwrap(), "--base-port", "0"];
        if !extra.contains(&"--orgs") {
            args.extend_from_slice(&["--orgs", "stmarys,northclinic"]);
        }
        args.extend_from_slice(extra);
        let o = phr(&args);
        assert!(o.status.success(), "network init failed: {}", String::from_utf8_lossy(&o.stderr));
        Network { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("net")
    }

    pub fn node_config(&self, i: usize) -> PathBuf {
        self.path().join(format!("node{i}/node.toml"))
    }

    pub fn admin(&self, org: &str) -> Keypair {
        load_key(&self.path().join(format!("keys/{org}-admin.key")))
    }

    pub fn admin_key_file(&self, org: &str) -> PathBuf {
        self.path().join(format!("keys/{org}-admin.key"))
    }

    pub fn chain_id(&self) -> String {
        let g: Value =
            serde_json::from_str(&std::fs::read_to_string(self.path().join("genesis.json")).unwrap()).unwrap();
        g["chain_id"].as_str().unwrap().to_string()
    }
}

pub fn load_key(path: &Path) -> Keypair {
    serde_json::from_str::<KeyFile>(&std::fs::read_to_string(path).unwrap()).unwrap().keypair().unwrap()
}

/// Write a node config back (paths made relative to its directory again).
pub fn save_config(path: &Path, cfg: &NodeConfig) {
    let mut c = cfg.clone();
    let dir = path.parent().unwrap();
    let rel = |p: &Path| p.strip_prefix(dir).map(|r| r.to_path_buf()).unwrap_or_else(|_| p.to_path_buf());
    c.genesis = rel(&c.genesis);
    c.key_file = rel(&c.key_file);
    c.data_dir = rel(&c.data_dir);
    c.tls.cert = rel(&c.tls.cert);
    c.tls.key = rel(&c.tls.key);
    c.tls.ca = rel(&c.tls.ca);
    c.compile_cache = None;
    std::fs::write(path, toml::to_string(&c).unwrap()).unwrap();
}

/// The CA a node's clients trust and the admin key of its organisation (a
/// chain reader on that node), from its config.
fn trust_of(config: &Path) -> (Option<PathBuf>, Option<Keypair>) {
    let cfg = NodeConfig::load(config).unwrap();
    let ca = (!cfg.insecure_plain_http).then(|| cfg.tls.ca.clone());
    let genesis = phr_ledger::Genesis::from_json(&std::fs::read_to_string(&cfg.genesis).unwrap()).unwrap();
    let org = genesis.nodes.iter().find(|n| n.id == cfg.node_id).map(|n| n.org.clone()).or(cfg.org.clone());
    let admin = org
        .map(|o| cfg.genesis.parent().unwrap().join(format!("keys/{o}-admin.key")))
        .filter(|p| p.exists())
        .map(|p| load_key(&p));
    (ca, admin)
}

/// A `phr node start` process.
pub struct NodeProc {
    pub child: Child,
    pub url: String,
    /// The CA its clients trust (none on a plain network).
    pub ca: Option<PathBuf>,
    /// The admin of its organisation, which may read its chain.
    pub admin: Option<Keypair>,
}

impl NodeProc {
    /// Start the node of `config` and wait until it serves.
    pub fn start(config: &Path) -> NodeProc {
        Self::spawn(config, Stdio::inherit(), "warn,openraft=off")
    }

    /// Like [`NodeProc::start`], with the node's log (at info level) written to `log`.
    pub fn start_logged(config: &Path, log: &Path) -> NodeProc {
        let f = std::fs::File::create(log).unwrap();
        Self::spawn(config, Stdio::from(f), "info,openraft=off")
    }

    /// Like [`NodeProc::start_logged`], with its own compiled-code cache.
    pub fn start_with_cache(config: &Path, log: &Path, cache: &Path) -> NodeProc {
        let f = std::fs::File::create(log).unwrap();
        Self::spawn_in(config, Stdio::from(f), "info,openraft=off", cache, &[])
    }

    /// Like [`NodeProc::start_logged`], with more environment variables.
    pub fn start_with_env(config: &Path, log: &Path, envs: &[(&str, String)]) -> NodeProc {
        let f = std::fs::File::create(log).unwrap();
        Self::spawn_in(config, Stdio::from(f), "info,openraft=off", &compile_cache(), envs)
    }

    fn spawn(config: &Path, stderr: Stdio, log: &str) -> NodeProc {
        Self::spawn_in(config, stderr, log, &compile_cache(), &[])
    }

    fn spawn_in(config: &Path, stderr: Stdio, log: &str, cache: &Path, envs: &[(&str, String)]) -> NodeProc {
        let (ca, admin) = trust_of(config);
        let mut child = Command::new(PHR)
            .args(["node", "start", "--config", config.to_str().unwrap()])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PHR_COMPILE_CACHE", cache)
            .env("PHR_LOG", log)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn phr node");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = loop {
            assert!(Instant::now() < deadline, "node did not start in time");
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.split("serving ").nth(1) {
                        break url.trim().to_string();
                    }
                }
                _ => panic!("node exited before serving: {:?}", child.wait()),
            }
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        NodeProc { child, url, ca, admin }
    }

    /// A client of this node trusting the network's CA, signed by the admin
    /// of the node's organisation (who may read the chain here).
    pub fn client(&self) -> Client {
        let c = self.anon();
        match &self.admin {
            Some(k) => c.signed_by(k),
            None => c,
        }
    }

    /// A client trusting the network's CA that signs nothing.
    pub fn anon(&self) -> Client {
        Client::with_ca(&self.url, self.ca.as_deref()).unwrap()
    }

    /// Start a node of a one-node network and wait until it can commit.
    pub async fn start_ready(config: &Path) -> NodeProc {
        let n = NodeProc::start(config);
        ready(&n.client()).await;
        n
    }

    /// SIGKILL: no shutdown, no flush beyond what the node already did.
    pub fn kill9(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Enrol a new patient through `c`.
pub async fn patient(c: &Client) -> Keypair {
    let k = Keypair::generate();
    c.call(&k, "identity", "enrol_patient", serde_json::json!({})).await.unwrap();
    k
}

/// Enrol a practitioner of `admin`'s organisation.
pub async fn practitioner(c: &Client, admin: &Keypair, roles: &[&str]) -> Keypair {
    let k = Keypair::generate();
    c.call(admin, "identity", "enrol_practitioner", serde_json::json!({"public_key": k.public_key(), "roles": roles}))
        .await
        .unwrap();
    k
}

pub fn sha(s: &str) -> String {
    phr_ledger::sha256(&[s.as_bytes()]).to_hex()
}

/// The TLS identity of node `i` of `net`.
pub fn node_identity(net: &Network, i: usize) -> phr_tls::certs::Identity {
    let dir = net.path().join(format!("node{i}"));
    phr_tls::certs::Identity::load(&dir.join("tls.pem"), &dir.join("tls.key"), &net.ca()).unwrap()
}

/// A peer-link client presenting `id`, trusting the nodes the genesis pins.
pub fn peer_client(net: &Network, id: &phr_tls::certs::Identity) -> reqwest::Client {
    let g = phr_ledger::Genesis::from_json(&std::fs::read_to_string(net.path().join("genesis.json")).unwrap()).unwrap();
    let keys = phr_orderer::raft::PeerKeys::new(&g.chain_id, phr_orderer::raft::types::node_id("test-client"));
    let pins: Vec<_> = g
        .nodes
        .iter()
        .map(|n| phr_orderer::raft::envelope::Accepted {
            name: n.id.clone(),
            key: n.public_key,
            cert: Some(n.tls_cert_sha256),
        })
        .collect();
    keys.set_bootstrap(&pins);
    let policy: std::sync::Arc<dyn phr_tls::pinned::PeerCertPolicy> = std::sync::Arc::new(keys);
    reqwest::Client::builder()
        .use_preconfigured_tls(phr_tls::configs::peer_client(id, policy).unwrap())
        .build()
        .unwrap()
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    manifest_dir().join("../..")
}

/// The Python of the venv that scripts/setup.sh makes, with the API tools
/// (openapi-spec-validator, schemathesis, fhir.resources).
pub fn venv_python() -> PathBuf {
    let venv = match std::env::var_os("PHR_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/phr-ledger/venv"),
    };
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: the API checks need the Python venv of tests/api/requirements.txt; \
         run scripts/setup.sh (it creates $PHR_VENV, by default ~/.cache/phr-ledger/venv)",
        python.display()
    );
    python
}

/// Validate FHIR JSON resources against R5 with the `fhir.resources` package
/// (tests/api/validate_fhir.py); panics naming every failure.
pub fn assert_valid_r5(resources: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resources.json");
    std::fs::write(&file, serde_json::to_vec(resources).unwrap()).unwrap();
    let out = Command::new(venv_python())
        .arg(repo_root().join("tests/api/validate_fhir.py"))
        .arg(&file)
        .output()
        .expect("running validate_fhir.py");
    assert!(
        out.status.success(),
        "R5 validation failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// This package's directory in the checkout the tests run from. Cargo sets it
/// when it runs a test; the value baked in at build time is only a fallback,
/// since a build shared between checkouts may have been made in another one.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
