//! runaway: a hostile contract for tests. Each method misbehaves in one way the
//! node must survive with a deterministic failed receipt.

use phr_sdk::prelude::*;
use std::hint::black_box;

pub struct Runaway;

impl Contract for Runaway {
    fn invoke(method: &str, args: &str) -> Result<String> {
        Router::new(method, args)
            .on("spin", |_: serde_json::Value| -> Result<()> { spin() })
            .on("hog", |_: serde_json::Value| -> Result<()> { hog() })
            .on("recurse", |_: serde_json::Value| -> Result<u64> { Ok(recurse(black_box(1))) })
            .on("panic", |_: serde_json::Value| -> Result<()> { panic!("runaway panicked on purpose") })
            .on("deep", |a: Deep| -> Result<u64> { Ok(deep(a.frames, a.frames)) })
            .on("write_then_fail", |_: serde_json::Value| -> Result<()> {
                put(&Key::new("scratch"), &"written");
                Err(Error::conflict("failing after a write, which must not be kept"))
            })
            .on("write", |v: serde_json::Value| -> Result<()> {
                put(&Key::new("scratch"), &v);
                Ok(())
            })
            .finish()
    }

    /// Fails, or loops, when the scratch value asks for it, so that tests can
    /// see a failing `migrate` abort an upgrade.
    fn migrate(_from_code_hash: &str) -> Result<()> {
        match get::<serde_json::Value>(&Key::new("scratch")) {
            Some(v) if v == "fail-migrate" => Err(Error::conflict("scratch says: fail the migration")),
            Some(v) if v == "spin-migrate" => spin(),
            _ => {
                put(&Key::new("migrated"), &true);
                Ok(())
            }
        }
    }

    fn query(method: &str, args: &str) -> Result<String> {
        Router::new(method, args)
            .on("read", |_: serde_json::Value| -> Result<Option<serde_json::Value>> { Ok(get(&Key::new("scratch"))) })
            .on("spin", |_: serde_json::Value| -> Result<()> { spin() })
            .on("deep", |a: Deep| -> Result<u64> { Ok(deep(a.frames, a.frames)) })
            .on("migrated", |_: serde_json::Value| -> Result<bool> { Ok(get(&Key::new("migrated")).unwrap_or(false)) })
            .finish()
    }
}

phr_sdk::export_contract!(Runaway);

/// Loop forever, doing work the optimiser cannot remove.
fn spin() -> Result<()> {
    let mut x: u64 = 0;
    loop {
        x = black_box(x.wrapping_add(1));
    }
}

/// Allocate and touch memory until the allocator gives up.
fn hog() -> Result<()> {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        chunk[black_box(4095)] = 1;
        keep.push(black_box(chunk));
    }
}

/// Recurse without end; the frame cannot be turned into a loop.
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let mut frame = [0u64; 16];
    frame[black_box(n as usize) % 16] = n;
    black_box(recurse(black_box(n + 1))) + black_box(frame)[0]
}

/// Arguments of `deep`.
#[derive(serde::Deserialize)]
struct Deep {
    frames: u64,
}

/// Recurse `left` frames deep on the native stack (values live across the call
/// keep each frame large; the combination after it is not associative, so the
/// recursion cannot become a loop), then, at the bottom, call `deep` again as a
/// nested call, which does the same, until the nesting limit traps: the deepest
/// native stack a call tree can reach, at every level.
#[inline(never)]
fn deep(left: u64, frames: u64) -> u64 {
    if left == 0 {
        return call::<_, u64>("runaway", "deep", &serde_json::json!({ "frames": frames })).unwrap_or_default();
    }
    let (a, b, c, d) = (left.wrapping_mul(3), left ^ 0x55, left.rotate_left(7), left.wrapping_add(frames));
    let (e, f, g, h) = (a ^ b, c.wrapping_mul(d), a.rotate_right(3), b.wrapping_sub(d));
    let r = deep(left - 1, frames);
    (r.rotate_left((a & 31) as u32) ^ b).wrapping_mul(c | 1).wrapping_add(d ^ e).rotate_left((f & 15) as u32) ^ g ^ h
}
