//! Handing memory back to the system once a wave of connections has passed.
//!
//! A wave (a slowloris attack, a load test) allocates buffers and tasks for every
//! connection. glibc keeps what they freed unless asked with `malloc_trim`, so RSS
//! would stay at the wave's peak. And where transparent huge pages are set to
//! `always`, the kernel's khugepaged later refills the trimmed holes with 2 MiB
//! pages and RSS climbs back up while the server sits idle: the process opts out
//! of transparent huge pages at start. Its heap is small (buffers and tasks, the
//! model is a few MiB), so huge pages buy it nothing.

use std::io;
use std::time::Duration;

use super::conn::Tracker;

/// How often the server looks whether a wave of connections has passed.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// A wave is at least this many connections at once.
const WAVE: usize = 256;

/// Opts the whole process out of transparent huge pages (`PR_SET_THP_DISABLE`).
pub fn disable_transparent_huge_pages() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Watches the connection count, checked every [`CHECK_EVERY`].
#[derive(Debug, Default)]
pub struct Trimmer {
    trims_left: u8,
}

impl Trimmer {
    /// Once the connections have fallen to a quarter of a peak of at least [`WAVE`],
    /// trims now and at the next check (what the last connections and their tasks
    /// held is freed a little later), and starts a new peak.
    pub fn check(&mut self, tracker: &Tracker) {
        let peak = tracker.peak();
        if peak >= WAVE && tracker.connections() <= peak / 4 {
            tracker.reset_peak();
            self.trims_left = 2;
        }
        if self.trims_left > 0 {
            self.trims_left -= 1;
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free heap pages to the kernel.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }
}
