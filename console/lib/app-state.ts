import { createConnection, OperationError, type Connection } from './connection.js';
import { createFeed, type Feed } from './feed.js';
import { createStore, type Store } from './store.js';
import type { Notice } from './widgets.js';

/** The console's state that outlives any one panel, made once at start-up. */

export type Tab = 'chat' | 'router' | 'operations';
export const TABS: ReadonlyArray<{ id: Tab; label: string }> = [
  { id: 'chat', label: 'Chat' },
  { id: 'router', label: 'Router' },
  { id: 'operations', label: 'Operations' },
];

export interface AppState {
  readonly connection: Connection;
  readonly feed: Feed;
  readonly tab: Store<Tab>;
  /** The context the router panel shows ("*": all requests). */
  readonly routerContext: Store<string>;
  /** Arm ids in configuration order: the order of colours, rows and lines everywhere. */
  armIds(): string[];
  /** Runs an admin mutation and says what happened, in words an operator can act on. */
  admin<T>(action: () => Promise<T>, describe: (result: T) => string): Promise<Notice>;
}

const SESSION_KEY = 'switchyard.session';
const API_KEY = 'switchyard.apiKey';

export function createAppState(): AppState {
  const graphqlPath = document.querySelector<HTMLMetaElement>('meta[name="switchyard-graphql-path"]')?.content || '/graphql';
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${graphqlPath}`;
  const connection = createConnection({ url, session: sessionId(), apiKey: sessionStorage.getItem(API_KEY) });
  connection.apiKey.subscribe(() => {
    const key = connection.apiKey.get();
    if (key) sessionStorage.setItem(API_KEY, key);
    else sessionStorage.removeItem(API_KEY);
  });
  const feed = createFeed(connection);
  const tab = createStore<Tab>(tabFromHash());
  window.addEventListener('hashchange', () => tab.set(tabFromHash()));
  tab.subscribe(() => {
    if (location.hash !== `#${tab.get()}`) history.replaceState(null, '', `#${tab.get()}`);
  });

  return {
    connection,
    feed,
    tab,
    routerContext: createStore('*'),
    armIds() {
      const fromOverview = feed.overview.get()?.armsInContext.map((a) => a.arm.id);
      return fromOverview ?? feed.state.get().latest?.arms.map((a) => a.arm) ?? [];
    },
    async admin(action, describe) {
      try {
        const result = await action();
        void feed.refreshOverview();
        return { tone: 'ok', text: describe(result) };
      } catch (error) {
        const failure = error instanceof OperationError ? error : new OperationError('ERROR', String(error));
        const hint =
          failure.code === 'FORBIDDEN'
            ? connection.apiKey.get()
              ? 'The key in use has no admin scope here (a client key without it, or not the gateway’s admin key).'
              : 'Enter a key with the admin scope at the top right.'
            : '';
        return { tone: 'error', text: `Refused (${failure.code}): ${failure.message}${hint ? ` ${hint}` : ''}` };
      }
    },
  };
}

function tabFromHash(): Tab {
  const wanted = location.hash.slice(1);
  return TABS.some((t) => t.id === wanted) ? (wanted as Tab) : 'chat';
}

/** Per browser tab: the gateway lists this session's requests as the user's own. */
function sessionId(): string {
  let id = sessionStorage.getItem(SESSION_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem(SESSION_KEY, id);
  }
  return id;
}
