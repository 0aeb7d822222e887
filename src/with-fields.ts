/**
 * `{ ...base, ...extra }`: a copy of `base` with the fields of `extra` added (or replacing its
 * own), built so that every copy made at one place shares one hidden class.
 *
 * Why not the literal `{ ...base, a, b }`: once V8 (Node 20) optimises such code, every object a
 * literal that starts with a spread and then adds fields makes gets a hidden class (map and
 * descriptor array) of its own — ~350 bytes more per object, a new map to build per call, and a
 * megamorphic access wherever those objects are read. `Object.assign` onto a fresh literal, and
 * literals whose added fields only replace fields of the spread, do not. Use this on per-request
 * paths; elsewhere the literal reads better.
 */
export function withFields<T extends object, U extends object>(base: T, extra: U): Omit<T, keyof U> & U {
  return Object.assign({}, base, extra);
}
