/** The start-up RSS bench's baseline: a bare graphql-yoga + graphql-ws server on Switchyard's schema. */
import { startBareServer } from '../bare-server.js';

const bare = await startBareServer(async function* () {});
console.log(`bare server listening on ${bare.wsUrl}`);
