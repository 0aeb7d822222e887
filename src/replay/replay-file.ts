import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/**
 * Replay files: one JSON object per line, optionally gzipped (recognised by its magic bytes, not
 * its name). `{"id", "prompt", "tags"?: [...], "outcomes": {"<model>": {"quality": 0..1,
 * "costUsd"?: number, "latencyMs"?: number}}}`. Unknown fields are ignored; a missing cost or
 * latency counts as 0 (RouteLLM files carry no cost).
 */

export interface ReplayOutcome {
  readonly quality: number;
  readonly costUsd: number;
  readonly latencyMs: number;
}

export interface ReplayRow {
  readonly id: string;
  readonly prompt: string;
  readonly tags: readonly string[];
  readonly outcomes: ReadonlyMap<string, ReplayOutcome>;
}

export class ReplayFormatError extends Error {
  override readonly name = 'ReplayFormatError';
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const optionalNumber = (value: unknown, what: string): number => {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${what} must be a non-negative number`);
  }
  return value;
};

export function parseReplayRow(line: string, lineNumber: number): ReplayRow {
  try {
    const raw: unknown = JSON.parse(line);
    if (!isRecord(raw)) throw new Error('a line must hold a JSON object');
    if (!isRecord(raw.outcomes)) throw new Error('"outcomes" must be an object');
    const outcomes = new Map<string, ReplayOutcome>();
    for (const [model, value] of Object.entries(raw.outcomes)) {
      if (!isRecord(value)) throw new Error(`outcome of "${model}" must be an object`);
      const quality = value.quality;
      if (typeof quality !== 'number' || !(quality >= 0 && quality <= 1)) {
        throw new Error(`quality of "${model}" must be a number in [0, 1]`);
      }
      outcomes.set(model, {
        quality,
        costUsd: optionalNumber(value.costUsd, `costUsd of "${model}"`),
        latencyMs: optionalNumber(value.latencyMs, `latencyMs of "${model}"`),
      });
    }
    if (outcomes.size === 0) throw new Error('"outcomes" must name at least one model');
    const tags = Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === 'string') : [];
    return {
      id: typeof raw.id === 'string' || typeof raw.id === 'number' ? String(raw.id) : `line-${lineNumber}`,
      prompt: typeof raw.prompt === 'string' ? raw.prompt : '',
      tags,
      outcomes,
    };
  } catch (error) {
    throw new ReplayFormatError(`line ${lineNumber}: ${(error as Error).message}`);
  }
}

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Rows in file order; blank lines are skipped. */
export async function* readReplayFile(path: string): AsyncGenerator<ReplayRow> {
  // Opened after the gzip check: a stream opened first would emit its own ENOENT with no listener
  // yet, which crashes the process instead of rejecting here.
  const gzip = await isGzip(path);
  const file = createReadStream(path);
  const input = gzip ? file.pipe(createGunzip()) : file;
  // pipe() does not forward a read error; without this one it would be unhandled.
  if (gzip) file.once('error', (error) => input.destroy(error));
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      yield parseReplayRow(line, lineNumber);
    }
  } finally {
    lines.close();
    file.destroy();
  }
}
