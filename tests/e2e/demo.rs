use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_tells_the_whole_story_and_exits_zero() {
    let _serial = serial().await;
    let o = tokio::task::spawn_blocking(|| phr(&["demo"])).await.unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "demo failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for expected in [
        "Alice enrols herself as a patient",
        "an unsigned client asking for Alice's events: refused (401)",
        "Dr Bob tries to read Alice's consents: refused",
        "forwarded the request to St Mary's node",
        "the bytes Dr Carol received hash to the anchored SHA-256",
        "access.disclosed — Dr Carol (northclinic, physician) read stmarys-",
        "Dr Eve (citylab, physician) was REFUSED",
        "access.break-glass",
        "[BREAK-GLASS]",
        "review: justified",
        "record.disposed",
        "410 Gone",
        "its key was destroyed again before serving; 410 Gone",
        "is served again",
        "every receipt, every root and every key matches",
        "Demo complete.",
    ] {
        assert!(out.contains(expected), "demo output lacks {expected:?}:\n{out}");
    }
}
