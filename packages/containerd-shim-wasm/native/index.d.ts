/** Changes the process root to `path` and its working directory to the new `/`. */
export declare function chroot(path: string): void;
/** mount(2); empty strings stand for NULL source, fstype and data. */
export declare function mount(source: string, target: string, fstype: string, flags: number, data: string): void;
/** umount2(2). */
export declare function umount(target: string, flags: number): void;
/** setns(2) on the namespace file at `path`. */
export declare function setns(path: string, nstype: number): void;
/** prctl(PR_SET_CHILD_SUBREAPER, 1). */
export declare function setChildSubreaper(): void;
/** prctl(PR_SET_PDEATHSIG, signal). */
export declare function setParentDeathSignal(signal: number): void;
/** _exit(2): ends the process now, without exit handlers or joining threads. */
export declare function exitNow(code: number): never;
