/** Answers `{ profile: 'start' }` and `{ profile: 'stop' }` from the parent (see child-profiler.mjs). */
export function answerProfileRequests(): void;
