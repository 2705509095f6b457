use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_tells_the_whole_story_and_exits_zero() {
    let _serial = serial().await;
    let o = tokio::task::spawn_blocking(|| phr(&["demo"])).await.unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "demo failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for expected in [
        "Alice enrols herself as a patient",
        "granted automatically: provision 0 of consent-",
        "access.disclosed — Dr Carol (northclinic, physician) read stmarys/lab/2026-000123 for TREAT",
        "new request: denied (no active consent of the patient permits this access)",
        "access.break-glass",
        "[BREAK-GLASS]",
        "review: justified",
        "record.disposed",
        "every receipt, every root and every key matches",
        "Demo complete.",
    ] {
        assert!(out.contains(expected), "demo output lacks {expected:?}:\n{out}");
    }
}
