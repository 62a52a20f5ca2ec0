//! What the benchmarks share: a heap counter (install it as the global allocator) and
//! starting a simulator binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes live and their peak.
pub struct PeakAlloc;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Starts measuring: returns the bytes live now, the baseline for [`peak_since`].
pub fn start_measuring() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// The peak heap above `baseline` since [`start_measuring`].
pub fn peak_since(baseline: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(baseline)
}

pub fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A simulator binary running in its own process (so its memory is not counted); killed
/// when dropped.
pub struct SimProcess {
    child: Child,
    pub url: url::Url,
}

impl SimProcess {
    /// Starts `bin` with `args` and reads the address it prints on its first line.
    pub fn start(bin: &str, args: &[&str]) -> Self {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the simulator prints its address");
        let url = url::Url::parse(line.trim().rsplit(' ').next().unwrap_or_default())
            .expect("an address");
        Self { child, url }
    }

    /// Moves a Runn simulator's clock on (`PUT /__sim/clock`): what it stamps from now on
    /// is that much later.
    pub async fn advance_clock(&self, by: std::time::Duration) {
        let status = reqwest::Client::new()
            .put(format!("{}__sim/clock", self.url))
            .json(&serde_json::json!({"advance_ms": by.as_millis() as u64}))
            .send()
            .await
            .expect("advance the clock")
            .status();
        assert!(status.is_success(), "{status}");
    }

    /// The simulator's request counts (`/__sim/stats`), then resets them.
    pub async fn take_stats(&self) -> serde_json::Value {
        let http = reqwest::Client::new();
        let stats = http
            .get(format!("{}__sim/stats", self.url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json");
        http.delete(format!("{}__sim/stats", self.url))
            .send()
            .await
            .expect("reset stats");
        stats
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
