//! The process's network sockets, reached by descriptor number: libgit2 opens them and
//! offers no option or handle for them, so what tag-bump needs of them is done from here.
//!
//! * [`no_delay`] turns Nagle's algorithm off, as curl (and so `git`) does for every
//!   connection. libgit2 writes an HTTP request's headers and its body in two writes; with
//!   Nagle on, the body waits until the server acknowledges the headers, and a server
//!   delays that acknowledgement (40ms on Linux) while it waits for the body: every POST
//!   of a fetch or push paid that wait.
//! * [`shut_down_all`] shuts every socket down, so that a libgit2 read blocked on a remote
//!   past a bound returns.
//!
//! Only sockets are touched: a descriptor that is not one is skipped.

use rustix::fs::FileType;
use std::os::fd::BorrowedFd;

/// Turn Nagle's algorithm off on every TCP socket of the process. Called as each
/// connection is made (before its first request); a socket that is not TCP refuses the
/// option and is left as it is.
pub fn no_delay() {
    each_socket(|fd| {
        let _ = rustix::net::sockopt::set_tcp_nodelay(fd, true);
    });
}

/// Shut down every network socket of the process (not stdin, stdout or stderr).
pub fn shut_down_all() {
    each_socket(|fd| {
        let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Both);
    });
}

/// Call `f` with every open socket descriptor above stderr: the ones `/proc/self/fd`
/// lists, or, without `/proc`, every number up to the descriptor limit.
fn each_socket(mut f: impl FnMut(BorrowedFd<'_>)) {
    let listed: Option<Vec<i32>> = std::fs::read_dir("/proc/self/fd").ok().map(|d| {
        d.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect()
    });
    let numbers = listed.unwrap_or_else(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(4096)
            .min(65536) as i32;
        (3..limit).collect()
    });
    for raw in numbers.into_iter().filter(|n| *n > 2) {
        if let Some(fd) = socket(raw) {
            f(fd);
        }
    }
}

/// The descriptor `raw`, when it is an open socket.
#[allow(unsafe_code)] // a descriptor borrowed by number; see SAFETY
fn socket(raw: i32) -> Option<BorrowedFd<'static>> {
    // SAFETY: the descriptor is only inspected, given socket options or shut down, never
    // closed or kept past the call that found it; a number that is not open (or was closed
    // since it was listed) fails fstat with EBADF.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    let st = rustix::fs::fstat(fd).ok()?;
    (FileType::from_raw_mode(st.st_mode) == FileType::Socket).then_some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_tcp_socket_loses_nagle_and_other_descriptors_are_left() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (served, _) = listener.accept().unwrap();
        assert!(!client.nodelay().unwrap());
        let (unix, _) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        no_delay();
        assert!(client.nodelay().unwrap());
        assert!(served.nodelay().unwrap());
        assert!(socket(unix.as_raw_fd()).is_some(), "a socket");
        assert!(socket(file.as_raw_fd()).is_none(), "a file");
        assert!(socket(i32::MAX).is_none(), "not open");
    }
}
