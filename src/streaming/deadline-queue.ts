import { systemStreamTimers, type StreamTimers } from './stream-timers.js';

/**
 * Deadlines of many streams on one Node timer: a min-heap of entries by time, the timer armed for
 * the earliest. A stream waiting for its first token holds a slot in the heap (an index, a pointer
 * and a double) instead of a Node Timeout of its own (~120 B each, memory per waiting
 * subscription), and a deadline that moves or is cancelled costs a heap operation, not a
 * clearTimeout and a setTimeout.
 *
 * The timer is re-armed lazily: only when the earliest deadline moves earlier than the time it is
 * armed for. A cancelled earliest deadline leaves the timer to fire early and re-arm for the next;
 * the last one cancelled clears it, so an idle queue holds nothing. When the timer fires, every
 * entry due by the time it was armed for (or by the clock, if later) is told, earliest first.
 */

/** What a queue holds: an object that keeps its own slot, told when its time came. */
export interface QueuedDeadline {
  /** The entry's index in its queue; -1 while not queued. Set to -1 at construction, then only the queue writes it. */
  deadlineSlot: number;
  onDeadline(): void;
}

export interface DeadlineQueue {
  /** Queues `entry` for `at` (a `timers.now()` time), or moves it there if it is queued. */
  schedule(entry: QueuedDeadline, at: number): void;
  /** When `entry` is due; Infinity when it is not queued. */
  scheduledAt(entry: QueuedDeadline): number;
  cancel(entry: QueuedDeadline): void;
  /** Entries queued. */
  readonly size: number;
}

export interface DeadlineQueueOptions {
  readonly timers?: StreamTimers;
  /** Whether the queue's timer keeps the process alive (a model's own wait does; a deadline on it need not). Default true. */
  readonly ref?: boolean;
}

/** Told and not yet called back in the current firing (cancelling it then skips its call). */
const FIRING = -2;

export function createDeadlineQueue(options: DeadlineQueueOptions = {}): DeadlineQueue {
  return new HeapDeadlineQueue(options.timers ?? systemStreamTimers, options.ref ?? true);
}

class HeapDeadlineQueue implements DeadlineQueue {
  private readonly entries: QueuedDeadline[] = [];
  /** `times[i]` is when `entries[i]` is due (a packed array of doubles: no heap number per entry). */
  private readonly times: number[] = [];
  private readonly due: QueuedDeadline[] = [];
  private timer: unknown = null;
  private timerAt = Infinity;

  constructor(
    private readonly timers: StreamTimers,
    private readonly ref: boolean,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  schedule(entry: QueuedDeadline, at: number): void {
    let slot = entry.deadlineSlot;
    if (slot < 0) {
      slot = this.entries.length;
      this.entries.push(entry);
      this.times.push(at);
      entry.deadlineSlot = slot;
      this.up(slot);
    } else {
      const before = this.times[slot]!;
      this.times[slot] = at;
      if (at < before) this.up(slot);
      else this.down(slot);
    }
    this.arm();
  }

  scheduledAt(entry: QueuedDeadline): number {
    const slot = entry.deadlineSlot;
    return slot < 0 ? Infinity : this.times[slot]!;
  }

  cancel(entry: QueuedDeadline): void {
    const slot = entry.deadlineSlot;
    if (slot === FIRING) entry.deadlineSlot = -1;
    if (slot < 0) return;
    this.removeAt(slot);
    if (this.entries.length === 0 && this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
    }
  }

  private readonly fire = (): void => {
    const firedFor = this.timerAt;
    this.timer = null;
    this.timerAt = Infinity;
    const dueBy = Math.max(firedFor, this.timers.now());
    const { due, entries, times } = this;
    // Taken out first, so that an entry rescheduled by its own callback waits for the next firing.
    while (entries.length > 0 && times[0]! <= dueBy) {
      const entry = entries[0]!;
      this.removeAt(0);
      entry.deadlineSlot = FIRING;
      due.push(entry);
    }
    for (let i = 0; i < due.length; i++) {
      const entry = due[i]!;
      if (entry.deadlineSlot !== FIRING) continue;
      entry.deadlineSlot = -1;
      try {
        entry.onDeadline();
      } catch (error) {
        // As a timer's callback would: reported, and the other entries are still told.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    due.length = 0;
    this.arm();
  };

  private arm(): void {
    if (this.entries.length === 0) return;
    const at = this.times[0]!;
    // An earlier timer re-arms itself when it fires; only a later one must be replaced.
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timerAt = at;
    // Whole milliseconds, rounded up: a timer never fires before the time it is armed for.
    this.timer = this.timers.setTimeout(this.fire, Math.max(0, Math.ceil(at - this.timers.now())));
    if (!this.ref) (this.timer as { unref?: () => void }).unref?.();
  }

  private removeAt(slot: number): void {
    const { entries, times } = this;
    entries[slot]!.deadlineSlot = -1;
    const last = entries.length - 1;
    if (slot !== last) {
      const moved = entries[last]!;
      entries[slot] = moved;
      times[slot] = times[last]!;
      moved.deadlineSlot = slot;
    }
    entries.pop();
    times.pop();
    if (slot < entries.length) {
      this.up(slot);
      this.down(entries[slot]!.deadlineSlot);
    }
  }

  private up(slot: number): void {
    const { times } = this;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (times[parent]! <= times[slot]!) return;
      this.swap(slot, parent);
      slot = parent;
    }
  }

  private down(slot: number): void {
    const { times } = this;
    const n = times.length;
    for (;;) {
      const left = 2 * slot + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && times[right]! < times[left]! ? right : left;
      if (times[slot]! <= times[child]!) return;
      this.swap(slot, child);
      slot = child;
    }
  }

  private swap(a: number, b: number): void {
    const { entries, times } = this;
    const entry = entries[a]!;
    const time = times[a]!;
    entries[a] = entries[b]!;
    times[a] = times[b]!;
    entries[b] = entry;
    times[b] = time;
    entries[a]!.deadlineSlot = a;
    entry.deadlineSlot = b;
  }
}
