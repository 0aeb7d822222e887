/**
 * The upstream bench's fake OpenAI-format server in a process of its own, run under tsx, as a real
 * provider is: its pacing (a timer per token) then does not queue behind the readers' work in the
 * bench's process. The parent sends `{ script }` over IPC; the child answers with its URL and stops
 * on `stop`.
 */
import { startFakeOpenAI, type FakeOpenAIScript } from '../../test/fakes/openai-server.js';

process.once('message', async ({ script }: { script: FakeOpenAIScript }) => {
  const fake = await startFakeOpenAI({ script });
  process.on('message', async (message) => {
    if (message !== 'stop') return;
    await fake.close();
    process.exit(0);
  });
  process.send!({ url: fake.url });
});
