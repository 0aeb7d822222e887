import { useMemo, useState } from 'preact/hooks';
import { ConsoleInvalidateCacheDocument, ConsoleSetShadowRateDocument } from '../generated/graphql.js';
import type { AppState } from '../lib/app-state.js';
import { TimeChart, type ChartSeries } from '../lib/chart.js';
import type { Overview, Snapshot } from '../lib/feed.js';
import { armColour, bytes, contextName, count, DASH, milliseconds, percent, plural, seconds, share, usd } from '../lib/format.js';
import { useStore } from '../lib/store.js';
import { Card, NoticeLine, Stat, Swatch, type Notice } from '../lib/widgets.js';

/** How the gateway runs: latency, errors, spend, cache, shadow traffic and the analyzer's advice. */

type WindowName = 'lastMinute' | 'lastHour' | 'sinceStart';
type ArmReport = Snapshot['arms'][number];
type WindowFigures = ArmReport['windows']['lastMinute'];

const WINDOWS: ReadonlyArray<{ id: WindowName; label: string }> = [
  { id: 'lastMinute', label: 'last minute' },
  { id: 'lastHour', label: 'last hour' },
  { id: 'sinceStart', label: 'since start' },
];

function totals(arms: readonly ArmReport[], window: WindowName) {
  const figures = arms.map((a) => a.windows[window]);
  const requests = figures.reduce((sum, w) => sum + w.requests, 0);
  const errors = figures.reduce((sum, w) => sum + w.errors, 0);
  // As the analyzer's errorRate: refusals are not the models failing.
  const judged = requests - figures.reduce((sum, w) => sum + w.refused, 0);
  return { requests, errors, errorRate: judged > 0 ? errors / judged : null, spendUsd: figures.reduce((sum, w) => sum + w.spendUsd, 0) };
}

export function OperationsPanel(props: { app: AppState }) {
  const { app } = props;
  const feed = useStore(app.feed.state);
  const overview = useStore(app.feed.overview);
  const [window, setWindow] = useState<WindowName>('lastMinute');
  const armIds = app.armIds();
  const latest = feed.latest;
  const arms = latest ? [...latest.arms].sort((a, b) => armIds.indexOf(a.arm) - armIds.indexOf(b.arm)) : [];
  const minute = totals(arms, 'lastMinute');
  const sinceStart = totals(arms, 'sinceStart');

  const times = useMemo(() => feed.history.map((s) => s.t), [feed.history]);
  const seriesOf = (pick: (w: ArmReport) => number | null | undefined): ChartSeries[] =>
    armIds.map((arm) => ({
      label: arm,
      colour: armColour(armIds, arm),
      values: feed.history.map((s) => pick(s.snapshot.arms.find((a) => a.arm === arm)!) ?? null),
    }));
  const latencySeries = useMemo(() => seriesOf((a) => a?.windows.lastMinute.latencyMs?.p95), [feed.history, armIds.join()]);
  const ttftSeries = useMemo(() => seriesOf((a) => a?.windows.lastMinute.ttftMs?.p95), [feed.history, armIds.join()]);
  const spendSeries = useMemo(() => seriesOf((a) => a?.windows.sinceStart.spendUsd), [feed.history, armIds.join()]);

  const cache = overview?.cache;
  const shadow = overview?.shadow;
  return (
    <div class="panel-grid">
      <div class="stats-row span-3">
        <Stat label="Requests / min" value={count(minute.requests)} hint={`${count(sinceStart.requests)} since start`} testId="kpi-requests" />
        <Stat
          label="Error rate"
          value={percent(minute.errorRate)}
          hint={`last minute · ${plural(minute.errors, 'error', 'errors')}`}
          tone={minute.errorRate !== null && minute.errorRate > 0.05 ? 'bad' : undefined}
        />
        <Stat label="Spend since start" value={usd(sinceStart.spendUsd)} hint={`${usd(minute.spendUsd)} in the last minute`} />
        <Stat label="Cache hit rate" value={percent(cache?.hitRate)} hint={cache ? `${plural(cache.hits, 'hit', 'hits')}, ${plural(cache.misses, 'miss', 'misses')}` : undefined} testId="kpi-cache" />
        <Stat label="Cache TTL" value={seconds(cache?.ttl.baseSeconds)} hint={cache ? `${seconds(cache.ttl.minSeconds)}–${seconds(cache.ttl.maxSeconds)}` : undefined} />
        <Stat label="Shadow spend" value={usd(shadow?.spendUsd)} hint={shadow ? `${usd(shadow.spendLastMinuteUsd)} of ${usd(shadow.budgetUsdPerMinute)}/min` : undefined} />
      </div>

      <Card title="Latency p95 (last minute)" label="Latency chart">
        <TimeChart title="" times={times} series={latencySeries} formatValue={milliseconds} testId="chart-latency" height={170} />
      </Card>
      <Card title="Time to first token p95 (last minute)" label="TTFT chart">
        <TimeChart title="" times={times} series={ttftSeries} formatValue={milliseconds} testId="chart-ttft" height={170} />
      </Card>
      <Card title="Spend per arm (since start)" label="Spend chart">
        <TimeChart title="" times={times} series={spendSeries} formatValue={usd} testId="chart-spend" height={170} />
      </Card>

      <Card
        title="Per arm"
        label="Per arm"
        class="span-3"
        actions={
          <div class="segmented" role="group" aria-label="Window">
            {WINDOWS.map((w) => (
              <button key={w.id} type="button" class={window === w.id ? 'active' : ''} aria-pressed={window === w.id} onClick={() => setWindow(w.id)}>
                {w.label}
              </button>
            ))}
          </div>
        }
      >
        <ArmTable arms={arms} armIds={armIds} window={window} />
      </Card>

      <CacheCard app={app} cache={cache} />
      <ShadowCard app={app} shadow={shadow} armIds={armIds} />
      <RecommendationsCard recommendations={latest?.recommendations ?? []} models={overview?.models ?? []} />
    </div>
  );
}

function ArmTable(props: { arms: readonly ArmReport[]; armIds: readonly string[]; window: WindowName }) {
  const percentiles = (p: WindowFigures['latencyMs']) => (p ? `${milliseconds(p.p50)} / ${milliseconds(p.p95)} / ${milliseconds(p.p99)}` : DASH);
  return (
    <table class="table" data-testid="ops-arms-table">
      <thead>
        <tr>
          <th>arm</th>
          <th class="num">requests</th>
          <th class="num">cached</th>
          <th class="num">shadow</th>
          <th class="num">error rate</th>
          <th class="num">latency p50 / p95 / p99</th>
          <th class="num">TTFT p50 / p95 / p99</th>
          <th class="num">tokens/s</th>
          <th class="num">spend</th>
          <th class="num">mean reward</th>
        </tr>
      </thead>
      <tbody>
        {props.arms.map((arm) => {
          const w = arm.windows[props.window];
          return (
            <tr key={arm.arm} data-testid={`ops-row-${arm.arm}`}>
              <td>
                <Swatch colour={armColour(props.armIds, arm.arm)} />
                <strong>{arm.arm}</strong> <span class="muted">{arm.model}</span>
              </td>
              <td class="num">{count(w.requests)}</td>
              <td class="num">{count(w.cachedRequests)}</td>
              <td class="num">{count(w.shadowRequests)}</td>
              <td class={`num${w.errorRate > 0.05 ? ' text-bad' : ''}`}>{percent(w.errorRate)}</td>
              <td class="num">{percentiles(w.latencyMs)}</td>
              <td class="num">{percentiles(w.ttftMs)}</td>
              <td class="num">{w.tokensPerSecond === null ? DASH : w.tokensPerSecond.toFixed(0)}</td>
              <td class="num">{usd(w.spendUsd)}</td>
              <td class="num">{share(w.meanReward)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function CacheCard(props: { app: AppState; cache: Overview['cache'] | undefined }) {
  const { app, cache } = props;
  const [prefix, setPrefix] = useState('');
  const [notice, setNotice] = useState<Notice | null>(null);
  const invalidate = async () =>
    setNotice(
      await app.admin(
        () => app.connection.request(ConsoleInvalidateCacheDocument, { prefix: prefix.trim() || null }),
        (result) => `Removed ${count(result.invalidateCache)} cached cop${result.invalidateCache === 1 ? 'y' : 'ies'}${prefix.trim() ? ` under “${prefix.trim()}”` : ''}.`,
      ),
    );
  return (
    <Card title="Cache" label="Cache" actions={cache && <span class={`badge badge-${cache.status.toLowerCase()}`}>{cache.status.toLowerCase()}</span>}>
      {cache ? (
        <dl class="facts facts-2">
          <dt>Hit rate</dt>
          <dd>
            {percent(cache.hitRate)} <span class="muted">({count(cache.hits)} / {count(cache.hits + cache.misses)})</span>
          </dd>
          <dt>L1 (in process)</dt>
          <dd>
            {count(cache.l1.entries)} entries, {bytes(cache.l1.bytes)}
          </dd>
          <dt>L2 (Redis)</dt>
          <dd>{cache.l2.status === 'OK' ? `${count(cache.l2.entries)} entries, hit rate ${percent(cache.l2.hitRate)}` : cache.l2.status.toLowerCase()}</dd>
          <dt>TTL of a new entry</dt>
          <dd data-testid="cache-ttl">
            {seconds(cache.ttl.baseSeconds)} <span class="muted">(range {seconds(cache.ttl.minSeconds)}–{seconds(cache.ttl.maxSeconds)})</span>
          </dd>
          <dt>Hit rate steering it</dt>
          <dd>
            {percent(cache.ttl.windowHitRate)} <span class="muted">over {count(cache.ttl.windowLookups)} lookups, {seconds(cache.ttl.windowSeconds)}</span>
          </dd>
        </dl>
      ) : (
        <p class="muted">Loading…</p>
      )}
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void invalidate();
        }}
      >
        <input type="text" placeholder="prefix (empty: all)" aria-label="Cache prefix" value={prefix} onInput={(event) => setPrefix(event.currentTarget.value)} />
        <button type="submit" class="button button-small button-danger">
          Invalidate cache
        </button>
      </form>
      <NoticeLine notice={notice} testId="cache-admin-notice" />
    </Card>
  );
}

function ShadowCard(props: { app: AppState; shadow: Overview['shadow'] | undefined; armIds: readonly string[] }) {
  const { app, shadow } = props;
  const [rate, setRate] = useState('');
  const [notice, setNotice] = useState<Notice | null>(null);
  const submit = async () => {
    const value = Number(rate);
    if (rate.trim() === '' || !Number.isFinite(value)) {
      setNotice({ tone: 'error', text: 'Give a rate between 0 and 1, e.g. 0.2.' });
      return;
    }
    setNotice(
      await app.admin(
        () => app.connection.request(ConsoleSetShadowRateDocument, { rate: value }),
        (result) => `Shadow rate set to ${percent(result.setShadowRate.rate, 0)} of eligible requests.`,
      ),
    );
  };
  return (
    <Card title="Shadow traffic" label="Shadow" actions={shadow && <span class="badge">{shadow.paused ? `paused: ${shadow.paused.toLowerCase()}` : 'running'}</span>}>
      {shadow ? (
        <>
          <dl class="facts facts-2">
            <dt>Rate</dt>
            <dd data-testid="shadow-rate">
              {percent(shadow.rate, 0)} <span class="muted">of eligible requests, arm: {shadow.arm}</span>
            </dd>
            <dt>Calls</dt>
            <dd>
              {count(shadow.calls)} <span class="muted">({count(shadow.completed)} done, {count(shadow.failed)} failed, {count(shadow.inFlight)} running, {count(shadow.skipped.total)} skipped)</span>
            </dd>
            <dt>Spend</dt>
            <dd>
              {usd(shadow.spendUsd)} <span class="muted">({usd(shadow.spendLastMinuteUsd)} in the last minute, budget {usd(shadow.budgetUsdPerMinute)}/min)</span>
            </dd>
            <dt>Comparisons</dt>
            <dd>{count(shadow.comparisons)}</dd>
          </dl>
          {shadow.arms.length > 0 && (
            <table class="table table-compact">
              <thead>
                <tr>
                  <th>shadow arm</th>
                  <th class="num">calls</th>
                  <th class="num">spend</th>
                  <th class="num">shadow / primary / tie</th>
                </tr>
              </thead>
              <tbody>
                {[...shadow.arms].sort((a, b) => props.armIds.indexOf(a.arm) - props.armIds.indexOf(b.arm)).map((a) => (
                  <tr key={a.arm}>
                    <td>
                      <Swatch colour={armColour(props.armIds, a.arm)} />
                      {a.arm}
                    </td>
                    <td class="num">{count(a.calls)}</td>
                    <td class="num">{usd(a.spendUsd)}</td>
                    <td class="num">
                      {a.shadowPreferred} / {a.primaryPreferred} / {a.ties}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : (
        <p class="muted">Loading…</p>
      )}
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <input type="number" min="0" max="1" step="0.05" placeholder="rate, 0–1" aria-label="Shadow rate" value={rate} onInput={(event) => setRate(event.currentTarget.value)} />
        <button type="submit" class="button button-small button-secondary">
          Set shadow rate
        </button>
      </form>
      <NoticeLine notice={notice} testId="shadow-admin-notice" />
    </Card>
  );
}

function RecommendationsCard(props: { recommendations: Snapshot['recommendations']; models: Overview['models'] }) {
  const kinds: Record<string, string> = {
    DISABLE_ARM: 'disable arm',
    MODEL_DEGRADED: 'model degraded',
    CHEAPER_ARM_AS_GOOD: 'cheaper arm as good',
  };
  return (
    <Card title="Analyzer recommendations" label="Recommendations">
      {props.recommendations.length === 0 ? (
        <p class="muted" data-testid="no-recommendations">
          None now. The analyzer recommends once arms have enough pulls to judge (disable an arm that is almost never best, a
          cheaper arm as good as the best, a model degrading).
        </p>
      ) : (
        <ul class="recommendations" data-testid="recommendations">
          {props.recommendations.map((r, i) => (
            <li key={i}>
              <span class={`badge badge-kind-${r.kind.toLowerCase()}`}>{kinds[r.kind] ?? r.kind}</span> <strong>{r.subject}</strong>
              <span class="muted"> in {contextName(r.context)}</span>
              <p>{r.message}</p>
            </li>
          ))}
        </ul>
      )}
      <h3 class="subhead">Models</h3>
      <ul class="models">
        {props.models.map((m) => (
          <li key={m.id}>
            <span class={`dot dot-${m.status.toLowerCase()}`} aria-hidden="true" /> {m.id} <span class="muted">{m.provider}, {m.status.toLowerCase().replace('_', '-')}</span>
          </li>
        ))}
      </ul>
    </Card>
  );
}
