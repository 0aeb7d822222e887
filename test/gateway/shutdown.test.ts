import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway, testConfigInput } from '../helpers/gateway.js';

describe('graceful stop', () => {
  it('cuts a WebSocket client that ignores the close frame once shutdownTimeoutMs has passed', async () => {
    const gateway = await startGateway({ config: testConfigInput({ server: { shutdownTimeoutMs: 300 } }) });
    const { port, pathname } = new URL(gateway.url);
    // A raw client: completes the upgrade, then never answers anything.
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(
          `GET ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
            'Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n',
        );
      });
      socket.once('data', (data) => (String(data).startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(String(data)))));
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const started = performance.now();
    await gateway.close();
    await closed;
    // ws's own close timeout is 30 s; the configured 300 ms must win (generous margin for load).
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
