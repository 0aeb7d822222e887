import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { clock } from './format.js';

/** A time-series line chart (uPlot): one line per series, gaps where a value is null. */

export interface ChartSeries {
  readonly label: string;
  readonly colour: string;
  readonly values: ReadonlyArray<number | null>;
}

export interface TimeChartProps {
  readonly title: string;
  /** Seconds since the epoch. */
  readonly times: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly formatValue: (value: number) => string;
  /** A fixed y range, e.g. [0, 1] for shares. */
  readonly range?: readonly [number, number];
  readonly height?: number;
  readonly testId?: string;
}

export function TimeChart(props: TimeChartProps) {
  const { title, times, series, formatValue, range, height = 200, testId } = props;
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}:${s.colour}`).join('|');

  useEffect(() => {
    const element = container.current!;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { points: { size: 6 } },
      scales: {
        x: { time: true, range: (_u, min, max) => timeRange(min, max) },
        y: range ? { range: [range[0], range[1]] } : { range: (_u, min, max) => paddedRange(min, max) },
      },
      axes: [
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f7' },
          ticks: { stroke: '#e2e8f0' },
          space: 70,
          values: (_u, ticks) => ticks.map((tick) => clock(tick * 1000)),
        },
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f7' },
          ticks: { stroke: '#e2e8f0' },
          size: 64,
          values: (_u, ticks) => ticks.map((tick) => formatValue(tick)),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.colour,
          width: 2,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : formatValue(v)),
        })),
      ],
    };
    const created = new uPlot(options, toData(times, series), element);
    plot.current = created;
    const resize = new ResizeObserver(() => {
      if (element.clientWidth > 0) created.setSize({ width: element.clientWidth, height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      created.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; new data goes through setData below.
  }, [shape, height, range?.[0], range?.[1]]);

  useEffect(() => {
    plot.current?.setData(toData(times, series));
  }, [times, series]);

  return (
    <figure class="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={container} class="chart-canvas" />
      {times.length < 2 && <p class="chart-empty">Waiting for figures…</p>}
    </figure>
  );
}

function toData(allTimes: readonly number[], allSeries: readonly ChartSeries[]): uPlot.AlignedData {
  // From the first point that has a value: a context's chart starts with its first figures.
  const first = Math.min(...allSeries.map((s) => s.values.findIndex((v) => v !== null)).filter((i) => i >= 0), allTimes.length);
  const from = first === allTimes.length ? Math.max(0, allTimes.length - 1) : first;
  const times = allTimes.slice(from);
  const series = allSeries.map((s) => ({ ...s, values: s.values.slice(from) }));
  if (times.length >= 2) return [times as number[], ...series.map((s) => s.values as Array<number | null>)];
  // Too few points for uPlot to find a time axis: show the last half minute, empty but for them.
  const end = times[0] ?? Date.now() / 1000;
  return [[end - 30, end], ...series.map((s) => [null, s.values[0] ?? null])];
}

/** At least ten seconds wide, so that two points do not stretch over the whole axis. */
function timeRange(min: number | null, max: number | null): uPlot.Range.MinMax {
  const end = max ?? Date.now() / 1000;
  const start = min === null || end - min < 10 ? end - 10 : min;
  return [start, end];
}

function paddedRange(min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null) return [0, 1];
  if (min === max) return [Math.max(0, min - 1), max + 1];
  const pad = (max - min) * 0.1;
  return [Math.max(0, min - pad), max + pad];
}
