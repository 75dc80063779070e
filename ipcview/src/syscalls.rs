//! System call numbers, as `/proc/<pid>/syscall` shows them, turned into names.
//!
//! The numbers differ between architectures (`read` is 0 on x86-64 and 63 on arm64), so none is
//! written here: each comes from the `libc::SYS_*` constant of the architecture being built.
//! Only the list of calls worth naming is ours. A few calls exist on x86-64 only: arm64, like
//! every architecture that came later, has just the newer call that replaced each (`openat`
//! for `open`, `ppoll` for `poll`, `pselect6` for `select`, `epoll_pwait` for `epoll_wait`).

/// `(number, "SYS_name")` for each constant named.
macro_rules! numbered {
    ($($constant:ident),* $(,)?) => {
        &[$((libc::$constant, stringify!($constant))),*]
    };
}

/// The calls that every architecture has.
const EVERYWHERE: &[(libc::c_long, &str)] = numbered![
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_pwrite64,
    SYS_openat,
    SYS_openat2,
    SYS_close,
    SYS_ppoll,
    SYS_pselect6,
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_futex,
    SYS_futex_waitv,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_wait4,
    SYS_waitid,
    SYS_rt_sigsuspend,
    SYS_rt_sigtimedwait,
    SYS_msgrcv,
    SYS_msgsnd,
    SYS_semop,
    SYS_semtimedop,
    SYS_shmat,
    SYS_shmdt,
    SYS_mq_timedreceive,
    SYS_mq_timedsend,
    SYS_accept,
    SYS_accept4,
    SYS_connect,
    SYS_recvfrom,
    SYS_recvmsg,
    SYS_sendto,
    SYS_sendmsg,
    SYS_flock,
    SYS_fcntl,
    SYS_splice,
    SYS_sendfile,
    SYS_ioctl,
    SYS_io_getevents,
    SYS_io_uring_enter,
    SYS_sched_yield,
    SYS_restart_syscall,
    SYS_exit_group,
];

/// The older calls that x86-64 keeps and arm64 never had.
#[cfg(target_arch = "x86_64")]
const OLDER: &[(libc::c_long, &str)] =
    numbered![SYS_open, SYS_poll, SYS_select, SYS_pause, SYS_epoll_wait,];
#[cfg(not(target_arch = "x86_64"))]
const OLDER: &[(libc::c_long, &str)] = &[];

/// The name of system call `number` on this architecture (`msgrcv`), or `None` for one this
/// list does not name.
pub fn name(number: libc::c_long) -> Option<&'static str> {
    EVERYWHERE
        .iter()
        .chain(OLDER)
        .find(|(n, _)| *n == number)
        .map(|(_, constant)| constant.trim_start_matches("SYS_"))
}

/// The name of system call `number`, or `syscall <number>` for one without a name here.
pub fn describe(number: libc::c_long) -> String {
    name(number).map_or_else(|| format!("syscall {number}"), str::to_owned)
}

/// The number of the system call called `name` on this architecture, if it is in the list.
pub fn number(name: &str) -> Option<libc::c_long> {
    EVERYWHERE
        .iter()
        .chain(OLDER)
        .find(|(_, constant)| constant.trim_start_matches("SYS_") == name)
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_this_architecture_s_numbers() {
        assert_eq!(name(libc::SYS_msgrcv), Some("msgrcv"));
        assert_eq!(name(libc::SYS_semtimedop), Some("semtimedop"));
        assert_eq!(name(libc::SYS_futex), Some("futex"));
        assert_eq!(name(libc::SYS_openat), Some("openat"));
        assert_eq!(number("read"), Some(libc::SYS_read));
        assert_eq!(describe(100_000), "syscall 100000");
    }

    #[test]
    fn no_number_is_named_twice() {
        let all: Vec<_> = EVERYWHERE.iter().chain(OLDER).collect();
        for (i, (n, constant)) in all.iter().enumerate() {
            let again = all[i + 1..].iter().find(|(m, _)| m == n);
            assert!(again.is_none(), "{constant} and {again:?} have one number");
        }
    }
}
