import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { createAppState, TABS, type AppState } from './lib/app-state.js';
import { clock } from './lib/format.js';
import { useStore } from './lib/store.js';
import { ChatPanel } from './panels/chat-panel.js';
import { OperationsPanel } from './panels/operations-panel.js';
import { RouterPanel } from './panels/router-panel.js';

/** The Switchyard web console: chat, what the router learns, and how the gateway runs. */

function App(props: { app: AppState }) {
  const { app } = props;
  const tab = useStore(app.tab);
  const connection = useStore(app.connection.state);
  return (
    <>
      <Header app={app} />
      <ConnectionBanner app={app} />
      <main class={connection.status === 'down' ? 'stale' : ''}>
        {/* Panels stay mounted, so an answer or a chart survives a change of tab. */}
        <div hidden={tab !== 'chat'}>
          <ChatPanel app={app} />
        </div>
        <div hidden={tab !== 'router'}>
          <RouterPanel app={app} />
        </div>
        <div hidden={tab !== 'operations'}>
          <OperationsPanel app={app} />
        </div>
      </main>
    </>
  );
}

function Header(props: { app: AppState }) {
  const { app } = props;
  const tab = useStore(app.tab);
  const connection = useStore(app.connection.state);
  const apiKey = useStore(app.connection.apiKey);
  const [draft, setDraft] = useState('');
  const statusText = { connected: 'Connected', connecting: 'Connecting…', down: 'Gateway unreachable', refused: 'Key required' }[connection.status];
  return (
    <header class="top">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true">⇄</span> Switchyard
      </div>
      <nav class="tabs" role="tablist" aria-label="Panels">
        {TABS.map((t) => (
          <a
            key={t.id}
            href={`#${t.id}`}
            role="tab"
            aria-selected={tab === t.id}
            class={tab === t.id ? 'tab active' : 'tab'}
            onClick={(event) => {
              event.preventDefault();
              app.tab.set(t.id);
            }}
          >
            {t.label}
          </a>
        ))}
      </nav>
      <div class="top-right">
        <span class={`pill pill-${connection.status}`} data-testid="connection-status" role="status">
          <span class="dot" aria-hidden="true" />
          {statusText}
        </span>
        {apiKey ? (
          <span class="api-key-set">
            API key in use
            <button type="button" class="link-button" onClick={() => app.connection.setApiKey(null)}>
              Forget
            </button>
          </span>
        ) : (
          <form
            class="api-key"
            onSubmit={(event) => {
              event.preventDefault();
              if (draft.trim()) app.connection.setApiKey(draft.trim());
              setDraft('');
            }}
          >
            <input
              type="password"
              placeholder="API key"
              aria-label="API key"
              autocomplete="off"
              value={draft}
              onInput={(event) => setDraft(event.currentTarget.value)}
            />
            <button type="submit" class="button button-small">
              Use
            </button>
          </form>
        )}
      </div>
    </header>
  );
}

function ConnectionBanner(props: { app: AppState }) {
  const state = useStore(props.app.connection.state);
  const apiKey = useStore(props.app.connection.apiKey);
  const feed = useStore(props.app.feed.state);
  const [, setNow] = useState(Date.now());
  useEffect(() => {
    if (state.status !== 'down') return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [state.status]);
  if (state.status === 'refused') {
    // The gateway answers, but not without a key it knows: reconnecting alone changes nothing.
    return (
      <div class="banner banner-down" role="alert" data-testid="connection-banner">
        {apiKey ? (
          <>
            <strong>The gateway does not accept this key.</strong> Forget it and type a client key of this gateway in the key field above.
          </>
        ) : (
          <>
            <strong>The gateway needs a client key.</strong> Type yours (with the scopes you need: read, chat, feedback, admin) in the key field above.
          </>
        )}
      </div>
    );
  }
  if (state.status === 'down') {
    const downFor = Math.max(0, Math.round((Date.now() - state.since) / 1000));
    return (
      <div class="banner banner-down" role="alert" data-testid="connection-banner">
        <strong>The gateway is not reachable</strong> (since {clock(state.since)}, {downFor} s). Reconnecting by itself
        {state.retries > 0 ? ` (attempt ${state.retries + 1})` : ''}… What is on screen stays; figures resume when it is back.
      </div>
    );
  }
  if (feed.restartedAt !== null && Date.now() - feed.restartedAt < 60_000) {
    return (
      <div class="banner banner-info" role="status" data-testid="restart-banner">
        The gateway restarted at {clock(feed.restartedAt)}: its counters and charts start again from then.
      </div>
    );
  }
  return null;
}

render(<App app={createAppState()} />, document.getElementById('app')!);
