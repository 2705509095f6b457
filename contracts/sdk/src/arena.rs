//! The contracts' memory allocator (wasm32 only): a bump allocator over a
//! static arena, falling back to the system allocator when the arena is full.
//!
//! Every call runs in a fresh instance, so nothing allocated outlives a call
//! and the arena needs no reuse. Because the arena lies in the module's own
//! initial memory, a typical call never grows linear memory — growing it, and
//! shrinking it back for the next instance, costs the node two `mprotect`s and
//! a TLB flush on every core per call. A call that needs more than the arena
//! grows memory as usual, up to the node's memory limit.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use std::alloc::System;

const ARENA_BYTES: usize = 4 << 20;

#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

/// The offset of the arena's first free byte.
struct Next(UnsafeCell<usize>);

// SAFETY: wasm32 contracts are single-threaded (the node's engine has threads off).
unsafe impl Sync for Arena {}
unsafe impl Sync for Next {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));
static NEXT: Next = Next(UnsafeCell::new(0));

/// The global allocator of contracts built with the SDK.
pub struct BumpArena;

fn base() -> usize {
    ARENA.0.get() as usize
}

fn in_arena(p: *mut u8) -> bool {
    let a = p as usize;
    a >= base() && a < base() + ARENA_BYTES
}

unsafe impl GlobalAlloc for BumpArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded; `NEXT` is only touched here.
        let next = unsafe { &mut *NEXT.0.get() };
        let start = (base() + *next + layout.align() - 1) & !(layout.align() - 1);
        match start.checked_add(layout.size()) {
            Some(end) if end <= base() + ARENA_BYTES => {
                *next = end - base();
                start as *mut u8
            }
            // SAFETY: forwarded as is.
            _ => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if in_arena(p) {
            // Give back the most recent allocation; the rest goes with the instance.
            // SAFETY: single-threaded.
            let next = unsafe { &mut *NEXT.0.get() };
            if p as usize + layout.size() == base() + *next {
                *next = p as usize - base();
            }
        } else {
            // SAFETY: `p` came from `System` with this layout.
            unsafe { System.dealloc(p, layout) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if in_arena(p) {
            // SAFETY: single-threaded.
            let next = unsafe { &mut *NEXT.0.get() };
            let last = p as usize + layout.size() == base() + *next;
            if last && p as usize + new_size <= base() + ARENA_BYTES {
                *next = p as usize + new_size - base();
                return p;
            }
            if new_size <= layout.size() {
                return p;
            }
        } else {
            // SAFETY: `p` came from `System` with this layout.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        // SAFETY: a valid layout: the old alignment, a size that fitted before.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for any allocation.
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            // SAFETY: both regions are valid for `layout.size()` bytes and distinct.
            unsafe { core::ptr::copy_nonoverlapping(p, q, layout.size()) };
        }
        q
    }
}

#[global_allocator]
static GLOBAL: BumpArena = BumpArena;
