//! Transparent huge pages for this process, chosen by what a run is about to do.
//!
//! mimalloc asks the kernel for huge pages for its arenas (`madvise`); whether a fault in
//! them gets one is decided at fault time by a per-process flag (`prctl`), so it can be
//! switched while the process runs. A run that parses the tree (the first run,
//! `--no-cache`) holds its peak memory in many small facts spread over those arenas: with
//! huge pages each touched 2 MiB region counts in full, about 40 MB more on Home Assistant
//! core (over 500 MB on a first run), for no measurable speed. A run that starts from a
//! cache instead decodes every file's facts into fresh memory at once, and its page faults
//! were about half of that step: with huge pages an edited-file run on Home Assistant core
//! took 0.54-0.77 s instead of 0.78-1.01 s, for ~40 MB more (about 400 MB in all).
//! See docs/performance.md ("Tenth pass").

/// Lets (`true`) or keeps (`false`) the kernel from backing this process's memory with
/// transparent huge pages from now on. Where it fails (old kernels, not Linux), nothing
/// changes.
pub fn huge_pages(on: bool) {
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl(PR_SET_THP_DISABLE, flag, 0, 0, 0)` only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, libc::c_ulong::from(!on), 0, 0, 0);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = on;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    fn disabled() -> i32 {
        // SAFETY: reads a flag of this process.
        unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }
    }

    #[test]
    fn the_switch_sets_the_process_flag_both_ways() {
        super::huge_pages(false);
        assert_eq!(disabled(), 1);
        super::huge_pages(true);
        assert_eq!(disabled(), 0);
    }
}
