//! A global allocator that counts: the bytes live, their peak and the number of
//! allocations, for the tests, examples and fuzz harness that bound memory.
//!
//! Include it (`mod alloc_support;`, or `#[path = ".../tests/alloc_support/mod.rs"]`
//! from an example or the fuzz crate) and install it in that binary:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: alloc_support::Counting = alloc_support::Counting;
//! ```
//!
//! The counts are process-wide, so a binary that asserts on them runs one test
//! function (or measures one thing at a time).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Forwards every call to the system allocator and counts.
pub struct Counting;

/// Bytes allocated and not yet freed.
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since it was last reset (`reset_peak`).
pub static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocations made (a `realloc` counts as one).
pub static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Bytes live now.
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// The peak since the last reset.
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Starts a new peak from what is live now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are bookkeeping only. Measuring heap needs a global allocator, and
// that trait is unsafe to implement.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.fetch_add(1, Relaxed);
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            COUNT.fetch_add(1, Relaxed);
            // The change in size: a buffer that grows in place holds no copy,
            // and the limits under test bound the buffer, not the allocator.
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        new
    }
}
