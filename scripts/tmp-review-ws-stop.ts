import { connect } from 'node:net';
import { buildApp } from '/work/main/src/app.js';
import { parseConfig } from '/work/main/src/config/load-config.js';
import { createLogger } from '/work/main/src/logger.js';

const config = parseConfig({ logLevel: 'silent', server: { shutdownTimeoutMs: 500 },
  models: [{ id: 'm', provider: 'simulated' }], arms: [{ id: 'a', model: 'm' }] });
const app = buildApp({ config, logger: createLogger('silent'), env: {} });
const { port } = await app.start(0, '127.0.0.1');
const socket = connect(port, '127.0.0.1');
await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
socket.write(['GET /graphql HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: graphql-transport-ws', '', ''].join('\r\n'));
await new Promise<void>((resolve) => socket.once('data', (d) => { console.log(String(d).split('\r\n')[0]); resolve(); }));
socket.on('data', () => undefined); // read but never answer the close frame
socket.on('error', () => undefined);
const t = performance.now();
await app.stop();
console.log(`app.stop() took ${(performance.now() - t).toFixed(0)} ms with shutdownTimeoutMs=500`);
socket.destroy();
