//! The wall clock, read in one place: the protocol crate takes `now` as an argument, and this is
//! where the gateway, the peer and the bridge get it.

/// Current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
