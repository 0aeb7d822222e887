import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ConsoleArmsInContextDocument,
  ConsoleChatDocument,
  ConsoleFeedbackDocument,
  ConsoleRecentRequestsDocument,
  type ChatInput,
  type ConsoleArmInContextFragment,
  type ConsoleChatSubscription,
  type ConsoleFeedbackMutation,
  type ConsoleRecentRequestsQuery,
  type FeedbackInput,
  type ObjectiveInput,
} from '../generated/graphql.js';
import type { AppState } from '../lib/app-state.js';
import { armColour, clock, contextName, count, DASH, milliseconds, percent, share, usd } from '../lib/format.js';
import { createStore, useStore } from '../lib/store.js';
import { Card, posteriorText, Swatch } from '../lib/widgets.js';

/** Ask, watch the answer stream in with its route, then say how good it was and see what the router learned. */

type ChatEvent = ConsoleChatSubscription['chat'];
type Route = Extract<ChatEvent, { __typename: 'ChatRoute' }>;
type Done = Extract<ChatEvent, { __typename: 'ChatDone' }>;
type ArmFigures = ConsoleArmInContextFragment;

interface FeedbackState {
  readonly status: 'sending' | 'sent' | 'failed';
  /** What the user said, in words ("thumbs up", "4 of 5"). */
  readonly said: string;
  readonly before: ArmFigures | null;
  readonly result: ConsoleFeedbackMutation['submitFeedback'] | null;
  readonly error: string | null;
}

interface Run {
  readonly status: 'streaming' | 'done' | 'failed' | 'stopped';
  readonly prompt: string;
  readonly route: Route | null;
  readonly text: string;
  readonly chunks: number;
  readonly done: Done | null;
  readonly error: { code: string; message: string } | null;
  readonly feedback: FeedbackState | null;
}

type OptionValue = string | boolean;

/**
 * The chat's optional inputs, each mapped onto ChatInput. A new input is one more entry here: its
 * control, its default and how it fills the request.
 */
interface ChatOption {
  readonly key: string;
  readonly label: string;
  readonly hint: string;
  readonly initial: OptionValue;
  readonly control:
    | { readonly kind: 'text'; readonly placeholder: string }
    | { readonly kind: 'number'; readonly placeholder: string }
    | { readonly kind: 'select'; readonly choices: (app: AppState) => ReadonlyArray<{ value: string; label: string }> }
    | { readonly kind: 'checkbox' };
  readonly apply: (input: ChatInput, value: OptionValue) => ChatInput;
}

/**
 * One field of ChatInput.objective; blank leaves it to the configured trade-off. The gateway checks
 * the ranges (INVALID_OBJECTIVE shows as the answer's error), so the console does not repeat them.
 */
const objectiveOption = (field: keyof ObjectiveInput, label: string, hint: string, placeholder: string): ChatOption => ({
  key: `objective.${field}`,
  label,
  hint,
  initial: '',
  control: { kind: 'number', placeholder },
  apply: (input, value) => {
    const text = String(value).trim();
    return text === '' ? input : { ...input, objective: { ...input.objective, [field]: Number(text) } };
  },
});

const CHAT_OPTIONS: readonly ChatOption[] = [
  {
    key: 'tags',
    label: 'Tags',
    hint: 'Name the context the request is routed and learnt in, general to specific.',
    initial: '',
    control: { kind: 'text', placeholder: 'e.g. code, python' },
    apply: (input, value) => {
      const tags = String(value)
        .split(',')
        .map((tag) => tag.trim())
        .filter(Boolean);
      return tags.length > 0 ? { ...input, tags } : input;
    },
  },
  {
    key: 'arm',
    label: 'Arm',
    hint: 'Pin an arm to bypass the router.',
    initial: '',
    control: {
      kind: 'select',
      choices: (app) => [
        { value: '', label: 'Let the router choose' },
        ...(app.feed.overview.get()?.armsInContext ?? []).map(({ arm }) => ({
          value: arm.id,
          label: `${arm.id} (${arm.model})${arm.enabled ? '' : ' — disabled'}`,
        })),
      ],
    },
    apply: (input, value) => (value ? { ...input, arm: String(value) } : input),
  },
  {
    key: 'cache',
    label: 'Use the cache',
    hint: 'A cached answer costs nothing, and teaches the router nothing.',
    initial: true,
    control: { kind: 'checkbox' },
    apply: (input, value) => ({ ...input, cache: value === true }),
  },
  objectiveOption('costWeight', 'Cost weight', 'Quality this request gives up to avoid one reference cost (0–1000); blank: the configured reward.cost.', 'reward.cost'),
  objectiveOption('latencyWeight', 'Latency weight', 'Quality this request gives up to avoid one reference latency (0–1000); blank: the configured reward.latency.', 'reward.latency'),
  objectiveOption('maxCostUsd', 'Max cost (USD)', 'Route only to arms whose expected cost in this context is at most this; when none is, the cheapest serves.', 'no ceiling'),
];

const run = createStore<Run | null>(null);
const recent = createStore<ConsoleRecentRequestsQuery['recentRequests']>([]);

export function ChatPanel(props: { app: AppState }) {
  const { app } = props;
  const current = useStore(run);
  const connection = useStore(app.connection.state);
  useStore(app.feed.overview);
  const [prompt, setPrompt] = useState('');
  const [options, setOptions] = useState<Record<string, OptionValue>>(() =>
    Object.fromEntries(CHAT_OPTIONS.map((option) => [option.key, option.initial])),
  );
  const stop = useRef<(() => void) | null>(null);

  const refreshRecent = () =>
    app.connection
      .request(ConsoleRecentRequestsDocument, { limit: 8 })
      .then((data) => recent.set(data.recentRequests))
      .catch(() => undefined);
  useEffect(() => {
    if (connection.status === 'connected') void refreshRecent();
  }, [connection.status]);

  const send = () => {
    const text = prompt.trim();
    if (!text || current?.status === 'streaming') return;
    const input = CHAT_OPTIONS.reduce<ChatInput>((built, option) => option.apply(built, options[option.key]!), {
      messages: [{ role: 'USER', content: text }],
    });
    run.set({ status: 'streaming', prompt: text, route: null, text: '', chunks: 0, done: null, error: null, feedback: null });
    const update = (change: (previous: Run) => Run) => run.set((previous) => (previous ? change(previous) : previous));
    stop.current = app.connection.subscribe(
      ConsoleChatDocument,
      { input },
      {
        next: ({ chat }) => {
          switch (chat.__typename) {
            case 'ChatRoute':
              return update((r) => ({ ...r, route: chat }));
            case 'ChatChunk':
              return update((r) => ({ ...r, text: r.text + chat.text, chunks: r.chunks + 1 }));
            case 'ChatDone':
              return update((r) => ({ ...r, status: 'done', done: chat }));
            case 'ChatError':
              return update((r) => ({ ...r, status: 'failed', error: { code: chat.code, message: chat.message } }));
          }
        },
        error: (error) => update((r) => ({ ...r, status: 'failed', error: { code: error.code, message: error.message } })),
        complete: () => {
          stop.current = null;
          void refreshRecent();
        },
      },
      { once: true },
    );
  };

  const cancel = () => {
    stop.current?.();
    stop.current = null;
    run.set((r) => (r && r.status === 'streaming' ? { ...r, status: 'stopped' } : r));
  };

  const giveFeedback = async (said: string, judgement: Omit<FeedbackInput, 'requestId' | 'feedbackToken'>) => {
    const route = run.get()?.route;
    if (!route) return;
    run.set((r) => r && { ...r, feedback: { status: 'sending', said, before: null, result: null, error: null } });
    const before = await app.connection
      .request(ConsoleArmsInContextDocument, { context: route.context })
      .then((data) => data.armsInContext.find((a) => a.arm.id === route.arm) ?? null)
      .catch(() => null);
    try {
      const data = await app.connection.request(ConsoleFeedbackDocument, {
        // The token proves this tab made the request (the console runs without a client key).
        input: { requestId: route.requestId, feedbackToken: route.feedbackToken, ...judgement },
      });
      run.set((r) => r && { ...r, feedback: { status: 'sent', said, before, result: data.submitFeedback, error: null } });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      run.set((r) => r && { ...r, feedback: { status: 'failed', said, before, result: null, error: message } });
    }
    void refreshRecent();
  };

  return (
    <div class="chat-layout">
      <div class="chat-main">
        <Card title="Ask" label="Ask">
          <form
            class="chat-form"
            onSubmit={(event) => {
              event.preventDefault();
              send();
            }}
          >
            <textarea
              aria-label="Prompt"
              placeholder="Ask anything, e.g. “Explain Thompson sampling in two sentences.”  (Ctrl+Enter sends)"
              rows={4}
              value={prompt}
              onInput={(event) => setPrompt(event.currentTarget.value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
                  event.preventDefault();
                  send();
                }
              }}
            />
            <div class="chat-options">
              {CHAT_OPTIONS.map((option) => (
                <ChatOptionControl
                  key={option.key}
                  app={app}
                  option={option}
                  value={options[option.key]!}
                  onChange={(value) => setOptions((previous) => ({ ...previous, [option.key]: value }))}
                />
              ))}
              <div class="chat-buttons">
                {current?.status === 'streaming' ? (
                  <button type="button" class="button button-secondary" onClick={cancel}>
                    Stop
                  </button>
                ) : (
                  <button type="submit" class="button" disabled={!prompt.trim()}>
                    Send
                  </button>
                )}
              </div>
            </div>
          </form>
        </Card>
        <Answer run={current} />
        <RecentCard app={app} />
      </div>
      <div class="chat-side">
        <RouteCard app={app} run={current} />
        <FeedbackCard app={app} run={current} onFeedback={giveFeedback} />
      </div>
    </div>
  );
}

function ChatOptionControl(props: { app: AppState; option: ChatOption; value: OptionValue; onChange: (value: OptionValue) => void }) {
  const { option, value, onChange } = props;
  const control = option.control;
  if (control.kind === 'checkbox') {
    return (
      <label class="option option-checkbox" title={option.hint}>
        <input type="checkbox" checked={value === true} onChange={(event) => onChange(event.currentTarget.checked)} />
        {option.label}
      </label>
    );
  }
  return (
    <label class="option" title={option.hint}>
      <span class="option-label">{option.label}</span>
      {control.kind === 'text' ? (
        <input type="text" placeholder={control.placeholder} value={String(value)} onInput={(event) => onChange(event.currentTarget.value)} />
      ) : control.kind === 'number' ? (
        <input
          type="number"
          min="0"
          step="any"
          placeholder={control.placeholder}
          value={String(value)}
          onInput={(event) => onChange(event.currentTarget.value)}
        />
      ) : (
        <select value={String(value)} onChange={(event) => onChange(event.currentTarget.value)}>
          {control.choices(props.app).map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </select>
      )}
    </label>
  );
}

function Answer(props: { run: Run | null }) {
  const { run: current } = props;
  const statusText = current
    ? {
        streaming: `Streaming… ${current.chunks} chunk${current.chunks === 1 ? '' : 's'}`,
        done: `Done: ${current.done?.finishReason ?? ''}, ${current.chunks} chunks`,
        failed: `Failed: ${current.error?.code ?? ''}`,
        stopped: 'Stopped',
      }[current.status]
    : '';
  return (
    <Card
      title="Answer"
      label="Answer"
      actions={current && <span class={`badge badge-${current.status}`} data-testid="answer-status">{statusText}</span>}
    >
      {current ? (
        <>
          <p class="asked">{current.prompt}</p>
          <div class={`answer${current.status === 'streaming' ? ' answer-streaming' : ''}`} data-testid="answer" aria-live="polite">
            {current.text}
          </div>
          {current.error && (
            <p class="notice notice-error" role="alert" data-testid="answer-error">
              {current.error.code}: {current.error.message}
              {current.error.code === 'CONNECTION_LOST' ? ' Send it again once the gateway is back.' : ''}
            </p>
          )}
        </>
      ) : (
        <p class="muted">The answer streams in here, chunk by chunk, as the model writes it.</p>
      )}
    </Card>
  );
}

function RouteCard(props: { app: AppState; run: Run | null }) {
  const route = props.run?.route;
  const done = props.run?.done;
  const colour = route ? armColour(props.app.armIds(), route.arm) : '#94a3b8';
  return (
    <Card title="Route and metrics" label="Route">
      {route ? (
        <>
          <p class="route-line" data-testid="route-arm">
            <Swatch colour={colour} />
            <strong>{route.arm}</strong> <span class="muted">{route.model}</span>
            <span class="badge route-badge">{route.cached ? 'from the cache' : `${route.attempts} attempt${route.attempts === 1 ? '' : 's'}`}</span>
          </p>
          <dl class="facts facts-pairs" data-testid="route">
            <dt>Context</dt>
            <dd data-testid="route-context">{contextName(route.context)}</dd>
            <dt>Confidence</dt>
            <dd title="Posterior probability that this arm is the best in this context">{percent(route.confidence)}</dd>
            <dt>Latency</dt>
            <dd data-testid="metric-latency">{done ? milliseconds(done.metrics.latencyMs) : DASH}</dd>
            <dt>First token</dt>
            <dd>{done ? milliseconds(done.metrics.ttftMs) : DASH}</dd>
            <dt>Tokens</dt>
            <dd title={done?.metrics.tokensEstimated ? 'counted with a tokenizer: the provider reported none' : 'as the provider reported'}>
              {done ? `${count(done.metrics.promptTokens)} → ${count(done.metrics.completionTokens)}${done.metrics.tokensEstimated ? ' (est.)' : ''}` : DASH}
            </dd>
            <dt>Cost</dt>
            <dd data-testid="metric-cost">{done ? usd(done.metrics.costUsd) : DASH}</dd>
            <dt>Reward</dt>
            <dd title="Utility on the router's scale before feedback: 1 minus the cost and latency penalty">
              {done ? (done.metrics.reward === null ? 'none (cached)' : share(done.metrics.reward)) : DASH}
            </dd>
            <dt>Cached</dt>
            <dd data-testid="route-cached">{route.cached ? 'yes' : 'no'}</dd>
          </dl>
          <p class="request-id">
            request <span class="mono" data-testid="route-request-id">{route.requestId}</span>
          </p>
        </>
      ) : (
        <p class="muted">Which arm serves the request, in which context, and how sure the router is.</p>
      )}
    </Card>
  );
}

function FeedbackCard(props: { app: AppState; run: Run | null; onFeedback: (said: string, judgement: Omit<FeedbackInput, 'requestId' | 'feedbackToken'>) => void }) {
  const { app, run: current, onFeedback } = props;
  const ready = current?.status === 'done' && current.route !== null;
  const sending = current?.feedback?.status === 'sending';
  const said = current?.feedback?.status === 'sent' ? current.feedback.said : null;
  return (
    <Card title="Feedback" label="Feedback">
      <div class="feedback-buttons">
        <button
          type="button"
          class={`button button-thumb${said === 'thumbs up' ? ' chosen' : ''}`}
          disabled={!ready || sending}
          aria-label="Thumbs up"
          title="Good answer (score 1)"
          onClick={() => onFeedback('thumbs up', { thumbs: 'UP' })}
        >
          <Thumb />
        </button>
        <button
          type="button"
          class={`button button-thumb${said === 'thumbs down' ? ' chosen' : ''}`}
          disabled={!ready || sending}
          aria-label="Thumbs down"
          title="Bad answer (score 0)"
          onClick={() => onFeedback('thumbs down', { thumbs: 'DOWN' })}
        >
          <Thumb down />
        </button>
        <span class="rating" role="group" aria-label="Rating">
          <span class="option-label">or rate</span>
          {[1, 2, 3, 4, 5].map((rating) => (
            <button
              key={rating}
              type="button"
              class={`button button-rating${said === `${rating} of 5` ? ' chosen' : ''}`}
              disabled={!ready || sending}
              aria-label={`Rate ${rating} of 5`}
              title={`Score ${(rating - 1) / 4}`}
              onClick={() => onFeedback(`${rating} of 5`, { rating })}
            >
              {rating}
            </button>
          ))}
        </span>
      </div>
      <Learned app={app} run={current} />
    </Card>
  );
}

/** A thumb drawn, not an emoji: the page must not depend on an emoji font being installed. */
function Thumb(props: { down?: boolean }) {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" class={props.down ? 'thumb thumb-down' : 'thumb'}>
      <path
        d="M2 10h4v11H2zM8 21h9.2a2 2 0 0 0 2-1.6l1.6-7.6A2 2 0 0 0 18.8 9.4H14l.9-4.3a1.6 1.6 0 0 0-.4-1.5L13.7 3 8 9.1z"
        fill="currentColor"
      />
    </svg>
  );
}

function Learned(props: { app: AppState; run: Run | null }) {
  const feedback = props.run?.feedback;
  const route = props.run?.route;
  if (!feedback || !route) {
    return <p class="muted">Say how good the answer was: the router learns from it, in this request’s context.</p>;
  }
  if (feedback.status === 'sending') return <p class="muted">Sending {feedback.said}…</p>;
  if (feedback.status === 'failed' || !feedback.result) {
    return (
      <p class="notice notice-error" role="alert" data-testid="learned">
        Feedback refused: {feedback.error}
      </p>
    );
  }
  const { result, before } = feedback;
  const after = result.armInContext;
  const show = () => {
    props.app.routerContext.set(result.context);
    props.app.tab.set('router');
  };
  return (
    <div class="learned" data-testid="learned" role="status">
      {result.learned ? (
        <>
          <p>
            <strong>Learned</strong> from your {feedback.said} (score {share(result.score, 2)}): <strong>{after.arm.id}</strong> in{' '}
            <strong>{contextName(result.context)}</strong>
          </p>
          <table class="before-after">
            <thead>
              <tr>
                <th />
                <th>before</th>
                <th>after</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th>posterior mean</th>
                <td>{before ? share(before.posterior.mean) : DASH}</td>
                <td data-testid="learned-mean">{share(after.posterior.mean)}</td>
              </tr>
              <tr>
                <th>95% interval</th>
                <td>{before ? `${share(before.posterior.lower95, 2)}–${share(before.posterior.upper95, 2)}` : DASH}</td>
                <td>{`${share(after.posterior.lower95, 2)}–${share(after.posterior.upper95, 2)}`}</td>
              </tr>
              <tr>
                <th>P(best)</th>
                <td>{before ? percent(before.probabilityBest, 0) : DASH}</td>
                <td>{percent(after.probabilityBest, 0)}</td>
              </tr>
            </tbody>
          </table>
        </>
      ) : (
        <p>
          <strong>Nothing learned</strong>: this answer came from the cache or from another request’s call, so your {feedback.said}{' '}
          says nothing new about {after.arm.id}. Untick “Use the cache” or change the prompt to teach the router.
        </p>
      )}
      {result.evicted && <p class="muted">Your low score removed this answer from the cache.</p>}
      <button type="button" class="link-button" onClick={show}>
        Watch {after.arm.id} in {contextName(result.context)} on the Router panel →
      </button>
      <p class="sr-only">{posteriorText(after.posterior.mean, after.posterior.lower95, after.posterior.upper95)}</p>
    </div>
  );
}

function RecentCard(props: { app: AppState }) {
  const requests = useStore(recent);
  const armIds = props.app.armIds();
  return (
    <Card title="Your recent requests" label="Recent requests">
      {requests.length === 0 ? (
        <p class="muted">Requests sent from this tab appear here.</p>
      ) : (
        <table class="table table-compact" data-testid="recent-requests">
          <thead>
            <tr>
              <th>time</th>
              <th>arm</th>
              <th>context</th>
              <th>status</th>
              <th class="num">latency</th>
              <th class="num">feedback</th>
            </tr>
          </thead>
          <tbody>
            {requests.map((request) => (
              <tr key={request.id} title={request.id}>
                <td>{clock(request.createdAt)}</td>
                <td>
                  {request.arm ? (
                    <>
                      <Swatch colour={armColour(armIds, request.arm)} />
                      {request.arm}
                    </>
                  ) : (
                    DASH
                  )}
                </td>
                <td>{request.context ? contextName(request.context) : DASH}</td>
                <td>
                  {request.status.toLowerCase()}
                  {request.cached ? ', cached' : ''}
                  {request.errorCode ? ` (${request.errorCode})` : ''}
                </td>
                <td class="num">{milliseconds(request.metrics?.latencyMs)}</td>
                <td class="num">{request.feedback ? share(request.feedback.score, 2) : DASH}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
