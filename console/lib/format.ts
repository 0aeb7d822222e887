/** How the console writes numbers: few digits, units always shown, "–" for what is not known. */

export const DASH = '–';

export function percent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return DASH;
  return `${(value * 100).toFixed(digits)}%`;
}

export function milliseconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  if (value === 0) return '0 ms';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1_000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  if (value === 0) return '$0';
  if (Math.abs(value) >= 1) return `$${value.toFixed(2)}`;
  // Per-request costs are fractions of a cent: three significant digits say enough.
  return `$${Number(value.toPrecision(3)).toString()}`;
}

/** A figure in [0, 1] such as a posterior mean. */
export function share(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined) return DASH;
  return value.toFixed(digits);
}

export function count(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  return value.toLocaleString('en-US');
}

/** "1 miss", "2 misses". */
export function plural(n: number, one: string, many: string): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  return value >= 120 ? `${(value / 60).toFixed(1)} min` : `${value.toFixed(value >= 10 ? 0 : 1)} s`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  if (value >= 1 << 20) return `${(value / (1 << 20)).toFixed(1)} MiB`;
  if (value >= 1 << 10) return `${(value / (1 << 10)).toFixed(1)} KiB`;
  return `${value} B`;
}

export function clock(time: number | string): string {
  return new Date(time).toLocaleTimeString('en-GB', { hour12: false });
}

/** The context names people read: the global one is "all requests". */
export function contextName(context: string): string {
  return context === '*' ? 'all requests' : context;
}

const ARM_COLOURS = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#db2777', '#ca8a04', '#475569'];

/** One colour per arm, the same on every panel: by the arm's place in the configuration. */
export function armColour(armIds: readonly string[], armId: string): string {
  const index = armIds.indexOf(armId);
  return ARM_COLOURS[(index < 0 ? armIds.length : index) % ARM_COLOURS.length]!;
}
