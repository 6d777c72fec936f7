//! A counting global allocator for the tests that count what callhook
//! allocates (`tests/allocations.rs`, `tests/limit_costs.rs`): counts, not
//! times, so they hold on any machine. Included by `#[path]`, since a test
//! binary has one global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // Per thread, so tests running beside each other do not count each
    // other's allocations.
    pub static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    pub static BYTES: Cell<usize> = const { Cell::new(0) };
    pub static FREED: Cell<usize> = const { Cell::new(0) };
}

fn add(counter: &'static std::thread::LocalKey<Cell<usize>>, n: usize) {
    // Unavailable while the thread is being torn down: not counted then.
    let _ = counter.try_with(|c| c.set(c.get() + n));
}

pub fn get(counter: &'static std::thread::LocalKey<Cell<usize>>) -> usize {
    counter.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(&ALLOCATIONS, 1);
        add(&BYTES, layout.size());
        // SAFETY: the layout is the caller's, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(&FREED, layout.size());
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(&ALLOCATIONS, 1);
        add(&BYTES, new_size);
        add(&FREED, layout.size());
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
