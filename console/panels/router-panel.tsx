import { useMemo, useState } from 'preact/hooks';
import { ConsoleSetArmEnabledDocument } from '../generated/graphql.js';
import type { AppState } from '../lib/app-state.js';
import { TimeChart, type ChartSeries } from '../lib/chart.js';
import type { Sample, Snapshot } from '../lib/feed.js';
import { armColour, contextName, count, DASH, percent, share } from '../lib/format.js';
import { useStore } from '../lib/store.js';
import { Card, IntervalBar, NoticeLine, ShareBar, Stat, Swatch, type Notice } from '../lib/widgets.js';

/** What the router believes, per context: each arm's posterior, chance of being best, and traffic. */

type Bandit = NonNullable<Snapshot['arms'][number]['bandit']>;

interface ArmRow {
  readonly arm: string;
  readonly model: string;
  readonly bandit: Bandit | null;
}

/** Traffic share is the share of pulls over this trailing window. */
const SHARE_WINDOW_S = 30;

function armsIn(snapshot: Snapshot, context: string): ArmRow[] | null {
  if (context === '*') return snapshot.arms.map((a) => ({ arm: a.arm, model: a.model, bandit: a.bandit ?? null }));
  const found = snapshot.contexts.find((c) => c.context === context);
  return found ? found.arms.map((a) => ({ arm: a.arm, model: a.model, bandit: a.bandit ?? null })) : null;
}

function pullsOf(sample: Sample, context: string, arm: string): number | null {
  return armsIn(sample.snapshot, context)?.find((a) => a.arm === arm)?.bandit?.pulls ?? null;
}

/** Per arm, its share of the context's pulls over the trailing window ending at each sample. */
function trafficShares(history: readonly Sample[], context: string, armIds: readonly string[]): Array<Array<number | null>> {
  const shares = armIds.map(() => [] as Array<number | null>);
  let start = 0;
  history.forEach((sample, i) => {
    while (start < i && history[start + 1]!.t <= sample.t - SHARE_WINDOW_S) start++;
    const deltas = armIds.map((arm) => {
      // A context or arm not in a snapshot yet had no pulls then.
      const now = pullsOf(sample, context, arm) ?? 0;
      const then = pullsOf(history[start]!, context, arm) ?? 0;
      return Math.max(0, now - then);
    });
    const total = deltas.reduce((a, b) => a + b, 0);
    deltas.forEach((delta, a) => shares[a]!.push(total > 0 ? delta / total : null));
  });
  return shares;
}

export function RouterPanel(props: { app: AppState }) {
  const { app } = props;
  const feed = useStore(app.feed.state);
  const overview = useStore(app.feed.overview);
  const context = useStore(app.routerContext);
  const [notice, setNotice] = useState<Notice | null>(null);
  const armIds = app.armIds();
  const latest = feed.latest;
  const rows = latest ? armsIn(latest, context) : null;
  const enabledOf = new Map(overview?.armsInContext.map((a) => [a.arm.id, a.arm.enabled]) ?? []);

  const contexts = useMemo(() => {
    const listed = (latest?.contexts ?? [])
      .map((c) => ({ name: c.context, pulls: c.arms.reduce((sum, a) => sum + (a.bandit?.pulls ?? 0), 0) }))
      .sort((a, b) => b.pulls - a.pulls);
    const all = { name: '*', pulls: latest?.arms.reduce((sum, a) => sum + (a.bandit?.pulls ?? 0), 0) ?? 0 };
    const names = [all, ...listed];
    if (!names.some((c) => c.name === context)) names.push({ name: context, pulls: 0 });
    return names;
  }, [latest, context]);

  const times = useMemo(() => feed.history.map((s) => s.t), [feed.history]);
  const meanSeries = useMemo<ChartSeries[]>(
    () =>
      armIds.map((arm) => ({
        label: arm,
        colour: armColour(armIds, arm),
        values: feed.history.map((s) => armsIn(s.snapshot, context)?.find((a) => a.arm === arm)?.bandit?.posteriorMean ?? null),
      })),
    [feed.history, context, armIds.join()],
  );
  const shareValues = useMemo(() => trafficShares(feed.history, context, armIds), [feed.history, context, armIds.join()]);
  const shareSeries = useMemo<ChartSeries[]>(
    () => armIds.map((arm, i) => ({ label: arm, colour: armColour(armIds, arm), values: shareValues[i]! })),
    [shareValues],
  );
  const currentShare = (arm: string) => shareValues[armIds.indexOf(arm)]?.at(-1) ?? null;

  const contextReport = latest?.contexts.find((c) => c.context === context);
  const ordered = rows ? [...rows].sort((a, b) => armIds.indexOf(a.arm) - armIds.indexOf(b.arm)) : null;
  const totalPulls = ordered?.reduce((sum, row) => sum + (row.bandit?.pulls ?? 0), 0) ?? 0;
  const best =
    totalPulls === 0
      ? null
      : ordered?.reduce<ArmRow | null>((top, row) => (row.bandit && (!top?.bandit || row.bandit.posteriorMean > top.bandit.posteriorMean) ? row : top), null);

  const toggle = async (arm: string, enabled: boolean) => {
    setNotice(
      await app.admin(
        () => app.connection.request(ConsoleSetArmEnabledDocument, { id: arm, enabled }),
        (result) => `${result.setArmEnabled.id} is now ${result.setArmEnabled.enabled ? 'enabled: the router may pick it again' : 'disabled: the router will not pick it'}.`,
      ),
    );
  };

  return (
    <div class="router-grid">
      <div class="router-head">
        <label class="context-picker">
          <span class="option-label">Context</span>
          <select aria-label="Context" value={context} onChange={(event) => app.routerContext.set(event.currentTarget.value)}>
            {contexts.map((c) => (
              <option key={c.name} value={c.name}>
                {contextName(c.name)} ({count(c.pulls)} pulls)
              </option>
            ))}
          </select>
        </label>
        <div class="stats-row">
          <Stat label="Pulls in context" value={count(totalPulls)} />
          <Stat label="Best arm now" value={best?.bandit ? best.arm : DASH} hint={best?.bandit ? `posterior mean ${share(best.bandit.posteriorMean)}` : undefined} />
          <Stat label="Regret (estimate)" value={contextReport ? share(contextReport.regret, 2) : context === '*' && latest ? share(latest.regret, 2) : DASH} hint="pulls × gap to the best mean" />
          <Stat label="Updated" value={latest ? new Date(latest.generatedAt).toLocaleTimeString('en-GB') : DASH} hint="live from the metrics subscription" />
        </div>
      </div>

      <Card title={`Arms in ${contextName(context)}`} label="Arms" class="span-all">
        {!ordered ? (
          <p class="muted" data-testid="no-context-figures">
            No figures for {contextName(context)} yet: they appear with its first request (the busiest contexts only).
          </p>
        ) : (
          <table class="table arms-table" data-testid="arms-table">
            <thead>
              <tr>
                <th>arm</th>
                <th>model</th>
                <th class="num">pulls</th>
                <th class="bar-col">traffic (30 s)</th>
                <th class="num">posterior mean</th>
                <th class="interval-col">95% interval of quality</th>
                <th class="bar-col">P(best)</th>
                <th>routing</th>
              </tr>
            </thead>
            <tbody>
              {ordered.map((row) => {
                const colour = armColour(armIds, row.arm);
                const enabled = enabledOf.get(row.arm) ?? true;
                return (
                  <tr key={row.arm} data-testid={`arm-row-${row.arm}`} class={enabled ? '' : 'row-disabled'}>
                    <td>
                      <Swatch colour={colour} />
                      <strong>{row.arm}</strong>
                    </td>
                    <td class="muted">{row.model}</td>
                    <td class="num" data-testid={`pulls-${row.arm}`}>{count(row.bandit?.pulls)}</td>
                    <td>
                      <ShareBar value={currentShare(row.arm)} colour={colour} label={`traffic share of ${row.arm}`} />
                    </td>
                    <td class="num" data-testid={`posterior-mean-${row.arm}`}>{share(row.bandit?.posteriorMean)}</td>
                    <td class="interval-col">
                      {row.bandit ? (
                        <div class="interval-cell">
                          <IntervalBar
                            mean={row.bandit.posteriorMean}
                            lower={row.bandit.lower95}
                            upper={row.bandit.upper95}
                            colour={colour}
                            label={`posterior of ${row.arm}: mean ${share(row.bandit.posteriorMean)}, 95% interval ${share(row.bandit.lower95, 2)} to ${share(row.bandit.upper95, 2)}`}
                          />
                          <span class="interval-text">
                            {share(row.bandit.lower95, 2)}–{share(row.bandit.upper95, 2)}
                          </span>
                        </div>
                      ) : (
                        DASH
                      )}
                    </td>
                    <td>
                      <ShareBar value={row.bandit?.probabilityBest ?? null} colour={colour} label={`probability ${row.arm} is best`} testId={`p-best-${row.arm}`} />
                    </td>
                    <td>
                      <span class={`badge ${enabled ? 'badge-done' : 'badge-stopped'}`} data-testid={`enabled-${row.arm}`}>
                        {enabled ? 'enabled' : 'disabled'}
                      </span>{' '}
                      <button type="button" class="button button-small button-secondary" onClick={() => toggle(row.arm, !enabled)} aria-label={`${enabled ? 'Disable' : 'Enable'} ${row.arm}`}>
                        {enabled ? 'Disable' : 'Enable'}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <NoticeLine notice={notice} testId="arm-admin-notice" />
        <p class="footnote">
          The posterior is the router’s belief about each arm’s answer quality here (Beta, learnt from feedback). Enabling and
          disabling arms needs a key with the admin scope when the gateway has keys.
        </p>
      </Card>

      <Card title="Posterior mean over time" label="Posterior mean chart">
        <TimeChart title="" times={times} series={meanSeries} formatValue={(v) => v.toFixed(2)} range={[0, 1]} testId="chart-posterior" />
      </Card>
      <Card title={`Traffic share over time (pulls, last ${SHARE_WINDOW_S} s)`} label="Traffic share chart">
        <TimeChart title="" times={times} series={shareSeries} formatValue={(v) => percent(v, 0)} range={[0, 1]} testId="chart-traffic" />
      </Card>
    </div>
  );
}
