/** A strict Prometheus text exposition format parser for tests (shared by analyzer and gateway tests). */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4): every line must be a
 * HELP, a TYPE or a sample of the family declared just before it; label values use only the
 * \\, \" and \n escapes; values are Go floats (including NaN and +/-Inf); histograms carry
 * cumulative buckets ending in le="+Inf" that equals _count.
 */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  let current: ParsedFamily | null = null;
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      let family = families.get(name);
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      } else if (current !== family) throw new Error(`family ${name} split, ${where}`);
      current = family;
      if (kind === 'HELP') family.help = rest;
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type, ${where}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        family.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!match) throw new Error(`bad sample, ${where}`);
    const [, name, , labelText, valueText] = match as unknown as [string, string, string, string | undefined, string];
    if (!current) throw new Error(`sample before any TYPE, ${where}`);
    const suffixes = current.type === 'histogram' ? ['_bucket', '_sum', '_count'] : current.type === 'summary' ? ['', '_sum', '_count'] : [''];
    if (!suffixes.some((s) => name === current!.name + s)) throw new Error(`sample of another family, ${where}`);
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== '') {
      const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let offset = 0;
      while (offset < labelText.length) {
        labelPattern.lastIndex = offset;
        const label = labelPattern.exec(labelText);
        if (!label) throw new Error(`bad labels, ${where}`);
        const [, labelName, raw] = label as unknown as [string, string, string];
        if (!LABEL_NAME.test(labelName) || labelName in labels) throw new Error(`bad label name, ${where}`);
        labels[labelName] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        offset = labelPattern.lastIndex;
      }
    }
    const value =
      valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText === 'NaN' ? NaN : Number(valueText);
    if (!/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(valueText)) throw new Error(`bad value, ${where}`);
    current.samples.push({ name, labels, value });
  }
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    const series = new Map<string, ParsedSample[]>();
    for (const s of family.samples.filter((x) => x.name.endsWith('_bucket'))) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`bucket without le in ${family.name}`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      const last = buckets.at(-1)!;
      if (last.labels.le !== '+Inf') throw new Error(`${family.name}${key} lacks le="+Inf"`);
      buckets.reduce((previous, b) => {
        if (b.value < previous) throw new Error(`${family.name}${key} buckets not cumulative`);
        return b.value;
      }, 0);
      const count = family.samples.find(
        (s) => s.name === `${family.name}_count` && JSON.stringify(s.labels) === key,
      );
      if (count?.value !== last.value) throw new Error(`${family.name}${key} +Inf bucket differs from _count`);
    }
  }
  return families;
}
