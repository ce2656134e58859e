//! Thin, safe wrappers over the Linux system calls the shim needs and Node does not expose.
//!
//! Every function maps a failing call to a JS `Error` whose message names the call, its argument
//! and the OS error, so the TypeScript side can wrap it in a `ShimError` without guessing.
#![deny(clippy::all)]

use std::ffi::CString;
use std::io;

use napi::{Error, Result, Status};
use napi_derive::napi;

fn cstring(what: &str, value: &str) -> Result<CString> {
    CString::new(value)
        .map_err(|_| Error::new(Status::InvalidArg, format!("{what}: {value:?} contains a NUL byte")))
}

fn os_error(call: &str, arg: &str) -> Error {
    let err = io::Error::last_os_error();
    Error::new(Status::GenericFailure, format!("{call} {arg}: {err}"))
}

/// Changes the root directory of the whole process to `path`, then its working directory to the new `/`.
///
/// Affects every thread, so worker threads started before the call see the same root.
#[napi]
pub fn chroot(path: String) -> Result<()> {
    let c_path = cstring("chroot", &path)?;
    // SAFETY: c_path is a valid NUL-terminated string that outlives the calls.
    unsafe {
        if libc::chroot(c_path.as_ptr()) != 0 {
            return Err(os_error("chroot", &path));
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            return Err(os_error("chdir", "/"));
        }
    }
    Ok(())
}

/// Calls mount(2). `flags` is a bit set of `MS_*` constants; `fstype` and `data` may be empty.
#[napi]
pub fn mount(source: String, target: String, fstype: String, flags: u32, data: String) -> Result<()> {
    let c_source = cstring("mount source", &source)?;
    let c_target = cstring("mount target", &target)?;
    let c_fstype = cstring("mount fstype", &fstype)?;
    let c_data = cstring("mount data", &data)?;
    // SAFETY: all pointers are valid NUL-terminated strings or null for the optional arguments.
    let rc = unsafe {
        libc::mount(
            if source.is_empty() { std::ptr::null() } else { c_source.as_ptr() },
            c_target.as_ptr(),
            if fstype.is_empty() { std::ptr::null() } else { c_fstype.as_ptr() },
            libc::c_ulong::from(flags),
            if data.is_empty() { std::ptr::null() } else { c_data.as_ptr().cast() },
        )
    };
    if rc != 0 {
        return Err(os_error("mount", &target));
    }
    Ok(())
}

/// Calls umount2(2) with `MNT_*`/`UMOUNT_*` flags.
#[napi]
pub fn umount(target: String, flags: i32) -> Result<()> {
    let c_target = cstring("umount", &target)?;
    // SAFETY: c_target is a valid NUL-terminated string.
    if unsafe { libc::umount2(c_target.as_ptr(), flags) } != 0 {
        return Err(os_error("umount", &target));
    }
    Ok(())
}

/// Joins the namespace behind `path` (e.g. `/proc/123/ns/net`); `nstype` is a `CLONE_NEW*` constant or 0.
///
/// Mount and user namespaces cannot be joined by a multi-threaded process such as Node.
#[napi]
pub fn setns(path: String, nstype: i32) -> Result<()> {
    let c_path = cstring("setns", &path)?;
    // SAFETY: plain syscalls on a descriptor we own and close.
    unsafe {
        let fd = libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(os_error("open", &path));
        }
        let rc = libc::setns(fd, nstype);
        let err = if rc != 0 { Some(os_error("setns", &path)) } else { None };
        libc::close(fd);
        if let Some(err) = err {
            return Err(err);
        }
    }
    Ok(())
}

/// Marks this process a child subreaper, so orphaned descendants are reparented to it.
#[napi]
pub fn set_child_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(os_error("prctl", "PR_SET_CHILD_SUBREAPER"));
    }
    Ok(())
}

/// Asks the kernel to send `signal` to this process when its parent dies.
#[napi]
pub fn set_parent_death_signal(signal: i32) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) } != 0 {
        return Err(os_error("prctl", "PR_SET_PDEATHSIG"));
    }
    Ok(())
}

/// Ends the process at once with `code`, without running exit handlers or joining threads.
///
/// `process.exit` waits for worker threads, and a worker blocked in a system call (a guest
/// sleeping in `poll_oneoff`) never gets there; a container told to stop must stop.
#[napi]
pub fn exit_now(code: i32) {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}
