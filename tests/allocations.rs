//! What dispatching and compiling allocate, counted by a global allocator:
//! counts, not times, so they hold on any machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use callhook::{Call, Catalog, Config, Event, Registry};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the layout is the caller's, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        FREED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What `f` allocated: how many times, and how many bytes it still holds
/// when it returns (allocated less freed).
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (a, b, c) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
        FREED.load(Ordering::Relaxed),
    );
    let out = f();
    let held =
        (BYTES.load(Ordering::Relaxed) - b).saturating_sub(FREED.load(Ordering::Relaxed) - c);
    (out, ALLOCATIONS.load(Ordering::Relaxed) - a, held)
}

#[test]
fn allocations_per_dispatched_request() {
    let config = Config::from_json(include_str!("../examples/configs/pbx.json")).unwrap();
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let call = Call::from_json(include_str!("../examples/calls/pbx-call.json")).unwrap();
    let at = "2024-12-02T21:11:37Z".parse().unwrap();
    let _ = registry.dispatch(Event::CallHangup, &call, at);
    let (sent, allocations, _) = counted(|| registry.dispatch(Event::CallHangup, &call, at));
    assert_eq!(sent.requests.len(), 1);
    println!("allocations per dispatched request (PBX, Call:Hangup): {allocations}");
    // 33 before the redesign; the scale issue aims at 8.
    assert!(allocations <= 13, "{allocations} allocations");
}

#[test]
fn bytes_per_compiled_service() {
    for name in ["ringcx", "pbx", "avanser"] {
        let text = match name {
            "ringcx" => include_str!("../examples/configs/ringcx.json"),
            "pbx" => include_str!("../examples/configs/pbx.json"),
            _ => include_str!("../examples/configs/avanser.json"),
        };
        let config = Config::from_json(text).unwrap();
        for service in &config.services {
            let json = serde_json::to_string(service).unwrap().len();
            let (compiled, _, bytes) = counted(|| service.compile(Catalog::standard()).unwrap());
            println!(
                "{name} {}: {bytes} bytes held compiled, {json} bytes of JSON",
                service.name
            );
            drop(compiled);
            // The scale issue aims at 3 times the JSON.
            assert!(
                bytes < 8 * json,
                "{}: {bytes} bytes for {json}",
                service.name
            );
        }
    }
}
