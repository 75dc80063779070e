//! Named pipes: mkfifo writer and reader, clean Ctrl-C, two-FIFO chat (work in progress).
