//! System V message queues: typed messages, ftok keys, routing between processes by type (work in progress).
