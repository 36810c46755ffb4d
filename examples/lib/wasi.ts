// The host functions of the sandbox's WASI subset (wasi_snapshot_preview1) that the examples use.
// Pointers and sizes are 32-bit offsets into the module's own memory; every function but
// proc_exit returns a WASI errno, 0 meaning success. Nothing else is imported: no clock, no
// random, no files, so the same inputs give the same output on every node.

@external("wasi_snapshot_preview1", "fd_read")
export declare function fd_read(fd: u32, iovs: usize, iovsLen: usize, nread: usize): u32;

@external("wasi_snapshot_preview1", "fd_write")
export declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, nwritten: usize): u32;

@external("wasi_snapshot_preview1", "args_sizes_get")
export declare function args_sizes_get(argc: usize, argvBufSize: usize): u32;

@external("wasi_snapshot_preview1", "args_get")
export declare function args_get(argv: usize, argvBuf: usize): u32;

@external("wasi_snapshot_preview1", "proc_exit")
export declare function proc_exit(code: u32): void;
