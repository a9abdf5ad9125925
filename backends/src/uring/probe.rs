//! Whether this system lets plexio use io_uring, and if not, why, in words a user can act on.
//!
//! The refusals come from several places: the `kernel.io_uring_disabled` setting (2: off for
//! every process, 1: only for members of `kernel.io_uring_group`), a seccomp profile
//! (Docker's default answers `io_uring_setup` with `EPERM`; others with `ENOSYS`), a kernel
//! built without it (`ENOSYS`), the locked-memory limit of kernels before 5.12 (`ENOMEM`),
//! and a kernel too old for an operation or feature plexio needs (checked with the ring's
//! probe). Each gets its own reason, written once here and tested one by one.

use std::io;

use io_uring::{IoUring, Probe, opcode};

/// Where the kernel publishes the `io_uring_disabled` setting (Linux 6.6 and later).
const DISABLED_SETTING: &str = "/proc/sys/kernel/io_uring_disabled";

/// The operations plexio submits, each with its name and the kernel that brought it.
pub(super) const REQUIRED_OPERATIONS: [(u8, &str, &str); 9] = [
    (opcode::Accept::CODE, "IORING_OP_ACCEPT", "5.5"),
    (opcode::Connect::CODE, "IORING_OP_CONNECT", "5.5"),
    (opcode::AsyncCancel::CODE, "IORING_OP_ASYNC_CANCEL", "5.5"),
    (opcode::Recv::CODE, "IORING_OP_RECV", "5.6"),
    (opcode::Send::CODE, "IORING_OP_SEND", "5.6"),
    (opcode::RecvMsg::CODE, "IORING_OP_RECVMSG", "5.3"),
    (opcode::SendMsg::CODE, "IORING_OP_SENDMSG", "5.3"),
    (opcode::PollAdd::CODE, "IORING_OP_POLL_ADD", "5.1"),
    (opcode::Read::CODE, "IORING_OP_READ", "5.6"),
];

/// Why io_uring cannot be used here.
#[derive(Debug)]
pub struct Refusal {
    /// What is wrong and what would change it.
    pub reason: String,
    /// The error the system reported, if any.
    pub source: Option<io::Error>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|error| error as _)
    }
}

/// Explains a failed `io_uring_setup`, given the `io_uring_disabled` setting if it could be
/// read.
pub(crate) fn setup_refused(error: io::Error, disabled_setting: Option<u8>) -> Refusal {
    let reason = match (error.raw_os_error(), disabled_setting) {
        (Some(libc::EPERM), Some(2)) => "io_uring is disabled on this system \
             (/proc/sys/kernel/io_uring_disabled is 2); set it to 0 to allow it"
            .to_owned(),
        (Some(libc::EPERM), Some(1)) => "io_uring is allowed only for members of the group \
             kernel.io_uring_group (/proc/sys/kernel/io_uring_disabled is 1), and this process \
             is not one; add it to that group or set the setting to 0"
            .to_owned(),
        (Some(libc::EPERM), _) => "io_uring_setup was refused with EPERM: a seccomp profile \
             (Docker's default profile refuses io_uring) or a security module forbids it; \
             allow the io_uring_setup, io_uring_enter and io_uring_register system calls"
            .to_owned(),
        (Some(libc::ENOSYS), _) => "io_uring_setup is not available (ENOSYS): the kernel was \
             built without io_uring (Linux 5.1 or later with CONFIG_IO_URING), or a seccomp \
             profile hides it"
            .to_owned(),
        (Some(libc::ENOMEM), _) => "io_uring_setup could not lock the ring's memory (ENOMEM): \
             on kernels before 5.12 the ring counts against RLIMIT_MEMLOCK; raise it \
             (ulimit -l)"
            .to_owned(),
        _ => format!("io_uring_setup failed: {error}"),
    };
    Refusal { reason, source: Some(error) }
}

/// What the ring lacks of what plexio needs: the first missing operation (given whether the
/// kernel supports each opcode), or the extended wait arguments (timeouts on the wait
/// itself, Linux 5.11).
pub(crate) fn missing_capability(
    supports: impl Fn(u8) -> bool,
    has_extended_wait: bool,
) -> Option<Refusal> {
    for (code, name, version) in REQUIRED_OPERATIONS {
        if !supports(code) {
            return Some(Refusal {
                reason: format!(
                    "the kernel's io_uring lacks {name} (Linux {version}), which plexio needs; \
                     plexio's io_uring backend needs Linux 5.11 or later"
                ),
                source: None,
            });
        }
    }
    if !has_extended_wait {
        return Some(Refusal {
            reason: "the kernel's io_uring lacks IORING_FEAT_EXT_ARG (timed waits, Linux \
                     5.11), which plexio needs"
                .to_owned(),
            source: None,
        });
    }
    None
}

/// Reads the `io_uring_disabled` setting; `None` where the kernel has none or it cannot be
/// read.
pub(crate) fn disabled_setting() -> Option<u8> {
    std::fs::read_to_string(DISABLED_SETTING).ok()?.trim().parse().ok()
}

/// Checks a freshly set up ring against what plexio needs.
pub(crate) fn check(ring: &IoUring) -> Result<(), Refusal> {
    let mut probe = Probe::new();
    if let Err(error) = ring.submitter().register_probe(&mut probe) {
        return Err(Refusal {
            reason: format!(
                "the kernel's io_uring cannot say which operations it supports ({error}); \
                 plexio's io_uring backend needs Linux 5.11 or later"
            ),
            source: Some(error),
        });
    }
    match missing_capability(|code| probe.is_supported(code), ring.params().is_feature_ext_arg()) {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(errno: i32, setting: Option<u8>) -> String {
        setup_refused(io::Error::from_raw_os_error(errno), setting).reason
    }

    #[test]
    fn a_system_wide_disable_names_the_setting() {
        let reason = refusal(libc::EPERM, Some(2));
        assert!(reason.contains("io_uring_disabled is 2"), "{reason}");
    }

    #[test]
    fn a_group_restriction_names_the_group() {
        let reason = refusal(libc::EPERM, Some(1));
        assert!(reason.contains("kernel.io_uring_group"), "{reason}");
    }

    #[test]
    fn eperm_with_the_setting_open_is_a_seccomp_profile() {
        for setting in [Some(0), None] {
            let reason = refusal(libc::EPERM, setting);
            assert!(reason.contains("seccomp"), "{reason}");
        }
    }

    #[test]
    fn enosys_is_a_kernel_without_io_uring_or_a_profile_hiding_it() {
        let reason = refusal(libc::ENOSYS, Some(0));
        assert!(reason.contains("ENOSYS") && reason.contains("seccomp"), "{reason}");
    }

    #[test]
    fn enomem_points_at_the_locked_memory_limit() {
        let reason = refusal(libc::ENOMEM, None);
        assert!(reason.contains("RLIMIT_MEMLOCK"), "{reason}");
    }

    #[test]
    fn a_missing_operation_is_named_with_its_kernel() {
        let refusal = missing_capability(|code| code != opcode::Connect::CODE, true).unwrap();
        assert!(refusal.reason.contains("IORING_OP_CONNECT (Linux 5.5)"), "{}", refusal.reason);
    }

    #[test]
    fn timed_waits_are_required() {
        let refusal = missing_capability(|_| true, false).unwrap();
        assert!(refusal.reason.contains("IORING_FEAT_EXT_ARG"), "{}", refusal.reason);
        assert!(missing_capability(|_| true, true).is_none());
    }
}
