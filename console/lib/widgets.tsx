import type { ComponentChildren } from 'preact';
import { percent, share } from './format.js';

/** Small pieces shared by the panels. */

/** A posterior on [0, 1]: its 95% interval as a band, its mean as a tick. */
export function IntervalBar(props: { mean: number; lower: number; upper: number; colour: string; label: string }) {
  const { mean, lower, upper, colour, label } = props;
  return (
    <svg class="interval" viewBox="0 0 100 14" preserveAspectRatio="none" role="img" aria-label={label}>
      <rect x="0" y="6" width="100" height="2" rx="1" class="interval-track" />
      <rect x={lower * 100} y="2" width={Math.max(0.8, (upper - lower) * 100)} height="10" rx="2" fill={colour} fill-opacity="0.28" />
      <rect x={mean * 100 - 0.6} y="0" width="1.2" height="14" fill={colour} />
    </svg>
  );
}

export function ShareBar(props: { value: number | null; colour: string; label: string; testId?: string }) {
  const { value, colour, label, testId } = props;
  return (
    <div class="share-bar" aria-label={label} data-testid={testId}>
      <div class="share-bar-track">
        <div class="share-bar-fill" style={{ width: `${Math.max(0, Math.min(1, value ?? 0)) * 100}%`, background: colour }} />
      </div>
      <span class="share-bar-value">{percent(value, 0)}</span>
    </div>
  );
}

export function Stat(props: { label: string; value: ComponentChildren; hint?: string; testId?: string; tone?: 'good' | 'warn' | 'bad' }) {
  return (
    <div class={`stat${props.tone ? ` stat-${props.tone}` : ''}`} data-testid={props.testId}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.hint && <div class="stat-hint">{props.hint}</div>}
    </div>
  );
}

export function Card(props: { title: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; label?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} aria-label={props.label}>
      <header class="card-header">
        <h2>{props.title}</h2>
        {props.actions && <div class="card-actions">{props.actions}</div>}
      </header>
      <div class="card-body">{props.children}</div>
    </section>
  );
}

export function Swatch(props: { colour: string }) {
  return <span class="swatch" style={{ background: props.colour }} aria-hidden="true" />;
}

/** The outcome of an action: what it did, or why it was refused. */
export interface Notice {
  readonly tone: 'ok' | 'error';
  readonly text: string;
}

export function NoticeLine(props: { notice: Notice | null; testId: string }) {
  if (!props.notice) return null;
  return (
    <p class={`notice notice-${props.notice.tone}`} role={props.notice.tone === 'error' ? 'alert' : 'status'} data-testid={props.testId}>
      {props.notice.text}
    </p>
  );
}

export const posteriorText = (mean: number, lower: number, upper: number) =>
  `${share(mean)} (95%: ${share(lower, 2)}–${share(upper, 2)})`;
