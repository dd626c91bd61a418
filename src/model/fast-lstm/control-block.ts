/** Layout of the control block the kernel runtime shares with each helper thread (Int32 words). */
export const CTRL_WORDS = 64;
/** Where a call's arguments start (Uint32 words). */
export const ARGS_AT = 8;
/** Bumped by the caller for each request. */
export const REQ = 0;
/** Set by the helper to the request it finished. */
export const DONE = 1;
/** Kernel index to run; negative ends the helper. Its argument count is at FN + 2. */
export const FN = 2;
/** 1 when the helper's last call threw. */
export const FAILED = 3;
