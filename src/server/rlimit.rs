//! The open-file limit: raised to its hard limit at start, and the default
//! connection limit derived from it.
//!
//! systemd and most shells start services with a soft `RLIMIT_NOFILE` of 1024
//! while allowing far more; every connection is a descriptor, so a server left at
//! 1024 fails `accept` with EMFILE long before it runs out of anything real.

use std::io;

/// Descriptors kept aside for everything that is not a client connection
/// (the listener, the model file, logs, the runtime's own, child threads).
pub const RESERVED_DESCRIPTORS: u64 = 128;
/// The default connection limit never goes above this, whatever the open-file limit:
/// each idle connection still costs buffers and a task.
pub const MAX_DEFAULT_CONNECTIONS: u64 = 16_384;

/// The soft and hard `RLIMIT_NOFILE`.
pub fn nofile() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns `(before, after)`.
pub fn raise_nofile() -> io::Result<(u64, u64)> {
    let (soft, hard) = nofile()?;
    if soft >= hard {
        return Ok((soft, soft));
    }
    let limit = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((soft, hard))
}

/// The connection limit used when none is configured: the soft open-file limit
/// less [`RESERVED_DESCRIPTORS`], between 16 and [`MAX_DEFAULT_CONNECTIONS`].
pub fn default_max_connections() -> usize {
    let soft = nofile().map(|(soft, _)| soft).unwrap_or(1024);
    soft.saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(16, MAX_DEFAULT_CONNECTIONS) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_follows_the_soft_limit_within_bounds() {
        let (soft, hard) = nofile().unwrap();
        assert!(soft <= hard);
        let limit = default_max_connections() as u64;
        assert!((16..=MAX_DEFAULT_CONNECTIONS).contains(&limit));
        assert_eq!(
            limit,
            soft.saturating_sub(RESERVED_DESCRIPTORS)
                .clamp(16, MAX_DEFAULT_CONNECTIONS)
        );
    }
}
