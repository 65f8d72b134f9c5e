// The sandbox's memory figures, in MiB: each isolate's limit, and the default for all the isolates
// that run hooks together (HOOK_MEMORY_BUDGET_MB), which bounds how many live at once.
export const MEMORY_LIMIT_MB = 32;
export const MEMORY_BUDGET_MB = 512;
