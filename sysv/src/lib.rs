//! System V IPC support: keys, permissions, owner checks, errors, /proc/sysvipc listing (work in progress).
