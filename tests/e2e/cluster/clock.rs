//! Chain time under wrong clocks (issue 11, point 5), with each node's clock
//! shifted by libfaketime (Debian's `faketime`, which scripts/setup.sh
//! installs): a leader a little ahead raises the followers' alarm; a leader
//! hours ahead cannot move chain time, loses the leadership, and the others
//! go on committing at the right time.

use super::harness::*;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Debian's libfaketime for this architecture.
fn libfaketime() -> String {
    format!("/usr/lib/{}-linux-gnu/faketime/libfaketime.so.1", std::env::consts::ARCH)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Set the offset (seconds, `+N` or `-N`) of the clock of the node reading `file`.
fn set_clock(file: &Path, offset: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, offset).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// `phr_<name>` of the node's metrics.
async fn metric(c: &Cluster, i: usize, name: &str) -> f64 {
    let text = c.client(i).request(reqwest::Method::GET, "/metrics", None).await.unwrap().send().await.unwrap();
    let text = text.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("phr_{name}")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no phr_{name} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_with_a_wrong_clock_raises_the_alarm_and_cannot_move_chain_time() {
    let _serial = serial().await;
    let lib = libfaketime();
    assert!(Path::new(&lib).exists(), "{lib} is missing: scripts/setup.sh installs Debian's faketime");
    let mut c = Cluster::new(3, Opts::default()).await;
    let clocks: Vec<PathBuf> = (0..3).map(|i| c.net.path().join(format!("node{i}/clock-offset"))).collect();
    for (i, clock) in clocks.iter().enumerate() {
        set_clock(clock, "+0");
        let env = [
            ("LD_PRELOAD", lib.clone()),
            ("FAKETIME_TIMESTAMP_FILE", clock.display().to_string()),
            ("FAKETIME_CACHE_DURATION", "1".to_string()),
            // Timers and timeouts keep the true monotonic clock.
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
        ];
        let log = c.net.path().join(format!("node{i}.log"));
        c.nodes[i] = Some(NodeProc::start_with_env(&c.net.node_config(i), &log, &env));
    }
    for i in 0..3 {
        ready(&c.client(i)).await;
    }
    let leader = c.leader(Duration::from_secs(30)).await;
    let follower = (leader + 1) % 3;
    let p = patient(&c.client(follower)).await;

    // The leader's clock runs 30 s ahead: still within the peers' 60 s window, so
    // its blocks commit, timed ahead, and every follower raises the alarm.
    set_clock(&clocks[leader], "+30");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.client(follower).call(&p, "consent", "create", serde_json::json!({"decision": "permit"})).await.unwrap();
        if metric(&c, follower, "clock_alarms_total").await > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no clock alarm on node{follower}");
    }
    let ahead = metric(&c, follower, "block_time_ahead_ms").await;
    assert!(ahead > 20_000.0, "the metric shows how far ahead: {ahead}");
    let log = std::fs::read_to_string(c.net.path().join(format!("node{follower}.log"))).unwrap();
    assert!(log.contains("CLOCK ALARM"), "the follower says so in its log");

    // Hours ahead: its peers refuse its messages, another node leads, and chain
    // time stays with the majority's clocks.
    set_clock(&clocks[leader], "+10800");
    let deadline = Instant::now() + Duration::from_secs(60);
    let new_leader = loop {
        let s = c.status(follower).await.unwrap();
        let l = s["raft"]["leader"].as_str().unwrap_or_default().to_string();
        if !l.is_empty() && l != format!("node{leader}") {
            break l;
        }
        assert!(Instant::now() < deadline, "node{leader}, hours ahead, still leads: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let before = c.status(follower).await.unwrap()["height"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match c.client(follower).call(&p, "consent", "create", serde_json::json!({"decision": "permit"})).await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "the others stopped committing under {new_leader}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let s = c.status(follower).await.unwrap();
    assert!(s["height"].as_u64().unwrap() > before, "{s}");
    let t = s["last_block_time_ms"].as_u64().unwrap();
    assert!(t < now_ms() + 60_000, "chain time ran ahead with the bad clock: {t} vs {}", now_ms());
    let log = std::fs::read_to_string(c.net.path().join(format!("node{follower}.log"))).unwrap();
    assert!(log.contains("rejected a peer message"), "the refused messages are logged");
}
